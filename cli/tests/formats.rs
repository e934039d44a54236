//! Every input format and layout through the `quell` binary at `--reduction 0`, the output-format rules,
//! pipes, damaged files, metadata, the removed part and interruption. All fixtures are generated here: WAV,
//! RF64, W64 and AIFF byte by byte, FLAC with flacenc, and the lossy and Apple formats with `ffmpeg`
//! (installed by scripts/system-deps.sh).

use quell_cli::input::{self, InputInfo, InputPath, SampleKind};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

mod common;
use common::{quell, s, stderr, TempDir};

/// Runs quell at reduction 0 in classic mode with extra arguments; asserts success.
fn identity(input: &Path, output: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        s(input),
        "-o",
        s(output),
        "--mode",
        "classic",
        "--reduction",
        "0",
        "--force",
    ];
    args.extend_from_slice(extra);
    let o = quell(&args);
    assert!(o.status.success(), "{}: {}", input.display(), stderr(&o));
    o
}

/// A seeded interleaved test signal: tones and noise, about -6 dBFS.
fn signal(frames: usize, channels: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let mut x = Vec::with_capacity(frames * channels);
    for i in 0..frames {
        for c in 0..channels {
            let t = i as f32 / 48_000.0;
            let tone = (t * (220.0 + 110.0 * c as f32) * std::f32::consts::TAU).sin();
            x.push(0.35 * tone + 0.1 * noise());
        }
    }
    x
}

/// Decodes a whole file with the library's readers (symphonia or the RIFF reader).
fn decode(path: &Path) -> (InputInfo, Vec<f32>) {
    let mut src =
        input::open(&InputPath::File(path)).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
    let info = src.info().clone();
    let mut all = Vec::new();
    let mut chunk = Vec::new();
    loop {
        src.next_chunk(&mut chunk).unwrap();
        if chunk.is_empty() {
            break;
        }
        all.extend_from_slice(&chunk);
    }
    (info, all)
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// How the test stores samples.
#[derive(Clone, Copy)]
enum Store {
    /// Integer: container bytes, valid bits.
    Int(usize, u32),
    /// Float of 4 or 8 bytes.
    Float(usize),
}

/// Encodes interleaved samples; returns the bytes and the values a correct reader decodes.
fn encode(x: &[f32], store: Store, big_endian: bool) -> (Vec<u8>, Vec<f32>) {
    let mut bytes = Vec::new();
    let mut exact = Vec::new();
    for &v in x {
        match store {
            Store::Int(container, valid) => {
                let full = (1i64 << (valid - 1)) as f64;
                let q = (f64::from(v) * full).round().clamp(-full, full - 1.0) as i64;
                exact.push((q as f64 / full) as f32);
                let stored = q << (container as u32 * 8 - valid);
                if container == 1 {
                    bytes.push((stored + 128) as u8);
                } else {
                    let le = stored.to_le_bytes();
                    let mut b = le[..container].to_vec();
                    if big_endian {
                        b.reverse();
                    }
                    bytes.extend(b);
                }
            }
            Store::Float(4) => {
                exact.push(v);
                bytes.extend(v.to_le_bytes());
            }
            Store::Float(_) => {
                exact.push(v);
                bytes.extend(f64::from(v).to_le_bytes());
            }
        }
    }
    (bytes, exact)
}

/// A `fmt ` chunk body: plain, or WAVE_FORMAT_EXTENSIBLE with the valid bits.
fn fmt_body(store: Store, channels: u16, rate: u32, extensible: bool) -> Vec<u8> {
    let (tag, container, valid) = match store {
        Store::Int(c, v) => (1u16, c, v),
        Store::Float(c) => (3u16, c, c as u32 * 8),
    };
    let block = channels * container as u16;
    let mut b = Vec::new();
    b.extend((if extensible { 0xFFFEu16 } else { tag }).to_le_bytes());
    b.extend(channels.to_le_bytes());
    b.extend(rate.to_le_bytes());
    b.extend((rate * u32::from(block)).to_le_bytes());
    b.extend(block.to_le_bytes());
    b.extend((container as u16 * 8).to_le_bytes());
    if extensible {
        b.extend(22u16.to_le_bytes());
        b.extend((valid as u16).to_le_bytes());
        b.extend(0u32.to_le_bytes());
        b.extend(tag.to_le_bytes());
        b.extend([
            0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
        ]);
    }
    b
}

fn chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut b = id.to_vec();
    b.extend((body.len() as u32).to_le_bytes());
    b.extend(body);
    if body.len() % 2 == 1 {
        b.push(0);
    }
    b
}

