//! A structural check of MP4/M4A files before symphonia reads them: every box must fit inside its parent and
//! every sample table's entry count must fit inside its box. A damaged count would otherwise make the demuxer
//! reserve memory for billions of entries. Reads box headers only (no allocation by a stated size).

use anyhow::{bail, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Boxes whose payload is a sequence of boxes.
const CONTAINERS: [&[u8; 4]; 12] = [
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"mvex", b"moof", b"traf",
    b"udta", b"ilst",
];
/// The largest packet a sample table may state, bytes (AAC and ALAC packets are a few kilobytes).
const MAX_SAMPLE_BYTES: u64 = 16 << 20;
/// Nesting deeper than this is taken as damage.
const MAX_DEPTH: usize = 16;
/// Boxes visited at most.
const MAX_BOXES: usize = 100_000;

/// Checks the file at `path`; an error names what is wrong.
pub fn check(path: &Path) -> Result<()> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut visited = 0;
    walk(&mut file, 0, len, 0, &mut visited)
}

fn read_at(file: &mut File, at: u64, buf: &mut [u8]) -> Result<bool> {
    file.seek(SeekFrom::Start(at))?;
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..])? {
            0 => return Ok(false),
            n => got += n,
        }
    }
    Ok(true)
}

fn be32(b: &[u8]) -> u64 {
    u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn walk(file: &mut File, start: u64, end: u64, depth: usize, visited: &mut usize) -> Result<()> {
    walk_in(file, start, end, depth, visited, false)
}

fn walk_in(
    file: &mut File,
    start: u64,
    end: u64,
    depth: usize,
    visited: &mut usize,
    in_ilst: bool,
) -> Result<()> {
    if depth > MAX_DEPTH {
        bail!("damaged MP4 file: boxes nested too deeply");
    }
    let mut at = start;
    while at + 8 <= end {
        *visited += 1;
        if *visited > MAX_BOXES {
            bail!("damaged MP4 file: too many boxes");
        }
        let mut h = [0u8; 16];
        if !read_at(file, at, &mut h[..8])? {
            bail!("damaged MP4 file: it ends inside a box header (truncated)");
        }
        let kind = [h[4], h[5], h[6], h[7]];
        let (size, header) = match be32(&h) {
            0 if depth == 0 => (end - at, 8),
            1 => {
                if !read_at(file, at + 8, &mut h[8..16])? {
                    bail!("damaged MP4 file: it ends inside a box header (truncated)");
                }
                (
                    u64::from_be_bytes([h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]]),
                    16,
                )
            }
            n => (n, 8),
        };
        let name = String::from_utf8_lossy(&kind).into_owned();
        if size < header || at + size > end {
            bail!("damaged MP4 file: the '{name}' box does not fit in its container (truncated or corrupt)");
        }
        let payload = at + header;
        let payload_len = size - header;
        if CONTAINERS.contains(&&kind) || in_ilst {
            // Metadata items (children of ilst) hold boxes too.
            walk_in(
                file,
                payload,
                at + size,
                depth + 1,
                visited,
                &kind == b"ilst",
            )?;
        } else if &kind == b"meta" {
            // ISO meta is a full box (4 bytes of version and flags) before its children; QuickTime's is not.
            let mut v = [0u8; 8];
            if payload_len >= 8 && read_at(file, payload, &mut v)? {
                let skip = if &v[4..8] == b"hdlr" { 0 } else { 4 };
                walk(
                    file,
                    payload + skip.min(payload_len),
                    at + size,
                    depth + 1,
                    visited,
                )?;
            }
        } else {
            check_table(file, &kind, payload, payload_len)?;
        }
        at += size;
    }
    Ok(())
}

/// Checks that none of `count` 32-bit sample sizes at `at` is impossibly large.
fn sizes_fit(file: &mut File, at: u64, count: u64) -> Result<bool> {
    file.seek(SeekFrom::Start(at))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 14, &mut *file);
    let mut b = [0u8; 4];
    for _ in 0..count {
        reader.read_exact(&mut b)?;
        if be32(&b) > MAX_SAMPLE_BYTES {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Checks that a sample table's entry count fits its box.
fn check_table(file: &mut File, kind: &[u8; 4], payload: u64, len: u64) -> Result<()> {
    let mut b = [0u8; 16];
    let fixed = |count: u64, entry: u64, offset: u64| {
        count.saturating_mul(entry).saturating_add(offset) <= len
    };
    let ok = match kind {
        b"stco" | b"stss" | b"stts" | b"stsc" | b"ctts" | b"co64" | b"stsd" | b"elst" => {
            if len < 8 || !read_at(file, payload, &mut b[..8])? {
                false
            } else {
                let count = be32(&b[4..]);
                let entry = match kind {
                    b"stco" | b"stss" => 4,
                    b"stts" | b"ctts" | b"co64" | b"stsd" => 8,
                    b"stsc" => 12,
                    _ => {
                        if b[0] == 1 {
                            20
                        } else {
                            12
                        }
                    }
                };
                fixed(count, entry, 8)
            }
        }
        b"stsz" => {
            if len < 12 || !read_at(file, payload, &mut b[..12])? {
                false
            } else {
                let (size, count) = (be32(&b[4..]), be32(&b[8..]));
                if size != 0 {
                    size <= MAX_SAMPLE_BYTES
                } else {
                    fixed(count, 4, 12) && sizes_fit(file, payload + 12, count)?
                }
            }
        }
        b"trun" => {
            if len < 8 || !read_at(file, payload, &mut b[..8])? {
                false
            } else {
                let flags = be32(&b[0..]) & 0x00FF_FFFF;
                let count = be32(&b[4..]);
                let head = 8 + 4 * u64::from(flags & 1 != 0) + 4 * u64::from(flags & 4 != 0);
                let entry = [0x100, 0x200, 0x400, 0x800]
                    .iter()
                    .filter(|&&f| flags & f != 0)
                    .count() as u64
                    * 4;
                fixed(count, entry, head)
            }
        }
        _ => true,
    };
    if !ok {
        bail!(
            "damaged MP4 file: the '{}' table states more entries than it holds",
            String::from_utf8_lossy(kind)
        );
    }
    Ok(())
}
