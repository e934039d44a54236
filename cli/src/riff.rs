//! A streaming reader for the RIFF family of PCM files: WAV (including WAVE_FORMAT_EXTENSIBLE with any
//! valid-bits/container combination), RF64 (the `ds64` chunk's 64-bit sizes) and Sony Wave64, from a file or a
//! pipe. It reads sequentially and never allocates by a size the header states, so a damaged header costs
//! nothing but an error.

use crate::input::{Damage, InputInfo, InputKind, SampleKind, SampleSource};
use anyhow::{bail, Result};
use std::io::{self, Read};

/// Frames returned per chunk.
const CHUNK_FRAMES: usize = 8192;
/// Metadata chunks larger than this are not kept (they are skipped, not copied to the output).
const MAX_METADATA_BYTES: u64 = 4 << 20;
/// Chunks read before the `data` chunk at most (a damaged file could otherwise make the search long).
const MAX_CHUNKS: usize = 4096;

/// The Wave64 GUID suffix of the `wave`, `fmt ` and `data` chunk ids.
const W64_SUFFIX: [u8; 12] = [
    0xF3, 0xAC, 0xD3, 0x11, 0x8C, 0xD1, 0x00, 0xC0, 0x4F, 0x8E, 0xDB, 0x8A,
];
/// The Wave64 `riff` GUID.
pub const W64_RIFF: [u8; 16] = [
    b'r', b'i', b'f', b'f', 0x2E, 0x91, 0xCF, 0x11, 0xA5, 0xD6, 0x28, 0xDB, 0x04, 0xC1, 0x00, 0x00,
];
/// The GUID tail shared by the KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT sub-formats.
const SUBTYPE_SUFFIX: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

/// Which member of the family a stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavour {
    Riff,
    Rf64,
    W64,
}

impl Flavour {
    fn name(self) -> &'static str {
        match self {
            Flavour::Riff => "WAV",
            Flavour::Rf64 => "RF64",
            Flavour::W64 => "W64",
        }
    }
}

/// How one sample is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// Unsigned 8-bit.
    U8,
    /// Signed little-endian integer of this many bytes (2, 3 or 4), valid bits left-justified.
    Int(usize),
    /// IEEE float of this many bytes (4 or 8).
    Float(usize),
}

struct Format {
    channels: usize,
    sample_rate: u32,
    block_align: usize,
    encoding: Encoding,
    valid_bits: u32,
}

/// Reads the whole of `buf`, or as much as there is before the end of the stream; returns the bytes read.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn read_exact_or(r: &mut dyn Read, buf: &mut [u8], what: &str) -> Result<()> {
    let got = read_full(r, buf)?;
    if got < buf.len() {
        return Err(Damage::new(format!(
            "the file ends inside the {what} (truncated header)"
        ))
        .into());
    }
    Ok(())
}

/// Skips `n` bytes; returns false if the stream ended first.
fn skip(r: &mut dyn Read, n: u64) -> io::Result<bool> {
    let copied = io::copy(&mut r.take(n), &mut io::sink())?;
    Ok(copied == n)
}

