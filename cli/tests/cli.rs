//! End-to-end tests of the `quell` binary on files generated here (seeded signals, temporary directories).

use quell_dsp::metrics::si_sdr;
use quell_dsp::neural::ModelWeights;
use quell_dsp::synth::{self, Rng, Voice};
use std::path::Path;

mod common;
use common::{quell, s, stderr, TempDir};

#[derive(Clone, Copy, Debug)]
enum Fmt {
    Int16,
    Int24,
    Float32,
}

/// Writes planar channels as an interleaved WAV.
fn write_wav(path: &Path, rate: u32, channels: &[Vec<f32>], fmt: Fmt) {
    let (bits, format) = match fmt {
        Fmt::Int16 => (16, hound::SampleFormat::Int),
        Fmt::Int24 => (24, hound::SampleFormat::Int),
        Fmt::Float32 => (32, hound::SampleFormat::Float),
    };
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: format,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..channels[0].len() {
        for ch in channels {
            match fmt {
                Fmt::Int16 => w.write_sample(quantize(ch[i], 16) as i16).unwrap(),
                Fmt::Int24 => w.write_sample(quantize(ch[i], 24)).unwrap(),
                Fmt::Float32 => w.write_sample(ch[i]).unwrap(),
            }
        }
    }
    w.finalize().unwrap();
}

fn quantize(x: f32, bits: u32) -> i32 {
    let full = (1u32 << (bits - 1)) as f32;
    (x * full).round().clamp(-full, full - 1.0) as i32
}

/// Writes planar channels as a FLAC file of the given bit depth.
fn write_flac(path: &Path, rate: u32, channels: &[Vec<f32>], bits: u32) {
    use flacenc::component::BitRepr;
    use flacenc::error::Verify;
    let mut interleaved = Vec::new();
    for i in 0..channels[0].len() {
        for ch in channels {
            interleaved.push(quantize(ch[i], bits));
        }
    }
    let config = flacenc::config::Encoder::default().into_verified().unwrap();
    let source = flacenc::source::MemSource::from_samples(
        &interleaved,
        channels.len(),
        bits as usize,
        rate as usize,
    );
    let mut stream =
        flacenc::encode_with_fixed_block_size(&config, source, config.block_size).unwrap();
    // A fixed-block-size stream states min = max block size (as libFLAC writes it; the last block may be
    // shorter), which readers use to number the frames.
    stream
        .stream_info_mut()
        .set_block_sizes(config.block_size, config.block_size)
        .unwrap();
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream.write(&mut sink).unwrap();
    std::fs::write(path, sink.as_slice()).unwrap();
}

/// Reads a WAV back as planar channels plus its spec.
fn read_wav(path: &Path) -> (hound::WavSpec, Vec<Vec<f32>>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map(Result::unwrap).collect(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u32 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>()
                .map(|x| x.unwrap() as f32 * scale)
                .collect()
        }
    };
    let n = spec.channels as usize;
    let planar = (0..n)
        .map(|c| interleaved.iter().skip(c).step_by(n).copied().collect())
        .collect();
    (spec, planar)
}

/// Seeded test programme: a voice plus noise, different per channel.
fn signal(rate: u32, seconds: f32, channels: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = Rng::new(seed);
    (0..channels)
        .map(|c| {
            let voice = synth::voice(
                rate as f32,
                seconds,
                &Voice {
                    f0_start_hz: 110.0 + 30.0 * c as f32,
                    ..Voice::default()
                },
            );
            let noise = synth::white(&mut rng, voice.len(), -35.0);
            voice
                .iter()
                .zip(&noise)
                .map(|(a, b)| 0.5 * (a + b))
                .collect()
        })
        .collect()
}

fn max_abs_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f32::max)
}

