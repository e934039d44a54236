//! A WAV output past 4 GiB becomes RF64 and reads back whole. Writes about 4.3 GB to the temporary directory,
//! so it is `#[ignore]`d in CI: run it with
//! `cargo test -p quell-cli --test large -- --ignored --nocapture` (figures in docs/performance.md).

use quell_cli::input::{self, InputPath};
use quell_cli::output::{self, Container, OutSample, OutputFormat, Target};
use std::time::Instant;

#[test]
#[ignore = "writes 4.3 GB; run locally"]
fn a_wav_past_4_gib_is_written_as_rf64_and_read_back() {
    let path = std::env::temp_dir().join(format!("quell-rf64-{}.wav", std::process::id()));
    let channels = 2;
    // 4.32 GB of 32-bit float stereo: past the 4 GiB a RIFF size field can state.
    let frames: u64 = 540_000_000;
    let chunk_frames = 48_000;
    let format = OutputFormat {
        container: Container::Wav,
        sample: OutSample::Float32,
        dither: false,
    };
    let value =
        |i: u64, c: usize| ((i % 48_000) as f32 / 48_000.0 - 0.5) * if c == 0 { 1.0 } else { -1.0 };
    let started = Instant::now();
    let mut sink = output::create(
        &Target::File(path.clone()),
        format,
        48_000,
        channels,
        &[],
        0,
    )
    .unwrap();
    let mut buf = Vec::with_capacity(chunk_frames * channels);
    let mut written = 0u64;
    while written < frames {
        let n = (frames - written).min(chunk_frames as u64);
        buf.clear();
        for i in written..written + n {
            for c in 0..channels {
                buf.push(value(i, c));
            }
        }
        sink.write(&buf).unwrap();
        written += n;
    }
    sink.finish().unwrap();
    let write_s = started.elapsed().as_secs_f64();
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > 1 << 32, "{len} bytes");
    let mut head = [0u8; 48];
    std::io::Read::read_exact(&mut std::fs::File::open(&path).unwrap(), &mut head).unwrap();
    assert_eq!(&head[0..4], b"RF64");
    assert_eq!(&head[12..16], b"ds64");
    assert_eq!(
        u64::from_le_bytes(head[28..36].try_into().unwrap()),
        frames * 8,
        "ds64 data size"
    );
    assert_eq!(
        u64::from_le_bytes(head[36..44].try_into().unwrap()),
        frames,
        "ds64 sample count"
    );

    let started = Instant::now();
    let mut src = input::open(&InputPath::File(&path)).unwrap();
    assert_eq!(src.info().frames, Some(frames));
    assert_eq!(src.info().format, "RF64 32-bit float");
    let mut chunk = Vec::new();
    let mut read = 0u64;
    loop {
        src.next_chunk(&mut chunk).unwrap();
        if chunk.is_empty() {
            break;
        }
        // Spot-check the first frame of every chunk.
        assert_eq!(chunk[0], value(read, 0), "frame {read}");
        assert_eq!(chunk[1], value(read, 1), "frame {read}");
        read += (chunk.len() / channels) as u64;
    }
    let read_s = started.elapsed().as_secs_f64();
    assert_eq!(read, frames);
    // An independent reader agrees, when there is one.
    if let Ok(o) = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=duration_ts",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
    {
        if o.status.success() {
            let ts = String::from_utf8_lossy(&o.stdout).trim().to_string();
            assert_eq!(ts, frames.to_string(), "ffprobe's frame count");
        }
    }
    std::fs::remove_file(&path).unwrap();
    eprintln!(
        "RF64: {len} bytes ({frames} frames) written in {write_s:.1} s, read back in {read_s:.1} s"
    );
}