fn u16le(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}
fn u32le(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}
fn u64le(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// Names a WAVE format tag that is not PCM or float.
fn codec_name(tag: u16) -> String {
    let name = match tag {
        0x0002 => "Microsoft ADPCM",
        0x0006 => "A-law",
        0x0007 => "µ-law",
        0x0011 => "IMA ADPCM",
        0x0031 => "GSM 6.10",
        0x0050 => "MPEG audio",
        0x0055 => "MP3",
        0x0092 | 0x2000 => "AC-3",
        0x0161..=0x0163 => "Windows Media Audio",
        0x2001 => "DTS",
        _ => return format!("format tag 0x{tag:04X}"),
    };
    format!("{name} (format tag 0x{tag:04X})")
}

fn parse_fmt(b: &[u8], flavour: Flavour) -> Result<Format> {
    let bad = |why: &str| -> anyhow::Error {
        anyhow::anyhow!("damaged or unsupported {} file: {why}", flavour.name())
    };
    if b.len() < 16 {
        return Err(bad("the fmt chunk is too short"));
    }
    let mut tag = u16le(&b[0..]);
    let channels = usize::from(u16le(&b[2..]));
    let sample_rate = u32le(&b[4..]);
    let block_align = usize::from(u16le(&b[12..]));
    let bits = u32::from(u16le(&b[14..]));
    let mut valid_bits = bits;
    if tag == 0xFFFE {
        if b.len() < 40 {
            return Err(bad("the WAVE_FORMAT_EXTENSIBLE fmt chunk is too short"));
        }
        let valid = u32::from(u16le(&b[18..]));
        if valid != 0 {
            valid_bits = valid;
        }
        tag = u16le(&b[24..]);
        if b[26..40] != SUBTYPE_SUFFIX {
            bail!(
                "unsupported {} sub-format (not PCM or float): {}",
                flavour.name(),
                codec_name(tag)
            );
        }
    }
    if channels == 0 {
        return Err(bad("the header declares 0 channels"));
    }
    if sample_rate == 0 {
        return Err(bad("the header declares a sample rate of 0 Hz"));
    }
    if block_align == 0 || block_align % channels != 0 {
        return Err(bad(&format!(
            "block alignment {block_align} does not fit {channels} channels"
        )));
    }
    let container = block_align / channels;
    let encoding = match (tag, container) {
        (1, 1) => Encoding::U8,
        (1, 2..=4) => Encoding::Int(container),
        (3, 4 | 8) => Encoding::Float(container),
        (1 | 3, _) => {
            bail!(
                "unsupported {} sample format: {bits}-bit {} in {container}-byte containers",
                flavour.name(),
                if tag == 3 { "float" } else { "integer" }
            )
        }
        _ => bail!(
            "unsupported {} codec: {} (only PCM and float are read)",
            flavour.name(),
            codec_name(tag)
        ),
    };
    if valid_bits == 0 || valid_bits as usize > container * 8 {
        valid_bits = (container * 8) as u32;
    }
    Ok(Format {
        channels,
        sample_rate,
        block_align,
        encoding,
        valid_bits,
    })
}

/// Counts the bytes read through it, to know where the sample data starts.
struct Counted<'a> {
    inner: &'a mut (dyn Read + Send),
    pos: &'a mut u64,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        *self.pos += n as u64;
        Ok(n)
    }
}

/// The RIFF-family reader: a [`SampleSource`] over any byte stream.
pub struct RiffSource {
    reader: Box<dyn Read + Send>,
    info: InputInfo,
    block_align: usize,
    encoding: Encoding,
    /// Data bytes still to come, when the header states them.
    remaining: Option<u64>,
    bytes: Vec<u8>,
    /// Where the data chunk ends in the stream (RIFF and RF64 with a stated size), for trailing chunks.
    data_end: Option<u64>,
}

/// Parses the header of a RIFF/RF64/W64 stream up to its sample data; `from_pipe` takes a RIFF data size of 0 or a
/// placeholder as "until the end of the stream".
/// Keeps `bext`, `iXML` and `LIST` chunks that precede the data. Allocates.
pub fn open(mut outer: Box<dyn Read + Send>, from_pipe: bool) -> Result<RiffSource> {
    let mut pos = 0u64;
    let mut counted = Counted {
        inner: &mut *outer,
        pos: &mut pos,
    };
    let reader: &mut dyn Read = &mut counted;
    let (flavour, fmt, declared, metadata) = parse_header(reader, from_pipe)?;
    let data_end = match (flavour, declared) {
        (Flavour::Riff | Flavour::Rf64, Some(d)) => Some(pos + d + d % 2),
        _ => None,
    };
    let mut source = RiffSource::new(outer, flavour, fmt, declared, metadata);
    source.data_end = data_end;
    Ok(source)
}

type Header = (Flavour, Format, Option<u64>, Vec<([u8; 4], Vec<u8>)>);