#[test]
fn zero_reduction_returns_the_input_sample_aligned() {
    let dir = TempDir::new("identity");
    for rate in [16_000, 44_100, 48_000, 96_000] {
        for channels in [1, 2] {
            let x = signal(rate, 0.77, channels, u64::from(rate) + channels as u64);
            let input = dir.path(&format!("in-{rate}-{channels}.wav"));
            let output = dir.path(&format!("out-{rate}-{channels}.wav"));
            write_wav(&input, rate, &x, Fmt::Float32);
            let model = dir.path("model.safetensors");
            ModelWeights::seeded_random(5).save(&model).unwrap();
            for mode in ["classic", "neural"] {
                let mut args = vec![
                    s(&input),
                    "-o",
                    s(&output),
                    "--reduction",
                    "0",
                    "--mode",
                    mode,
                    "--force",
                    "--quiet",
                ];
                if mode == "neural" {
                    args.extend(["--model", s(&model)]);
                }
                let o = quell(&args);
                assert!(
                    o.status.success(),
                    "{rate} Hz {channels} ch {mode}: {}",
                    stderr(&o)
                );
                let (spec, y) = read_wav(&output);
                assert_eq!(spec.sample_rate, rate);
                assert_eq!(spec.channels as usize, channels);
                assert_eq!(spec.sample_format, hound::SampleFormat::Float);
                assert_eq!(y[0].len(), x[0].len(), "length at {rate} Hz");
                let err = max_abs_diff(&x, &y);
                assert!(
                    err <= 1e-5,
                    "{rate} Hz {channels} ch {mode}: max error {err}"
                );
            }
        }
    }
}

#[test]
fn formats_rates_and_channel_counts_round_trip() {
    let dir = TempDir::new("formats");
    let cases: &[(&str, u32, usize)] = &[
        ("wav16", 44_100, 1),
        ("wav24", 48_000, 2),
        ("wavf", 96_000, 2),
        ("wav16", 32_000, 6),
        ("wavf", 22_050, 1),
        ("flac16", 48_000, 2),
        ("flac24", 44_100, 1),
        ("flac16", 16_000, 3),
    ];
    for &(kind, rate, channels) in cases {
        let x = signal(rate, 0.5, channels, 7);
        let input = dir.path(&format!(
            "{kind}-{rate}-{channels}.{}",
            if kind.starts_with("flac") {
                "flac"
            } else {
                "wav"
            }
        ));
        let (tolerance, bits_arg) = match kind {
            "wav16" => {
                write_wav(&input, rate, &x, Fmt::Int16);
                (1.0 / 32768.0 + 1e-5, "16")
            }
            "wav24" => {
                write_wav(&input, rate, &x, Fmt::Int24);
                (1.0 / 8_388_608.0 + 1e-5, "24")
            }
            "wavf" => {
                write_wav(&input, rate, &x, Fmt::Float32);
                (1e-5, "32")
            }
            "flac16" => {
                write_flac(&input, rate, &x, 16);
                (1.0 / 32768.0 + 1e-5, "16")
            }
            _ => {
                write_flac(&input, rate, &x, 24);
                (1.0 / 8_388_608.0 + 1e-5, "24")
            }
        };
        let output = dir.path(&format!("{kind}-{rate}-{channels}-out.wav"));
        let o = quell(&[
            s(&input),
            "-o",
            s(&output),
            "--mode",
            "classic",
            "--reduction",
            "0",
            "--bits",
            bits_arg,
            "--quiet",
        ]);
        assert!(
            o.status.success(),
            "{kind} {rate} {channels}: {}",
            stderr(&o)
        );
        let (spec, y) = read_wav(&output);
        assert_eq!(spec.sample_rate, rate, "{kind}");
        assert_eq!(spec.channels as usize, channels, "{kind}");
        assert_eq!(spec.bits_per_sample.to_string(), bits_arg, "{kind}");
        assert_eq!(y[0].len(), x[0].len(), "{kind} length");
        // Against the input as stored (quantized), the output differs by at most one output LSB.
        let err = max_abs_diff(&x, &y);
        assert!(
            err <= 2.0 * tolerance,
            "{kind} {rate} Hz {channels} ch: max error {err}"
        );
    }
}

