//! A bounded, seeded mutation test of the readers: valid files of every input format are truncated, have bits
//! flipped and header fields overwritten, and each damaged file is read to its end in-process. Every case
//! must end in a clear error or a (salvageable) result: never a panic, a hang (a per-case deadline) or
//! unbounded memory (a counting allocator bounds each case's peak).

use quell_cli::input::{self, InputPath};
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Counts live heap bytes and their peak.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn note_grow(n: usize) {
    let now = CURRENT.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call forwards to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note_grow(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
            note_grow(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Each case may use at most this much heap above what was live before it.
const CASE_MEMORY: usize = 256 << 20;
/// Each case must finish within this time.
const CASE_DEADLINE: Duration = Duration::from_secs(20);
/// Samples read per case at most (bounds the work of a header that claims a huge length).
const CASE_SAMPLES: usize = 1 << 22;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn le_chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut b = id.to_vec();
    b.extend((body.len() as u32).to_le_bytes());
    b.extend(body);
    if body.len() % 2 == 1 {
        b.push(0);
    }
    b
}

fn fmt(tag: u16, channels: u16, rate: u32, container: u16, valid: u16) -> Vec<u8> {
    let block = channels * container / 8;
    let mut b = Vec::new();
    b.extend(tag.to_le_bytes());
    b.extend(channels.to_le_bytes());
    b.extend(rate.to_le_bytes());
    b.extend((rate * u32::from(block)).to_le_bytes());
    b.extend(block.to_le_bytes());
    b.extend(container.to_le_bytes());
    if tag == 0xFFFE {
        b.extend(22u16.to_le_bytes());
        b.extend(valid.to_le_bytes());
        b.extend(3u32.to_le_bytes());
        b.extend(1u16.to_le_bytes());
        b.extend([
            0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
        ]);
    }
    b
}

fn pcm(frames: usize, channels: usize, bytes: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..frames * channels {
        let v = ((i as f32 * 0.05).sin() * 0.4 * 2_147_483_647.0) as i32;
        out.extend(&v.to_le_bytes()[4 - bytes..]);
    }
    out
}

fn riff(fmt_body: &[u8], data: &[u8], extra: &[u8]) -> Vec<u8> {
    let mut body = b"WAVE".to_vec();
    body.extend(le_chunk(b"fmt ", fmt_body));
    body.extend(extra);
    body.extend(le_chunk(b"data", data));
    let mut b = b"RIFF".to_vec();
    b.extend((body.len() as u32).to_le_bytes());
    b.extend(body);
    b
}

/// Valid files of every format, small (a quarter second), by name.
fn fixtures(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let frames = 12_000;
    let mut all = Vec::new();
    let d16 = pcm(frames, 2, 2);
    let wav16 = riff(
        &fmt(1, 2, 48_000, 16, 16),
        &d16,
        &le_chunk(b"bext", &[0u8; 602]),
    );
    all.push(("wav16".to_string(), wav16.clone()));
    all.push((
        "wav24in32".into(),
        riff(&fmt(0xFFFE, 2, 48_000, 32, 24), &pcm(frames, 2, 4), &[]),
    ));
    let mut f32data = Vec::new();
    for i in 0..frames {
        f32data.extend(((i as f32 * 0.01).sin() * 0.5).to_le_bytes());
    }
    all.push((
        "wavf32".into(),
        riff(&fmt(3, 1, 48_000, 32, 32), &f32data, &[]),
    ));
    // RF64 and W64 of the same data.
    let f = fmt(1, 2, 48_000, 16, 16);
    let mut rf = b"RF64".to_vec();
    rf.extend(0xFFFF_FFFFu32.to_le_bytes());
    rf.extend(b"WAVE");
    let mut ds = Vec::new();
    ds.extend(((4 + 36 + 8 + f.len() + 8 + d16.len()) as u64).to_le_bytes());
    ds.extend((d16.len() as u64).to_le_bytes());
    ds.extend(0u64.to_le_bytes());
    ds.extend(0u32.to_le_bytes());
    rf.extend(le_chunk(b"ds64", &ds));
    rf.extend(le_chunk(b"fmt ", &f));
    rf.extend(b"data");
    rf.extend(0xFFFF_FFFFu32.to_le_bytes());
    rf.extend(&d16);
    all.push(("rf64".into(), rf));
    const SUFFIX: [u8; 12] = [
        0xF3, 0xAC, 0xD3, 0x11, 0x8C, 0xD1, 0x00, 0xC0, 0x4F, 0x8E, 0xDB, 0x8A,
    ];
    let w64c = |id: &[u8; 4], body: &[u8]| {
        let mut c = id.to_vec();
        c.extend(SUFFIX);
        c.extend((body.len() as u64 + 24).to_le_bytes());
        c.extend(body);
        while c.len() % 8 != 0 {
            c.push(0);
        }
        c
    };
    let mut body = b"wave".to_vec();
    body.extend(SUFFIX);
    body.extend(w64c(b"fmt ", &f));
    body.extend(w64c(b"data", &d16));
    let mut w64 = vec![
        b'r', b'i', b'f', b'f', 0x2E, 0x91, 0xCF, 0x11, 0xA5, 0xD6, 0x28, 0xDB, 0x04, 0xC1, 0x00,
        0x00,
    ];
    w64.extend((body.len() as u64 + 24).to_le_bytes());
    w64.extend(body);
    all.push(("w64".into(), w64));
    // FLAC through flacenc.
    {
        use flacenc::component::BitRepr;
        use flacenc::error::Verify;
        let q: Vec<i32> = (0..frames * 2)
            .map(|i| ((i as f32 * 0.05).sin() * 12_000.0) as i32)
            .collect();
        let config = flacenc::config::Encoder::default().into_verified().unwrap();
        let source = flacenc::source::MemSource::from_samples(&q, 2, 16, 48_000);
        let mut stream = flacenc::encode_with_fixed_block_size(&config, source, 4096).unwrap();
        stream
            .stream_info_mut()
            .set_block_sizes(4096, 4096)
            .unwrap();
        let mut sink = flacenc::bitsink::ByteSink::new();
        stream.write(&mut sink).unwrap();
        all.push(("flac".into(), sink.as_slice().to_vec()));
    }
    // The rest through ffmpeg, when it is there.
    let src = dir.join("src.wav");
    std::fs::write(&src, &wav16).unwrap();
    let encodings: &[(&str, &[&str])] = &[
        ("mp3", &["-c:a", "libmp3lame"]),
        ("m4a", &["-c:a", "aac"]),
        ("aac", &["-c:a", "aac", "-f", "adts"]),
        ("ogg", &["-c:a", "libvorbis"]),
        ("alac.m4a", &["-c:a", "alac"]),
        ("caf", &["-c:a", "pcm_s16be"]),
        ("aiff", &["-c:a", "pcm_s16be"]),
    ];
    for (ext, args) in encodings {
        let out = dir.join(format!("fixture.{ext}"));
        let ok = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i", src.to_str().unwrap()])
            .args(*args)
            .arg(&out)
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            all.push((ext.to_string(), std::fs::read(&out).unwrap()));
        } else {
            eprintln!("no {ext} fixture (ffmpeg missing or without the encoder)");
        }
    }
    all
}

fn mutate(valid: &[u8], rng: &mut Rng) -> (Vec<u8>, String) {
    let mut b = valid.to_vec();
    let header = b.len().min(160);
    match rng.below(5) {
        0 => {
            let keep = rng.below(b.len());
            b.truncate(keep);
            (b, format!("truncated to {keep}"))
        }
        1 => {
            let n = 1 + rng.below(8);
            for _ in 0..n {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            (b, format!("{n} bits flipped"))
        }
        2 => {
            let i = rng.below(header);
            b[i] ^= 1 << rng.below(8);
            (b, format!("header bit flipped at {i}"))
        }
        3 => {
            let i = rng.below(header.saturating_sub(4).max(1));
            let v: u32 = match rng.below(3) {
                0 => 0,
                1 => u32::MAX,
                _ => rng.next() as u32,
            };
            let end = (i + 4).min(b.len());
            b[i..end].copy_from_slice(&v.to_le_bytes()[..end - i]);
            (b, format!("header field at {i} set to {v:#x}"))
        }
        _ => {
            let i = rng.below(b.len());
            let end = (i + 16).min(b.len());
            for x in &mut b[i..end] {
                *x = rng.next() as u8;
            }
            (b, format!("bytes {i}..{end} replaced"))
        }
    }
}

/// Reads a file to its end (bounded); Ok(samples) or the error message.
fn read_all(path: &Path) -> Result<usize, String> {
    let mut src = input::open(&InputPath::File(path)).map_err(|e| format!("{e:#}"))?;
    let mut chunk = Vec::new();
    let mut total = 0;
    while total < CASE_SAMPLES {
        match src.next_chunk(&mut chunk) {
            Ok(()) if chunk.is_empty() => break,
            Ok(()) => total += chunk.len(),
            Err(e) => {
                let msg = format!("{e:#}");
                // A damage report after good samples is a salvageable result.
                return if e.downcast_ref::<input::Damage>().is_some() {
                    Ok(total)
                } else {
                    Err(msg)
                };
            }
        }
    }
    Ok(total)
}

#[test]
fn damaged_files_of_every_format_give_errors_not_panics_hangs_or_runaway_memory() {
    input::quiet_decoder_panics();
    let dir = std::env::temp_dir().join(format!("quell-mutation-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fixtures = fixtures(&dir);
    let cases_per_format: usize = std::env::var("QUELL_MUTATION_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let started = Instant::now();
    let mut failures = Vec::new();
    let (mut errors, mut results) = (0, 0);
    for (name, valid) in &fixtures {
        // The valid file itself reads.
        let path: PathBuf = dir.join(format!("case.{name}"));
        std::fs::write(&path, valid).unwrap();
        assert!(
            read_all(&path).is_ok_and(|n| n > 0),
            "{name}: the valid fixture reads"
        );
        let mut rng = Rng(0x5EED_0000 + name.len() as u64 * 7919 + valid.len() as u64);
        for case in 0..cases_per_format {
            let (bytes, what) = mutate(valid, &mut rng);
            std::fs::write(&path, &bytes).unwrap();
            let before = CURRENT.load(Ordering::Relaxed);
            PEAK.store(before, Ordering::Relaxed);
            let (tx, rx) = mpsc::channel();
            let p = path.clone();
            let worker = std::thread::spawn(move || {
                let _ = tx.send(read_all(&p));
            });
            match rx.recv_timeout(CASE_DEADLINE) {
                Ok(Ok(_)) => results += 1,
                Ok(Err(msg)) => {
                    errors += 1;
                    if msg.trim().is_empty() {
                        failures.push(format!("{name} #{case} ({what}): an empty error message"));
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    failures.push(format!(
                        "{name} #{case} ({what}): no answer within {CASE_DEADLINE:?}"
                    ));
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    failures.push(format!("{name} #{case} ({what}): the reader panicked"));
                }
            }
            let _ = worker.join();
            let used = PEAK.load(Ordering::Relaxed).saturating_sub(before);
            if used > CASE_MEMORY {
                failures.push(format!(
                    "{name} #{case} ({what}): {} MiB of heap",
                    used >> 20
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let n = fixtures.len() * cases_per_format;
    eprintln!(
        "{n} mutated files of {} formats in {:.1} s: {errors} refused with an error, {results} read (whole or up to \
         the damage)",
        fixtures.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {n} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