fn parse_header(reader: &mut dyn Read, from_pipe: bool) -> Result<Header> {
    let mut head = [0u8; 12];
    read_exact_or(reader, &mut head, "file header")?;
    let flavour = match &head[0..4] {
        b"RIFF" => Flavour::Riff,
        b"RF64" | b"BW64" => Flavour::Rf64,
        b"riff" => Flavour::W64,
        b"RIFX" => bail!("unsupported format: big-endian RIFX WAV"),
        _ => bail!("not a WAV, RF64 or W64 stream"),
    };
    if flavour == Flavour::W64 {
        let mut rest = [0u8; 28];
        read_exact_or(reader, &mut rest, "file header")?;
        let mut guid = [0u8; 16];
        guid[..12].copy_from_slice(&head);
        guid[12..].copy_from_slice(&rest[..4]);
        if guid != W64_RIFF || rest[12..16] != *b"wave" || rest[16..28] != W64_SUFFIX {
            bail!("damaged or unsupported W64 file: the header is not Sony Wave64's");
        }
    } else if &head[8..12] != b"WAVE" {
        bail!(
            "unsupported format: a RIFF file of type '{}' (not WAVE audio)",
            String::from_utf8_lossy(&head[8..12])
        );
    }

    let mut format: Option<Format> = None;
    let mut ds64_data: Option<u64> = None;
    let mut metadata = Vec::new();
    for index in 0.. {
        if index >= MAX_CHUNKS {
            bail!(
                "damaged {} file: no data chunk among its first {MAX_CHUNKS} chunks",
                flavour.name()
            );
        }
        // Chunk id and size.
        let (id, size): ([u8; 4], u64) = if flavour == Flavour::W64 {
            let mut h = [0u8; 24];
            let got = read_full(reader, &mut h)?;
            if got < 24 {
                return Err(missing_data(flavour, format.is_some()));
            }
            let size = u64le(&h[16..]);
            if size < 24 {
                bail!("damaged W64 file: a chunk declares {size} bytes");
            }
            let id = if h[4..16] == W64_SUFFIX {
                [h[0], h[1], h[2], h[3]]
            } else {
                *b"????"
            };
            (id, size - 24)
        } else {
            let mut h = [0u8; 8];
            let got = read_full(reader, &mut h)?;
            if got < 8 {
                return Err(missing_data(flavour, format.is_some()));
            }
            ([h[0], h[1], h[2], h[3]], u64::from(u32le(&h[4..])))
        };
        let pad = match flavour {
            Flavour::W64 => (8 - size % 8) % 8,
            _ => size % 2,
        };
        match &id {
            b"ds64" if flavour == Flavour::Rf64 => {
                if !(24..=1 << 20).contains(&size) {
                    bail!("damaged RF64 file: the ds64 chunk declares {size} bytes");
                }
                let mut b = vec![0u8; size as usize];
                read_exact_or(reader, &mut b, "ds64 chunk")?;
                ds64_data = Some(u64le(&b[8..]));
                skip(reader, pad)?;
            }
            b"fmt " => {
                if !(16..=4096).contains(&size) {
                    bail!(
                        "damaged {} file: the fmt chunk declares {size} bytes",
                        flavour.name()
                    );
                }
                let mut b = vec![0u8; size as usize];
                read_exact_or(reader, &mut b, "fmt chunk")?;
                format = Some(parse_fmt(&b, flavour)?);
                skip(reader, pad)?;
            }
            b"data" => {
                let Some(fmt) = format.take() else {
                    bail!(
                        "damaged {} file: the data chunk comes before the fmt chunk",
                        flavour.name()
                    );
                };
                let declared = match flavour {
                    Flavour::Rf64 if size == 0xFFFF_FFFF => ds64_data,
                    Flavour::Riff if size == 0xFFFF_FFFF => None,
                    // A pipe's writer cannot go back to fill in the size: 0 or a placeholder means "until
                    // the end of the stream".
                    Flavour::Riff if from_pipe && (size == 0 || size >= 0x7FFF_0000) => None,
                    _ => Some(size),
                };
                return Ok((flavour, fmt, declared, metadata));
            }
            b"bext" | b"iXML" | b"LIST" if size <= MAX_METADATA_BYTES => {
                let mut b = vec![0u8; size as usize];
                read_exact_or(reader, &mut b, "metadata chunk")?;
                metadata.push((id, b));
                skip(reader, pad)?;
            }
            _ => {
                if !skip(reader, size + pad)? {
                    return Err(missing_data(flavour, format.is_some()));
                }
            }
        }
    }
    unreachable!("the chunk loop returns")
}

fn missing_data(flavour: Flavour, had_fmt: bool) -> anyhow::Error {
    if had_fmt {
        anyhow::anyhow!(
            "damaged {} file: it ends before its data chunk (truncated)",
            flavour.name()
        )
    } else {
        anyhow::anyhow!(
            "damaged {} file: it ends before its fmt chunk (truncated)",
            flavour.name()
        )
    }
}