#[test]
fn noise_is_reduced_and_speech_kept_in_a_stereo_file() {
    let dir = TempDir::new("reduce");
    let rate = 48_000;
    let clean = synth::voice(rate as f32, 4.0, &Voice::default());
    let mut rng = Rng::new(11);
    let noisy: Vec<Vec<f32>> = (0..2)
        .map(|_| {
            let noise = synth::pink(&mut rng, clean.len(), -26.0);
            clean.iter().zip(&noise).map(|(a, b)| a + b).collect()
        })
        .collect();
    let input = dir.path("noisy.wav");
    let output = dir.path("clean.wav");
    write_wav(&input, rate, &noisy, Fmt::Float32);
    let o = quell(&[s(&input), "-o", s(&output), "--mode", "classic", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (_, y) = read_wav(&output);
    let skip = rate as usize; // the noise tracker's first second
    for c in 0..2 {
        let before = si_sdr(&clean[skip..], &noisy[c][skip..]);
        let after = si_sdr(&clean[skip..], &y[c][skip..]);
        assert!(
            after > before + 3.0,
            "channel {c}: SI-SDR {before:.1} -> {after:.1} dB"
        );
    }
}

#[test]
fn batch_processes_in_parallel_and_reports_failures_at_the_end() {
    let dir = TempDir::new("batch");
    let out = dir.path("out");
    let mut args = Vec::new();
    for i in 0..4 {
        let p = dir.path(&format!("take{i}.wav"));
        write_wav(&p, 48_000, &signal(48_000, 0.3, 2, i), Fmt::Int16);
        args.push(p);
    }
    let bad = dir.path("broken.wav");
    std::fs::write(&bad, b"this is not audio at all").unwrap();
    args.insert(2, bad.clone());
    let mut cli: Vec<&str> = args.iter().map(|p| s(p)).collect();
    cli.extend(["--out-dir", s(&out), "--mode", "classic", "--jobs", "2"]);
    let o = quell(&cli);
    assert_eq!(
        o.status.code(),
        Some(1),
        "a failed file gives exit status 1"
    );
    let err = stderr(&o);
    assert!(
        err.contains("1 of 5 file(s) failed") && err.contains("broken.wav"),
        "{err}"
    );
    assert!(err.contains("not an audio file"), "{err}");
    for i in 0..4 {
        let (spec, y) = read_wav(&out.join(format!("take{i}.wav")));
        assert_eq!((spec.channels, y[0].len()), (2, 14_400));
    }
    assert!(!out.join("broken.wav").exists());
    // No partial files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn outputs_are_protected() {
    let dir = TempDir::new("protect");
    let input = dir.path("voice.wav");
    write_wav(&input, 48_000, &signal(48_000, 0.3, 1, 1), Fmt::Int16);
    let original = std::fs::read(&input).unwrap();

    // Never overwrites an input, even with --force, even through another spelling of the path.
    let same = dir.0.join(".").join("voice.wav");
    let o = quell(&[s(&input), "-o", s(&same), "--force", "--mode", "classic"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("refusing to overwrite an input"),
        "{}",
        stderr(&o)
    );
    let o = quell(&[
        s(&input),
        "--out-dir",
        s(&dir.0),
        "--force",
        "--mode",
        "classic",
    ]);
    assert_ne!(o.status.code(), Some(0));
    assert_eq!(
        std::fs::read(&input).unwrap(),
        original,
        "the input is untouched"
    );

    // An existing output is kept unless --force.
    let output = dir.path("existing.wav");
    std::fs::write(&output, b"precious").unwrap();
    let o = quell(&[s(&input), "-o", s(&output), "--mode", "classic"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&output).unwrap(), b"precious");
    let o = quell(&[s(&input), "-o", s(&output), "--mode", "classic", "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_wav(&output).1[0].len(), 14_400);

    // A failed run leaves an existing output untouched.
    let broken = dir.path("broken.wav");
    std::fs::write(&broken, &original[..original.len() / 2]).unwrap();
    let before = std::fs::read(&output).unwrap();
    let o = quell(&[s(&broken), "-o", s(&output), "--mode", "classic", "--force"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read(&output).unwrap(), before);
}

#[test]
fn bad_inputs_give_clear_errors() {
    let dir = TempDir::new("errors");
    let good = signal(48_000, 0.3, 1, 2);
    type Maker<'a> = Box<dyn Fn(&Path) + 'a>;
    let cases: Vec<(&str, Maker, &str)> = vec![
        ("missing.wav", Box::new(|_| {}), "no such file"),
        (
            "empty.wav",
            Box::new(|p| std::fs::write(p, b"").unwrap()),
            "empty (0 bytes)",
        ),
        (
            "text.wav",
            Box::new(|p| std::fs::write(p, b"hello, I am a text file").unwrap()),
            "not an audio file (it holds text)",
        ),
        (
            "silent.wav",
            Box::new(|p| write_wav(p, 48_000, &[vec![]], Fmt::Int16)),
            "no audio",
        ),
        (
            "truncated.wav",
            Box::new(|p| {
                write_wav(p, 48_000, &good, Fmt::Int24);
                let bytes = std::fs::read(p).unwrap();
                std::fs::write(p, &bytes[..bytes.len() * 2 / 3 + 1]).unwrap();
            }),
            "truncated",
        ),
        (
            "garbage.flac",
            Box::new(|p| {
                let mut b = b"fLaC".to_vec();
                b.extend([0x80, 0, 0, 5, 1, 2, 3]);
                std::fs::write(p, b).unwrap();
            }),
            "FLAC",
        ),
        (
            "lowrate.wav",
            Box::new(|p| write_wav(p, 4_000, &[vec![0.1; 4000]], Fmt::Int16)),
            "4000 Hz",
        ),
        (
            "alaw.wav",
            Box::new(|p| {
                // A RIFF/WAVE header declaring format 6 (A-law).
                let mut b = Vec::new();
                b.extend(b"RIFF");
                b.extend(46u32.to_le_bytes());
                b.extend(b"WAVEfmt ");
                b.extend(18u32.to_le_bytes());
                b.extend(6u16.to_le_bytes());
                b.extend(1u16.to_le_bytes());
                b.extend(8000u32.to_le_bytes());
                b.extend(8000u32.to_le_bytes());
                b.extend(1u16.to_le_bytes());
                b.extend(8u16.to_le_bytes());
                b.extend(0u16.to_le_bytes());
                b.extend(b"data");
                b.extend(2u32.to_le_bytes());
                b.extend([0xd5, 0xd5]);
                std::fs::write(p, b).unwrap();
            }),
            "WAV",
        ),
    ];
    for (name, make, expect) in cases {
        let input = dir.path(name);
        make(&input);
        let output = dir.path(&format!("{name}.out.wav"));
        let o = quell(&[s(&input), "-o", s(&output), "--mode", "classic"]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(expect),
            "{name}: expected '{expect}' in: {err}"
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(!output.exists(), "{name}: no output is written");
    }

    // A damaged model file is refused with a clear message before anything runs.
    let input = dir.path("ok.wav");
    write_wav(&input, 48_000, &good, Fmt::Int16);
    let model = dir.path("model.safetensors");
    std::fs::write(&model, b"\x08\0\0\0\0\0\0\0{broken}").unwrap();
    let o = quell(&[s(&input), "-o", s(&dir.path("m.wav")), "--model", s(&model)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot load the model"),
        "{}",
        stderr(&o)
    );

    // Options out of range.
    for bad in [
        vec!["--reduction", "-3"],
        vec!["--reduction", "nan"],
        vec!["--gate", "1.5"],
        vec!["--mode", "classic", "--gate", "0.5"],
    ] {
        let mut a = vec![s(&input), "-o", "x.wav"];
        a.extend(bad.iter().copied());
        let o = quell(&a);
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
    }
}

#[test]
fn non_finite_samples_and_clipping_are_reported_not_hidden() {
    let dir = TempDir::new("report");
    let mut x = signal(48_000, 0.5, 1, 3);
    x[0][1000] = f32::NAN;
    x[0][2000] = f32::INFINITY;
    for v in &mut x[0][10_000..10_100] {
        *v = 1.5;
    }
    let input = dir.path("hot.wav");
    write_wav(&input, 48_000, &x, Fmt::Float32);
    let output = dir.path("hot-out.wav");
    let o = quell(&[
        s(&input),
        "-o",
        s(&output),
        "--mode",
        "classic",
        "--reduction",
        "0",
        "--bits",
        "16",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("2 NaN or infinite input samples"), "{err}");
    assert!(
        err.contains("100 output samples exceeded full scale"),
        "{err}"
    );
    let (_, y) = read_wav(&output);
    assert!(y[0].iter().all(|v| v.is_finite() && v.abs() <= 1.0));
    assert!(
        (y[0][10_050] - 32767.0 / 32768.0).abs() < 1e-6,
        "clipped to full scale"
    );
}

#[test]
fn the_built_in_model_reduces_noise_by_default() {
    let dir = TempDir::new("neural");
    let rate = 48_000;
    let clean = synth::voice(rate as f32, 4.0, &Voice::default());
    let mut rng = Rng::new(21);
    let noise = synth::pink(&mut rng, clean.len(), -30.0);
    let noisy: Vec<f32> = clean.iter().zip(&noise).map(|(a, b)| a + b).collect();
    let input = dir.path("noisy.wav");
    let output = dir.path("out.wav");
    write_wav(&input, rate, std::slice::from_ref(&noisy), Fmt::Float32);
    let o = quell(&[s(&input), "-o", s(&output), "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (_, y) = read_wav(&output);
    let skip = rate as usize / 2;
    let before = si_sdr(&clean[skip..], &noisy[skip..]);
    let after = si_sdr(&clean[skip..], &y[0][skip..]);
    assert!(after > before + 3.0, "SI-SDR {before:.1} -> {after:.1} dB");
}

#[test]
fn the_vad_gate_quietens_pauses_and_keeps_the_voice() {
    let dir = TempDir::new("gate");
    let rate = 48_000;
    let mut x = synth::voice(rate as f32, 2.0, &Voice::default());
    x.extend(std::iter::repeat_n(0.0, 2 * rate as usize));
    let mut rng = Rng::new(5);
    let noise = synth::pink(&mut rng, x.len(), -40.0);
    let x: Vec<f32> = x.iter().zip(&noise).map(|(a, b)| a + b).collect();
    let input = dir.path("in.wav");
    write_wav(&input, rate, std::slice::from_ref(&x), Fmt::Float32);
    let run = |extra: &[&str], name: &str| -> Vec<f32> {
        let out = dir.path(name);
        let mut args = vec![s(&input), "-o", s(&out), "--quiet"];
        args.extend_from_slice(extra);
        let o = quell(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        read_wav(&out).1.remove(0)
    };
    let open = run(&["--reduction", "60"], "open.wav");
    let gated = run(
        &["--reduction", "60", "--gate", "0.85", "--hold", "100"],
        "gated.wav",
    );
    let db = |a: &[f32], b: &[f32]| {
        let e = |x: &[f32]| x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() + 1e-20;
        10.0 * (e(a) / e(b)).log10()
    };
    let pause = 3 * rate as usize..4 * rate as usize;
    let voice = rate as usize / 2..rate as usize * 3 / 2;
    let pause_db = db(&gated[pause.clone()], &open[pause]);
    let voice_db = db(&gated[voice.clone()], &open[voice]);
    assert!(pause_db < -6.0, "the pause is {pause_db:.1} dB quieter");
    assert!(voice_db > -1.0, "the voice changes by {voice_db:.1} dB");
}

#[test]
fn out_dir_keeps_whole_names_and_refuses_two_inputs_for_one_output() {
    let dir = TempDir::new("names");
    let out = dir.path("out");
    let a = dir.path("ep.01.wav");
    let b = dir.path("ep.02.wav");
    let c = dir.path("2024.05.01 interview.wav");
    for p in [&a, &b, &c] {
        write_wav(p, 16_000, &signal(16_000, 0.2, 1, 3), Fmt::Int16);
    }
    let o = quell(&[
        s(&a),
        s(&b),
        s(&c),
        "--out-dir",
        s(&out),
        "--mode",
        "classic",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for name in ["ep.01.wav", "ep.02.wav", "2024.05.01 interview.wav"] {
        assert!(out.join(name).exists(), "{name} missing");
    }
    // A FLAC input keeps its format and whole name by default; with --format wav it becomes .wav.
    let ep = dir.path("ep.03.flac");
    write_flac(&ep, 16_000, &signal(16_000, 0.2, 1, 4), 16);
    let o = quell(&[s(&ep), "--out-dir", s(&out), "--mode", "classic"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("ep.03.flac").exists());
    let o = quell(&[
        s(&ep),
        "--out-dir",
        s(&out),
        "--mode",
        "classic",
        "--format",
        "wav",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_wav(&out.join("ep.03.wav")).0.bits_per_sample, 16);
    // Two inputs with one output name (same stem, different extensions, one format): both refused, nothing
    // written.
    let flac = dir.path("take.flac");
    write_flac(&flac, 16_000, &signal(16_000, 0.2, 1, 4), 16);
    let wav = dir.path("take.wav");
    write_wav(&wav, 16_000, &signal(16_000, 0.2, 1, 5), Fmt::Int16);
    let out2 = dir.path("out2");
    let o = quell(&[
        s(&flac),
        s(&wav),
        "--out-dir",
        s(&out2),
        "--format",
        "wav",
        "--mode",
        "classic",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("take.flac") && err.contains("take.wav") && err.contains("would all write"),
        "{err}"
    );
    assert!(!out2.join("take.wav").exists());
}

#[test]
fn an_output_named_for_another_format_is_refused_not_mislabelled() {
    let dir = TempDir::new("ext");
    let input = dir.path("in.wav");
    write_wav(&input, 16_000, &signal(16_000, 0.2, 1, 6), Fmt::Int16);
    for name in ["out.m4a", "out.MP3", "out.ogg"] {
        let out = dir.path(name);
        let o = quell(&[s(&input), "-o", s(&out), "--mode", "classic"]);
        assert_eq!(o.status.code(), Some(2), "{name}");
        assert!(
            stderr(&o).contains("writes WAV and FLAC only"),
            "{}",
            stderr(&o)
        );
        assert!(!out.exists(), "{name} was written");
    }
}
