//! `cargo xtask pairs`: writes clean/noisy WAV pairs of one evaluation half ([`crate::halves`]): the tuning
//! half for choosing constants and models, the report half for the figures in docs. The two share no speaker
//! and no noise recording. The files go under `target/` (never into the repository: they are cut from the
//! corpus) and are the input of `cargo xtask eval --pairs`.
//!
//! Every pair has a noise category (typing, babble, music, stationary, non-stationary, synthetic), an SNR
//! (−5 to 20 dB, from the active level of the speech in the mixture) and a room condition: a third of the pairs
//! put the speech through a synthetic room before the noise. By default ([`RoomModel::Schroeder`], the pairs
//! of the reported figures) that is Schroeder reverberation of 0.3–0.9 s and the reverberant speech is the
//! reference (Quell and its peers are suppressors, not de-reverberators). `--room-model early` instead uses a
//! room response of [`crate::room`] and the speech through its direct path and first 50 ms as the reference,
//! so that the late tail is scored like noise (experimental: see docs/quality.md). `pairs.csv` beside `clean/` and
//! `noisy/` records all of it, and `cargo xtask eval` groups its results by it.

use crate::audio::{write_wav, WavFormat};
use crate::data::{self, Clip, RATE};
use crate::halves::Half;
use crate::mix::{add_typing, reverb, uniform};
use crate::room::{convolve, Room, RoomRange};
use crate::train::{load_pool, Select};
use anyhow::{bail, Context, Result};
use quell_dsp::metrics::active_rms;
use quell_dsp::synth::{self, Rng};
use std::fmt::Write as _;
use std::path::PathBuf;

/// The rooms of the room pairs.
pub const PAIR_ROOMS: RoomRange = RoomRange {
    rt60_s: (0.3, 0.9),
    tail_db: (-6.0, 6.0),
};

/// How the room pairs of `cargo xtask pairs` are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoomModel {
    /// Schroeder reverberation (RT60 0.3–0.9 s, 30–70 % wet); the reverberant speech is the reference.
    Schroeder,
    /// A [`Room`] of [`PAIR_ROOMS`]; its direct path and early reflections are the reference.
    Early,
}

/// Options of `cargo xtask pairs`.
#[derive(clap::Args, Debug)]
pub struct PairsArgs {
    /// The corpus folder (with manifest.csv).
    #[arg(long, default_value = "../shared/data")]
    pub data: PathBuf,
    /// Which half to mix from: `report` (figures in docs) or `tuning` (choosing constants and models).
    #[arg(long, value_enum, default_value_t = Half::Report)]
    pub half: Half,
    /// Where to write clean/, noisy/ and pairs.csv (default: target/pairs-HALF).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Pairs made from band-limited (16 kHz) speech (36 = every category at every SNR once).
    #[arg(long, default_value_t = 72)]
    pub narrow: usize,
    /// Pairs made from full-band speech.
    #[arg(long, default_value_t = 72)]
    pub full: usize,
    /// Seed of the mixing choices.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// How the room pairs are made: `schroeder` (the reported pairs: Schroeder reverberation, the whole
    /// reverberant speech as the reference) or `early` (experimental: a synthetic room response, the direct path
    /// and first 50 ms as the reference; see `docs/quality.md` before using it).
    #[arg(long, value_enum, default_value_t = RoomModel::Schroeder)]
    pub room_model: RoomModel,
    /// Sample rate of the written files, Hz (8000 to 48000): the same mixtures as at 48 kHz, resampled, so
    /// that a rate's figures compare pair by pair with the 48 kHz ones (the reference is resampled alike).
    #[arg(long, default_value_t = RATE)]
    pub rate: u32,
    /// Make only typing pairs, each of the half's key clips struck in bursts of 0.4–1.5 s after silent gaps of
    /// 1–2.5 s (`pairs::key_bursts`): keys in the pauses of speech, where a suppressor without look-ahead must
    /// judge a key by its first frame. Write them to their own folder with `--out`; the standard pairs of the
    /// halves are not changed.
    #[arg(long)]
    pub typing_bursts: bool,
}

/// Shortest and longest burst of [`key_bursts`], seconds.
pub const BURST_S: (f64, f64) = (0.4, 1.5);
/// Shortest and longest silent gap before a burst of [`key_bursts`], seconds.
pub const BURST_GAP_S: (f64, f64) = (1.0, 2.5);