/// A RIFF WAV file with extra chunks before the data.
fn wav_bytes(fmt: &[u8], data: &[u8], extra: &[Vec<u8>]) -> Vec<u8> {
    let mut body = b"WAVE".to_vec();
    body.extend(chunk(b"fmt ", fmt));
    for e in extra {
        body.extend(e);
    }
    body.extend(chunk(b"data", data));
    let mut b = b"RIFF".to_vec();
    b.extend((body.len() as u32).to_le_bytes());
    b.extend(body);
    b
}

fn rf64_bytes(fmt: &[u8], data: &[u8]) -> Vec<u8> {
    let mut b = b"RF64".to_vec();
    b.extend(0xFFFF_FFFFu32.to_le_bytes());
    b.extend(b"WAVE");
    let riff_size = 4 + 36 + 8 + fmt.len() + 8 + data.len();
    let mut ds64 = Vec::new();
    ds64.extend((riff_size as u64).to_le_bytes());
    ds64.extend((data.len() as u64).to_le_bytes());
    ds64.extend(0u64.to_le_bytes());
    ds64.extend(0u32.to_le_bytes());
    b.extend(chunk(b"ds64", &ds64));
    b.extend(chunk(b"fmt ", fmt));
    b.extend(b"data");
    b.extend(0xFFFF_FFFFu32.to_le_bytes());
    b.extend(data);
    b
}