impl RiffSource {
    fn new(
        reader: Box<dyn Read + Send>,
        flavour: Flavour,
        fmt: Format,
        declared: Option<u64>,
        metadata: Vec<([u8; 4], Vec<u8>)>,
    ) -> Self {
        let (sample, description) = match fmt.encoding {
            Encoding::Float(bytes) => (
                SampleKind::Float((bytes * 8) as u32),
                format!("{} {}-bit float", flavour.name(), bytes * 8),
            ),
            Encoding::U8 => (
                SampleKind::Int(8),
                format!("{} 8-bit integer", flavour.name()),
            ),
            Encoding::Int(bytes) => {
                let container = (bytes * 8) as u32;
                let text = if fmt.valid_bits == container {
                    format!("{} {container}-bit integer", flavour.name())
                } else {
                    format!(
                        "{} {}-bit integer in {container}-bit containers",
                        flavour.name(),
                        fmt.valid_bits
                    )
                };
                (SampleKind::Int(fmt.valid_bits), text)
            }
        };
        let info = InputInfo {
            sample_rate: fmt.sample_rate,
            channels: fmt.channels,
            frames: declared.map(|d| d / fmt.block_align as u64),
            format: description,
            container: flavour.name(),
            kind: InputKind::Wav,
            sample,
            metadata,
        };
        // A trailing partial frame in the declared size is ignored, as every reader does.
        let remaining = declared.map(|d| d - d % fmt.block_align as u64);
        RiffSource {
            reader,
            info,
            block_align: fmt.block_align,
            encoding: fmt.encoding,
            remaining,
            bytes: Vec::new(),
            data_end: None,
        }
    }
}

impl RiffSource {
    /// Adds the `bext`, `iXML` and `LIST` chunks that follow the sample data in the file at `path` (a chunk
    /// already read before the data wins). Reads chunk headers only, at most 64 of them; damage past the data
    /// is ignored. Allocates for the chunks kept.
    pub fn add_trailing_metadata(&mut self, path: &std::path::Path) {
        let Some(mut at) = self.data_end else { return };
        let Ok(mut file) = std::fs::File::open(path) else {
            return;
        };
        let Ok(len) = file.metadata().map(|m| m.len()) else {
            return;
        };
        use std::io::{Seek, SeekFrom};
        for _ in 0..64 {
            if at + 8 > len || file.seek(SeekFrom::Start(at)).is_err() {
                return;
            }
            let mut h = [0u8; 8];
            if read_full(&mut file, &mut h).map_or(true, |n| n < 8) {
                return;
            }
            let id = [h[0], h[1], h[2], h[3]];
            let size = u64::from(u32le(&h[4..]));
            if at + 8 + size > len {
                return;
            }
            let wanted = matches!(&id, b"bext" | b"iXML" | b"LIST");
            if wanted
                && size <= MAX_METADATA_BYTES
                && !self.info.metadata.iter().any(|(i, _)| *i == id)
            {
                let mut body = vec![0u8; size as usize];
                if read_full(&mut file, &mut body).map_or(true, |n| n < body.len()) {
                    return;
                }
                self.info.metadata.push((id, body));
            }
            at += 8 + size + size % 2;
        }
    }
}

impl SampleSource for RiffSource {
    fn info(&self) -> &InputInfo {
        &self.info
    }

    fn next_chunk(&mut self, out: &mut Vec<f32>) -> Result<()> {
        out.clear();
        let mut want = (CHUNK_FRAMES * self.block_align) as u64;
        if let Some(r) = self.remaining {
            want = want.min(r);
        }
        if want == 0 {
            return Ok(());
        }
        self.bytes.resize(want as usize, 0);
        let got = read_full(&mut *self.reader, &mut self.bytes)?;
        let whole = got - got % self.block_align;
        decode(&self.bytes[..whole], self.encoding, out);
        if let Some(r) = &mut self.remaining {
            *r -= whole as u64;
        }
        if (got as u64) < want {
            // The stream ended early.
            if self.remaining.is_some() {
                self.remaining = Some(0);
                return Err(
                    Damage::new("the file ends before its declared length (truncated)").into(),
                );
            }
            if got != whole {
                self.remaining = Some(0);
                return Err(
                    Damage::new("the stream ends in the middle of a frame (cut off)").into(),
                );
            }
            self.remaining = Some(0);
        }
        Ok(())
    }
}

/// Converts whole samples from `bytes` to linear floats, full scale ±1.
fn decode(bytes: &[u8], encoding: Encoding, out: &mut Vec<f32>) {
    match encoding {
        Encoding::U8 => out.extend(bytes.iter().map(|&b| (f32::from(b) - 128.0) / 128.0)),
        Encoding::Int(2) => out.extend(
            bytes
                .chunks_exact(2)
                .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0),
        ),
        Encoding::Int(3) => out.extend(
            bytes
                .chunks_exact(3)
                .map(|b| (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as f32 / 8_388_608.0),
        ),
        Encoding::Int(_) => out.extend(bytes.chunks_exact(4).map(|b| {
            (f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])) / 2_147_483_648.0) as f32
        })),
        Encoding::Float(4) => out.extend(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        ),
        Encoding::Float(_) => out.extend(bytes.chunks_exact(8).map(|b| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            f64::from_le_bytes(a) as f32
        })),
    }
}