/// SNRs cycled through, dB.
pub const SNRS: [f32; 6] = [-5.0, 0.0, 5.0, 10.0, 15.0, 20.0];
/// Noise categories cycled through, as named in pair names and `pairs.csv`.
pub const CATEGORIES: [&str; 6] = [
    "typing",
    "babble",
    "music",
    "stationary",
    "nonstationary",
    "synthetic",
];
/// Active speech level of every clean file, dBFS.
const SPEECH_DBFS: f32 = -26.0;

/// A uniform index below `n` (n > 0).
fn below(rng: &mut Rng, n: usize) -> usize {
    ((rng.uniform() * n as f64) as usize).min(n.saturating_sub(1))
}

/// Concatenates random clips of `speech` until at least 4 s (at most 8 s); returns it with the speakers used.
fn utterance(rng: &mut Rng, speech: &[&Clip]) -> (Vec<f32>, Vec<String>) {
    let mut out = Vec::new();
    let mut speakers: Vec<String> = Vec::new();
    while out.len() < 4 * RATE as usize {
        let clip = speech[below(rng, speech.len())];
        // 5 ms fades, so that the joins between clips do not click (a click would add a broadband edge that
        // is neither speech nor noise).
        let fade = (RATE as usize / 200).min(clip.samples.len() / 2).max(1);
        let n = clip.samples.len();
        out.extend(clip.samples.iter().enumerate().map(|(i, &v)| {
            let edge = i.min(n - 1 - i);
            if edge < fade {
                v * edge as f32 / fade as f32
            } else {
                v
            }
        }));
        if !speakers.contains(&clip.speaker) {
            speakers.push(clip.speaker.clone());
        }
    }
    out.truncate(8 * RATE as usize);
    (out, speakers)
}

/// A segment of `len` samples of one recording of `clips`, looped if short; returns it with its path.
fn recording(rng: &mut Rng, clips: &[&Clip], len: usize) -> (Vec<f32>, String) {
    let clip = clips[below(rng, clips.len())];
    let src = &clip.samples;
    let start = below(rng, src.len().max(1));
    let x = (0..len).map(|k| src[(start + k) % src.len()]).collect();
    (x, clip.path.clone())
}

/// Noise of `category` for `len` samples, and a description of its source.
fn noise(
    rng: &mut Rng,
    category: &str,
    pool: &crate::mix::Pool,
    len: usize,
) -> Result<(Vec<f32>, String)> {
    let of =
        |cat: &str| -> Vec<&Clip> { pool.noise.iter().filter(|c| c.category == cat).collect() };
    Ok(match category {
        "typing" => {
            let packs = of("keyboard");
            if !pool.clicks.is_empty() && (packs.is_empty() || rng.uniform() < 0.5) {
                // Typing made of the half's single key clips: 4–10 keys per second, ±8 dB from key to key.
                let mut x = vec![0.0f32; len];
                let keys = uniform(rng, 4.0, 10.0);
                add_typing(rng, &pool.clicks, &mut x, keys, 1.0, None);
                (x, format!("key clips at {keys:.1}/s"))
            } else if !packs.is_empty() {
                recording(rng, &packs, len)
            } else {
                bail!("no keyboard recordings or key clips in this half");
            }
        }
        "synthetic" => match rng.next_u64() % 4 {
            0 => (synth::white(rng, len, -20.0), "white".into()),
            1 => (synth::pink(rng, len, -20.0), "pink".into()),
            2 => (synth::brown(rng, len, -20.0), "brown".into()),
            _ => {
                let f = if rng.uniform() < 0.5 { 50.0 } else { 60.0 };
                let mut h = synth::hum(RATE as f32, len, f, 8, -20.0);
                let buzz = synth::white(rng, len, -40.0);
                h.iter_mut().zip(&buzz).for_each(|(a, b)| *a += b);
                (h, format!("{f} Hz hum and hiss"))
            }
        },
        cat => {
            let clips = of(cat);
            if clips.is_empty() {
                bail!("no {cat} recordings in this half");
            }
            recording(rng, &clips, len)
        }
    })
}