fn w64_bytes(fmt: &[u8], data: &[u8]) -> Vec<u8> {
    const SUFFIX: [u8; 12] = [
        0xF3, 0xAC, 0xD3, 0x11, 0x8C, 0xD1, 0x00, 0xC0, 0x4F, 0x8E, 0xDB, 0x8A,
    ];
    let w64_chunk = |id: &[u8; 4], body: &[u8]| {
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
    body.extend(w64_chunk(b"fmt ", fmt));
    body.extend(w64_chunk(b"data", data));
    let mut b = vec![
        b'r', b'i', b'f', b'f', 0x2E, 0x91, 0xCF, 0x11, 0xA5, 0xD6, 0x28, 0xDB, 0x04, 0xC1, 0x00,
        0x00,
    ];
    b.extend((body.len() as u64 + 24).to_le_bytes());
    b.extend(body);
    b
}

fn aiff_bytes(channels: u16, rate: u32, bits: u16, data_be: &[u8]) -> Vec<u8> {
    let frames = data_be.len() as u32 / (u32::from(channels) * u32::from(bits / 8));
    let mut comm = Vec::new();
    comm.extend(channels.to_be_bytes());
    comm.extend(frames.to_be_bytes());
    comm.extend(bits.to_be_bytes());
    // The rate as an 80-bit extended float.
    let exp = 31 - rate.leading_zeros();
    comm.extend(((16383 + exp) as u16).to_be_bytes());
    comm.extend((u64::from(rate) << (63 - exp)).to_be_bytes());
    let be_chunk = |id: &[u8; 4], body: &[u8]| {
        let mut c = id.to_vec();
        c.extend((body.len() as u32).to_be_bytes());
        c.extend(body);
        if body.len() % 2 == 1 {
            c.push(0);
        }
        c
    };
    let mut ssnd = vec![0u8; 8];
    ssnd.extend(data_be);
    let mut body = b"AIFF".to_vec();
    body.extend(be_chunk(b"COMM", &comm));
    body.extend(be_chunk(b"SSND", &ssnd));
    let mut b = b"FORM".to_vec();
    b.extend((body.len() as u32).to_be_bytes());
    b.extend(body);
    b
}

/// A FLAC file from interleaved samples (fixed 4096-frame blocks, as libFLAC writes).
fn flac_bytes(x: &[f32], channels: usize, bits: u32, rate: u32) -> (Vec<u8>, Vec<f32>) {
    use flacenc::component::BitRepr;
    use flacenc::error::Verify;
    let full = (1i64 << (bits - 1)) as f64;
    let q: Vec<i32> = x
        .iter()
        .map(|&v| (f64::from(v) * full).round().clamp(-full, full - 1.0) as i32)
        .collect();
    let exact = q.iter().map(|&v| (f64::from(v) / full) as f32).collect();
    let config = flacenc::config::Encoder::default().into_verified().unwrap();
    let source =
        flacenc::source::MemSource::from_samples(&q, channels, bits as usize, rate as usize);
    let mut stream = flacenc::encode_with_fixed_block_size(&config, source, 4096).unwrap();
    stream
        .stream_info_mut()
        .set_block_sizes(4096, 4096)
        .unwrap();
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream.write(&mut sink).unwrap();
    (sink.as_slice().to_vec(), exact)
}

fn ffmpeg_available() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Encodes a WAV with ffmpeg; `None` when the encoder is missing from this ffmpeg.
fn ffmpeg(input: &Path, output: &Path, codec_args: &[&str]) -> Option<()> {
    let mut args = vec!["-v", "error", "-y", "-i", s(input)];
    args.extend_from_slice(codec_args);
    args.push(s(output));
    let o = Command::new("ffmpeg").args(&args).output().ok()?;
    if !o.status.success() {
        eprintln!("ffmpeg {codec_args:?}: {}", stderr(&o));
        return None;
    }
    Some(())
}

#[test]
fn every_wav_layout_round_trips_in_its_own_format() {
    let dir = TempDir::new("wav");
    let rate = 44_100;
    // (name, store, extensible, expected output bits, float output)
    let cases: &[(&str, Store, bool, u16, bool)] = &[
        ("u8", Store::Int(1, 8), false, 8, false),
        ("s16", Store::Int(2, 16), false, 16, false),
        ("s24", Store::Int(3, 24), false, 24, false),
        ("s32", Store::Int(4, 32), false, 32, false),
        ("ext16", Store::Int(2, 16), true, 16, false),
        ("ext24in32", Store::Int(4, 24), true, 24, false),
        ("ext20in24", Store::Int(3, 20), true, 24, false),
        ("ext24", Store::Int(3, 24), true, 24, false),
        ("f32", Store::Float(4), false, 32, true),
        ("f64", Store::Float(8), false, 32, true),
        ("extf32", Store::Float(4), true, 32, true),
    ];
    for &channels in &[1usize, 2, 6] {
        let x = signal(9_001, channels, channels as u64);
        for &(name, store, ext, bits, float) in cases {
            let (data, exact) = encode(&x, store, false);
            let fmt = fmt_body(store, channels as u16, rate, ext || channels > 2);
            let input = dir.path(&format!("{name}-{channels}.wav"));
            std::fs::write(&input, wav_bytes(&fmt, &data, &[])).unwrap();
            let (info, decoded) = decode(&input);
            assert_eq!(max_diff(&decoded, &exact), 0.0, "{name}: decoded exactly");
            if let Store::Int(_, valid) = store {
                assert_eq!(info.sample, SampleKind::Int(valid), "{name}");
                assert!(
                    info.format.contains(&format!("{valid}-bit")),
                    "{name}: {}",
                    info.format
                );
            }
            let output = dir.path(&format!("{name}-{channels}-out.wav"));
            identity(&input, &output, &[]);
            let reader = hound::WavReader::open(&output).unwrap();
            let spec = reader.spec();
            assert_eq!(spec.bits_per_sample, bits, "{name}");
            assert_eq!(
                spec.sample_format == hound::SampleFormat::Float,
                float,
                "{name}"
            );
            assert_eq!((spec.channels as usize, spec.sample_rate), (channels, rate));
            let (_, y) = decode(&output);
            let err = max_diff(&y, &exact);
            assert!(err <= 1e-5, "{name} {channels} ch: max error {err}");
        }
    }
}

#[test]
fn rf64_w64_aiff_and_flac_inputs_round_trip() {
    let dir = TempDir::new("family");
    let channels = 2;
    let x = signal(20_000, channels, 9);
    let (data, exact) = encode(&x, Store::Int(3, 24), false);
    let fmt = fmt_body(Store::Int(3, 24), 2, 48_000, false);
    for (name, bytes) in [
        ("in.rf64.wav", rf64_bytes(&fmt, &data)),
        ("in.w64", w64_bytes(&fmt, &data)),
    ] {
        let input = dir.path(name);
        std::fs::write(&input, bytes).unwrap();
        let output = dir.path(&format!("{name}-out.wav"));
        identity(&input, &output, &[]);
        assert_eq!(
            hound::WavReader::open(&output)
                .unwrap()
                .spec()
                .bits_per_sample,
            24
        );
        let err = max_diff(&decode(&output).1, &exact);
        assert!(err <= 1e-5, "{name}: {err}");
    }
    // AIFF, 16 and 24 bits: out as WAV of the same depth.
    for bits in [16u16, 24] {
        let (mut be, exact) = encode(
            &x,
            Store::Int(usize::from(bits / 8), u32::from(bits)),
            false,
        );
        for frame in be.chunks_mut(usize::from(bits / 8)) {
            frame.reverse();
        }
        let input = dir.path(&format!("in{bits}.aiff"));
        std::fs::write(&input, aiff_bytes(2, 48_000, bits, &be)).unwrap();
        let output = dir.path(&format!("aiff{bits}.wav"));
        identity(&input, &output, &[]);
        assert_eq!(
            hound::WavReader::open(&output)
                .unwrap()
                .spec()
                .bits_per_sample,
            bits
        );
        let err = max_diff(&decode(&output).1, &exact);
        assert!(err <= 1e-5, "AIFF {bits}: {err}");
    }
    // FLAC 16 and 24 bits: out as FLAC of the same depth, by default and in --out-dir.
    for bits in [16u32, 24] {
        let (bytes, exact) = flac_bytes(&x, channels, bits, 48_000);
        let input = dir.path(&format!("take.{bits}.flac"));
        std::fs::write(&input, bytes).unwrap();
        let out = dir.path("out");
        let o = quell(&[
            s(&input),
            "--out-dir",
            s(&out),
            "--mode",
            "classic",
            "--reduction",
            "0",
            "--force",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let output = out.join(format!("take.{bits}.flac"));
        let (info, y) = decode(&output);
        assert_eq!(info.format, format!("FLAC {bits}-bit"));
        assert_eq!(info.frames, Some(20_000));
        let err = max_diff(&y, &exact);
        assert!(err <= 1e-5, "FLAC {bits}: {err}");
    }
    // WAV in, FLAC out by name; 24-bit input to 16-bit output is dithered, deterministically.
    let input = dir.path("in24.wav");
    std::fs::write(&input, wav_bytes(&fmt, &data, &[])).unwrap();
    let a = dir.path("a.flac");
    let b = dir.path("b.flac");
    identity(&input, &a, &["--bits", "16"]);
    identity(&input, &b, &["--bits", "16"]);
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "seeded dither"
    );
    let (info, y) = decode(&a);
    assert_eq!(info.format, "FLAC 16-bit");
    let err = max_diff(&y, &exact);
    assert!(
        err > 0.5 / 32768.0 && err <= 2.0 / 32768.0,
        "TPDF dither spans ±1 LSB: {err}"
    );
    // Float input to FLAC: 24-bit by default; --bits 32 with FLAC is refused.
    let (fdata, _) = encode(&x, Store::Float(4), false);
    let finput = dir.path("float.wav");
    std::fs::write(
        &finput,
        wav_bytes(&fmt_body(Store::Float(4), 2, 48_000, false), &fdata, &[]),
    )
    .unwrap();
    identity(&finput, &dir.path("float.flac"), &[]);
    assert_eq!(decode(&dir.path("float.flac")).0.format, "FLAC 24-bit");
    let o = quell(&[
        s(&finput),
        "-o",
        s(&dir.path("f32.flac")),
        "--bits",
        "32",
        "--mode",
        "classic",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("FLAC holds integer samples only"),
        "{}",
        stderr(&o)
    );
    // A name and --format that disagree are refused.
    let o = quell(&[s(&finput), "-o", s(&dir.path("x.wav")), "--format", "flac"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn lossy_and_apple_formats_decode_like_symphonia() {
    if !ffmpeg_available() {
        panic!("ffmpeg is needed for this test: run scripts/system-deps.sh");
    }
    let dir = TempDir::new("lossy");
    let x = signal(48_000, 2, 4);
    let (data, _) = encode(&x, Store::Int(2, 16), false);
    let source = dir.path("source.wav");
    std::fs::write(
        &source,
        wav_bytes(&fmt_body(Store::Int(2, 16), 2, 48_000, false), &data, &[]),
    )
    .unwrap();
    // (file, ffmpeg arguments, expected output: Some(bits) integer or None for float)
    let cases: &[(&str, &[&str], Option<u16>)] = &[
        ("a.mp3", &["-c:a", "libmp3lame", "-b:a", "128k"], None),
        ("a.m4a", &["-c:a", "aac", "-b:a", "128k"], None),
        ("a.aac", &["-c:a", "aac", "-f", "adts"], None),
        ("a.ogg", &["-c:a", "libvorbis", "-q:a", "4"], None),
        ("alac.m4a", &["-c:a", "alac"], Some(16)),
        ("a.caf", &["-c:a", "pcm_s16be"], Some(16)),
        ("a.aif", &["-c:a", "pcm_s24be"], Some(24)),
    ];
    let mut ran = 0;
    for &(name, codec, bits) in cases {
        let input = dir.path(name);
        if ffmpeg(&source, &input, codec).is_none() {
            eprintln!("skipped {name}: this ffmpeg cannot write it");
            continue;
        }
        ran += 1;
        let (info, reference) = decode(&input);
        let output = dir.path(&format!("{name}.wav"));
        identity(&input, &output, &[]);
        let spec = hound::WavReader::open(&output).unwrap().spec();
        match bits {
            Some(b) => assert_eq!(spec.bits_per_sample, b, "{name}: {}", info.format),
            None => {
                assert_eq!(spec.sample_format, hound::SampleFormat::Float, "{name}");
                assert_eq!(info.sample, SampleKind::Lossy, "{name}");
            }
        }
        assert_eq!(spec.channels, 2);
        let (_, y) = decode(&output);
        let err = max_diff(&y, &reference);
        assert!(err <= 1e-5, "{name} ({}): max error {err}", info.format);
        if bits.is_some() {
            // Lossless: the decoded file is the source itself.
            assert_eq!(reference.len(), x.len(), "{name}");
        }
    }
    assert!(ran >= 5, "only {ran} formats could be generated");
}

#[test]
fn stdin_and_stdout_carry_wav_streams() {
    let dir = TempDir::new("pipes");
    let x = signal(30_000, 2, 5);
    let (data, exact) = encode(&x, Store::Float(4), false);
    let input = dir.path("in.wav");
    std::fs::write(
        &input,
        wav_bytes(&fmt_body(Store::Float(4), 2, 48_000, false), &data, &[]),
    )
    .unwrap();
    // stdin -> stdout through a pipe: a streaming header with unknown sizes.
    let run = |stdin_bytes: Vec<u8>| -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_quell"))
            .args(["-", "-o", "-", "--mode", "classic", "--reduction", "0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let feeder = std::thread::spawn(move || {
            let _ = stdin.write_all(&stdin_bytes);
        });
        let o = child.wait_with_output().unwrap();
        feeder.join().unwrap();
        o
    };
    let o = run(std::fs::read(&input).unwrap());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(&o.stdout[4..8], &[0xFF; 4], "unknown RIFF size on a pipe");
    let piped = dir.path("piped.wav");
    std::fs::write(&piped, &o.stdout).unwrap();
    // The same stream (sizes unknown) read back through stdin again.
    let o2 = run(o.stdout.clone());
    assert!(o2.status.success(), "{}", stderr(&o2));
    assert_eq!(o2.stdout.len(), o.stdout.len());
    let mut src = input::open(&InputPath::File(&piped)).unwrap();
    let mut y = Vec::new();
    let mut c = Vec::new();
    loop {
        // The file's declared sizes are 0xFFFFFFFF: read as "until the end".
        src.next_chunk(&mut c).unwrap();
        if c.is_empty() {
            break;
        }
        y.extend_from_slice(&c);
    }
    assert!(max_diff(&y, &exact) <= 1e-5);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("-> -"),
        "messages on stderr: {}",
        stderr(&o)
    );
    // stdout redirected to a file: the sizes are filled in.
    let file = dir.path("redirected.wav");
    let o = Command::new(env!("CARGO_BIN_EXE_quell"))
        .args([
            s(&input),
            "-o",
            "-",
            "--mode",
            "classic",
            "--reduction",
            "0",
        ])
        .stdout(std::fs::File::create(&file).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let (_, y) = decode(&file);
    assert!(max_diff(&y, &exact) <= 1e-5);
    assert_eq!(hound::WavReader::open(&file).unwrap().duration(), 30_000);
    // A pipe writer's zero sizes (RIFF and data) mean "until the end" on standard input.
    let mut zero = std::fs::read(&input).unwrap();
    zero[4..8].copy_from_slice(&[0; 4]);
    let data_at = zero.windows(4).position(|w| w == b"data").unwrap();
    zero[data_at + 4..data_at + 8].copy_from_slice(&[0; 4]);
    let o3 = run(zero);
    assert!(o3.status.success(), "{}", stderr(&o3));
    assert_eq!(o3.stdout.len(), o2.stdout.len());
    // Something that is not WAV on stdin gets a clear message.
    let o = run(b"ID3\x04 definitely an mp3".to_vec());
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("standard input must be a WAV stream"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn damaged_files_are_refused_or_salvaged() {
    let dir = TempDir::new("damage");
    let rate = 48_000;
    let x = signal(rate as usize * 6, 1, 6);
    let (data, exact) = encode(&x, Store::Int(2, 16), false);
    let wav = wav_bytes(&fmt_body(Store::Int(2, 16), 1, rate, false), &data, &[]);
    let (flac, flac_exact) = flac_bytes(&x, 1, 16, rate);
    for (name, bytes, exact) in [("cut.wav", wav, &exact), ("cut.flac", flac, &flac_exact)] {
        let input = dir.path(name);
        let keep = bytes.len() * 2 / 5;
        std::fs::write(&input, &bytes[..keep]).unwrap();
        let output = dir.path(&format!("{name}.out.wav"));
        let o = quell(&[
            s(&input),
            "-o",
            s(&output),
            "--mode",
            "classic",
            "--reduction",
            "0",
        ]);
        assert_eq!(o.status.code(), Some(1), "{name}");
        let err = stderr(&o);
        let kind = if name.ends_with("wav") { "WAV" } else { "FLAC" };
        assert!(
            err.contains(&format!("damaged {kind} data after 2.")),
            "{name}: {err}"
        );
        assert!(
            err.contains("of 6.0 s") && err.contains("--salvage"),
            "{name}: {err}"
        );
        assert!(
            !output.exists(),
            "{name}: nothing written without --salvage"
        );
        let o = quell(&[
            s(&input),
            "-o",
            s(&output),
            "--mode",
            "classic",
            "--reduction",
            "0",
            "--salvage",
        ]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains("salvaged"), "{}", stderr(&o));
        let (_, y) = decode(&output);
        assert!(
            y.len() > rate as usize * 2 && y.len() < rate as usize * 3,
            "{name}: {} frames",
            y.len()
        );
        let err = max_diff(&y, &exact[..y.len()]);
        assert!(err <= 1e-5, "{name}: the readable part is intact ({err})");
    }
    // A corrupt stretch in the middle of a FLAC file: refused, salvaged up to it.
    let (mut flac, _) = flac_bytes(&x, 1, 16, rate);
    let mid = flac.len() / 2;
    for b in &mut flac[mid..mid + 200] {
        *b ^= 0x5A;
    }
    let input = dir.path("corrupt.flac");
    std::fs::write(&input, &flac).unwrap();
    let o = quell(&[s(&input), "-o", s(&dir.path("c.wav")), "--mode", "classic"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("damaged FLAC data after"),
        "{}",
        stderr(&o)
    );
    let c = dir.path("c.flac");
    let o = quell(&[
        s(&input),
        "-o",
        s(&c),
        "--mode",
        "classic",
        "--reduction",
        "0",
        "--salvage",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (_, y) = decode(&c);
    assert!(
        y.len() > rate as usize && y.len() < rate as usize * 4,
        "the part before the corrupt stretch: {} frames",
        y.len()
    );
    assert!(max_diff(&y, &flac_exact[..y.len()]) <= 1e-5);
}

#[test]
fn broadcast_metadata_is_kept_and_the_removed_part_sums_back() {
    let dir = TempDir::new("bext");
    let x = signal(40_000, 2, 7);
    let (data, exact) = encode(&x, Store::Float(4), false);
    let mut bext = vec![0u8; 602];
    bext[..11].copy_from_slice(b"Quell tests");
    bext[338..346].copy_from_slice(&172_800_000u64.to_le_bytes()); // time reference: 1 h at 48 kHz
    let ixml = b"<?xml version=\"1.0\"?><BWFXML><SCENE>12A</SCENE></BWFXML>".to_vec();
    let mut list = b"INFO".to_vec();
    list.extend(chunk(b"INAM", b"take 3\0"));
    let extra = vec![
        chunk(b"bext", &bext),
        chunk(b"iXML", &ixml),
        chunk(b"LIST", &list),
    ];
    let input = dir.path("take.wav");
    // bext and iXML before the audio, LIST after it (as many editors place it).
    let mut bytes = wav_bytes(
        &fmt_body(Store::Float(4), 2, 48_000, false),
        &data,
        &extra[..2],
    );
    bytes.extend(&extra[2]);
    let riff_size = (bytes.len() - 8) as u32;
    bytes[4..8].copy_from_slice(&riff_size.to_le_bytes());
    std::fs::write(&input, bytes).unwrap();
    let output = dir.path("clean.wav");
    let noise = dir.path("noise.wav");
    let o = quell(&[
        s(&input),
        "-o",
        s(&output),
        "--noise-out",
        s(&noise),
        "--mode",
        "classic",
        "--reduction",
        "20",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out_bytes = std::fs::read(&output).unwrap();
    for c in &extra {
        assert!(
            out_bytes.windows(c.len()).any(|w| w == &c[..]),
            "chunk {:?} kept",
            &c[..4]
        );
    }
    let (_, y) = decode(&output);
    let (_, n) = decode(&noise);
    let sum: Vec<f32> = y.iter().zip(&n).map(|(a, b)| a + b).collect();
    let err = max_diff(&sum, &exact);
    assert!(err <= 1e-5, "output + removed = input within {err}");
    assert!(
        n.iter().map(|v| v.abs()).fold(0.0, f32::max) > 1e-3,
        "something was removed"
    );
    // --noise-out-dir names each removed part like its output.
    let nd = dir.path("noise");
    let od = dir.path("out");
    let o = quell(&[
        s(&input),
        "--out-dir",
        s(&od),
        "--noise-out-dir",
        s(&nd),
        "--mode",
        "classic",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(od.join("take.wav").exists() && nd.join("take.wav").exists());
}

#[test]
fn interruption_removes_unfinished_files() {
    let dir = TempDir::new("interrupt");
    let x = signal(48_000 * 240, 2, 8);
    let (data, _) = encode(&x, Store::Int(2, 16), false);
    let input = dir.path("long.wav");
    std::fs::write(
        &input,
        wav_bytes(&fmt_body(Store::Int(2, 16), 2, 48_000, false), &data, &[]),
    )
    .unwrap();
    let output = dir.path("long-clean.wav");
    let mut child = Command::new(env!("CARGO_BIN_EXE_quell"))
        .args([
            s(&input),
            "-o",
            s(&output),
            "--mode",
            "classic",
            "--noise-out",
            s(&dir.path("n.wav")),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the hidden partial file exists and grows, then send SIGTERM.
    let partial = || {
        std::fs::read_dir(&dir.0)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("quell-partial"))
            .count()
    };
    let start = std::time::Instant::now();
    while partial() < 2 && start.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(partial() >= 2, "the partial files appear while processing");
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert_eq!(partial(), 0, "no partial file is left");
    assert!(
        !output.exists() && !dir.path("n.wav").exists(),
        "nothing under a final name"
    );
}