/// `len` samples of typing in bursts: 5–10 keys per second from `clicks` (each key's peak ±4 dB around the
/// others') for [`BURST_S`], then digital silence for [`BURST_GAP_S`] after the burst's last key interval (a
/// key started in a burst rings out into the gap); the first burst starts within 0.5 s. Returns the samples
/// (silence when `clicks` is empty) and their description for `pairs.csv`. Allocates.
pub fn key_bursts(rng: &mut Rng, clicks: &[Clip], len: usize) -> (Vec<f32>, String) {
    let mut x = vec![0.0f32; len];
    let rate = RATE as f64;
    let keys_per_second = uniform(rng, 5.0, 10.0);
    let mut t = (uniform(rng, 0.0, 0.5) * rate) as usize;
    if clicks.is_empty() {
        t = len;
    }
    while t < len {
        let end = (t + (uniform(rng, BURST_S.0, BURST_S.1) * rate) as usize).min(len);
        while t < end {
            let clip = &clicks[below(rng, clicks.len())].samples;
            let peak = clip.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
            let g = 10f32.powf(uniform(rng, -4.0, 4.0) as f32 / 20.0) / peak;
            for (o, v) in x[t..].iter_mut().zip(clip) {
                *o += v * g;
            }
            t += (rate / keys_per_second * uniform(rng, 0.5, 1.5)) as usize;
        }
        // `t` is where the burst's next key would have come: the gap adds to that.
        t += (uniform(rng, BURST_GAP_S.0, BURST_GAP_S.1) * rate) as usize;
    }
    (
        x,
        format!(
            "key bursts at {keys_per_second:.1}/s after {:.0}-{:.1} s gaps",
            BURST_GAP_S.0, BURST_GAP_S.1
        ),
    )
}

/// Runs the command.
pub fn run(args: &PairsArgs) -> Result<()> {
    if !(8_000..=RATE).contains(&args.rate) {
        bail!("--rate must lie in 8000..={RATE} Hz, got {}", args.rate);
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("target/pairs-{}", args.half.name())));
    let entries = data::manifest(&args.data)?;
    let select = Select::Half(args.half);
    let speech_entries: Vec<&data::Entry> = entries
        .iter()
        .filter(|e| e.kind == "speech" && select.takes(e))
        .collect();
    let mut speakers: Vec<&str> = speech_entries.iter().map(|e| e.speaker.as_str()).collect();
    speakers.sort_unstable();
    speakers.dedup();
    println!(
        "{} half: {} speakers, {:.1} min of speech",
        args.half.name(),
        speakers.len(),
        speech_entries.iter().map(|e| e.duration_s).sum::<f64>() / 60.0
    );
    let pool = load_pool(&args.data, &entries, select)?;
    let narrow: Vec<&Clip> = pool
        .speech
        .iter()
        .filter(|c| c.bandwidth_hz <= 8_000.0)
        .collect();
    let full: Vec<&Clip> = pool
        .speech
        .iter()
        .filter(|c| c.bandwidth_hz >= 20_000.0)
        .collect();
    for sub in ["clean", "noisy"] {
        std::fs::create_dir_all(out.join(sub))?;
    }
    let mut rng = Rng::new(args.seed ^ (args.half as u64) << 32);
    let mut csv = String::from("name,half,speech,category,room,rt60_s,snr_db,speakers,noise\n");
    let mut written = 0;
    let categories: &[&str] = if args.typing_bursts {
        &["typing"]
    } else {
        &CATEGORIES
    };
    for (group, count, speech) in [("nb", args.narrow, &narrow), ("fb", args.full, &full)] {
        if count > 0 && speech.is_empty() {
            bail!("no {group} speech in the {} half", args.half.name());
        }
        for i in 0..count {
            let category = categories[i % categories.len()];
            let snr = SNRS[(i / categories.len()) % SNRS.len()];
            let room = rng.uniform() < 1.0 / 3.0;
            let (dry, speakers) = utterance(&mut rng, speech);
            // In a room the mixture hears the whole response and the reference is its direct path and
            // early reflections; dry, both are the utterance itself.
            let (mut clean, mut heard, rt60) = match (room, args.room_model) {
                (false, _) => (dry.clone(), dry, String::new()),
                (true, RoomModel::Schroeder) => {
                    let rt60 = uniform(&mut rng, 0.3, 0.9);
                    let wet = uniform(&mut rng, 0.3, 0.7);
                    let mut wet_speech = dry;
                    reverb(&mut wet_speech, &mut rng, rt60, wet);
                    (wet_speech.clone(), wet_speech, format!("{rt60:.2}"))
                }
                (true, RoomModel::Early) => {
                    let r = Room::random(&mut rng, PAIR_ROOMS);
                    let rt60 = format!("{:.2}", r.rt60_s);
                    (convolve(&dry, &r.early), convolve(&dry, &r.full), rt60)
                }
            };
            let g = 10f32.powf(SPEECH_DBFS / 20.0) / (active_rms(&heard, RATE) as f32).max(1e-9);
            clean.iter_mut().for_each(|v| *v *= g);
            heard.iter_mut().for_each(|v| *v *= g);
            let (mut n, source) = if args.typing_bursts {
                if pool.clicks.is_empty() {
                    bail!("no key clips in the {} half", args.half.name());
                }
                key_bursts(&mut rng, &pool.clicks, clean.len())
            } else {
                noise(&mut rng, category, &pool, clean.len())
                    .with_context(|| format!("{} half, {category}", args.half.name()))?
            };
            let speech_power = (active_rms(&heard, RATE) as f32).powi(2);
            let noise_power = n.iter().map(|v| v * v).sum::<f32>() / n.len() as f32;
            let gn = (speech_power / noise_power.max(1e-12) / 10f32.powf(snr / 10.0)).sqrt();
            n.iter_mut().for_each(|v| *v *= gn);
            let mut noisy: Vec<f32> = heard.iter().zip(&n).map(|(a, b)| a + b).collect();
            let peak = noisy.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            if peak > 0.95 {
                let s = 0.95 / peak;
                noisy.iter_mut().for_each(|v| *v *= s);
                clean.iter_mut().for_each(|v| *v *= s);
            }
            let condition = if room { "room" } else { "dry" };
            let name = format!("{group}-{i:03}-{category}-{condition}-snr{snr:+03.0}.wav");
            for (sub, x) in [("clean", &clean), ("noisy", &noisy)] {
                write_wav(
                    &out.join(sub).join(&name),
                    args.rate,
                    &crate::audio::resample(x, RATE, args.rate),
                    WavFormat::Float32,
                )?;
            }
            writeln!(
                csv,
                "{name},{},{group},{category},{room},{rt60},{snr},{},{}",
                args.half.name(),
                speakers.join(" "),
                source.replace(',', " ")
            )?;
            written += 1;
        }
    }
    std::fs::write(out.join("pairs.csv"), csv)?;
    println!(
        "wrote {written} pairs of the {} half to {}",
        args.half.name(),
        out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mix::tests::key_clip;

    #[test]
    fn key_bursts_come_between_silent_gaps_of_the_stated_lengths() {
        let clicks = [key_clip()];
        let len = 30 * RATE as usize;
        let (x, source) = key_bursts(&mut Rng::new(3), &clicks, len);
        assert!(source.starts_with("key bursts at "), "{source}");
        // Runs of 10 ms frames with and without keys (a key's 20 ms clip is far louder than −100 dBFS).
        let frame = RATE as usize / 100;
        let loud: Vec<bool> = x
            .chunks(frame)
            .map(|c| c.iter().any(|v| v.abs() > 1e-5))
            .collect();
        let mut runs: Vec<(bool, usize)> = Vec::new();
        for &l in &loud {
            match runs.last_mut() {
                Some((k, n)) if *k == l => *n += 1,
                _ => runs.push((l, 1)),
            }
        }
        // Whole runs only: not the first (the start) nor the last (cut by the end of the file).
        let inner = &runs[1..runs.len() - 1];
        let gaps: Vec<usize> = inner.iter().filter(|r| !r.0).map(|r| r.1).collect();
        let bursts: Vec<usize> = inner.iter().filter(|r| r.0).map(|r| r.1).collect();
        assert!(gaps.len() >= 8, "{runs:?}");
        // A gap between bursts lasts its 1–2.5 s plus one key interval (0.05–0.3 s) less its last key (20 ms);
        // gaps between keys inside a burst are at most 0.3 s (1.5 / 5 keys per second).
        let long: Vec<usize> = gaps.iter().copied().filter(|&g| g > 30).collect();
        assert!(long.iter().all(|&g| (100..=285).contains(&g)), "{gaps:?}");
        assert!(gaps.iter().all(|&g| g <= 30 || g >= 100), "{gaps:?}");
        // Each key lasts 20 ms; a burst of keys spans at most 1.5 s plus its last key.
        assert!(bursts.iter().all(|&b| b <= 3), "{bursts:?}");
        assert!(long.len() >= 8, "{long:?}");
        // Keys' peaks lie within ±4 dB of the clip's.
        let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(
            peak <= 10f32.powf(4.0 / 20.0) * 1.01 && peak > 1.0,
            "{peak}"
        );
    }
}
