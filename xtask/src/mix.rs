//! Noisy/clean mixtures made on the fly: random speech and noise segments, SNRs, levels, EQ, reverberation,
//! band limits and clipping (the augmentations listed in docs/model.md).

use crate::data::{Clip, RATE};
use crate::room::{convolve, Room, RoomRange};
use quell_dsp::metrics::active_rms;
use quell_dsp::synth::{self, Rng};

/// One training example: time-aligned clean speech and noisy mixture at 48 kHz.
pub struct Example {
    /// Clean target (what the speech in `noisy` is).
    pub clean: Vec<f32>,
    /// The mixture the model hears.
    pub noisy: Vec<f32>,
    /// Bandwidth of the speech source, Hz (bands above it carry no target).
    pub bandwidth_hz: f32,
    /// Where each speech clip starts and its bandwidth, when the recipe masks the bands per clip
    /// ([`Recipe::clip_bandwidths`]); empty when `bandwidth_hz` holds for the whole example.
    pub segments: BandwidthSegments,
    /// Whether the example contains speech at all.
    pub has_speech: bool,
    /// Sample rate of `clean` and `noisy`, Hz: [`RATE`] unless the recipe resampled the example
    /// ([`Recipe::low_rates`]).
    pub rate: u32,
}

/// Sample rates that [`Recipe::low_rates`] draws, with their weights: the rates of the files and streams that
/// reach Quell besides 48 kHz (telephone and wide-band speech corpora at 8 and 16 kHz above all).
pub const LOW_RATES: [(u32, f64); 6] = [
    (8_000, 0.10),
    (16_000, 0.45),
    (22_050, 0.10),
    (24_000, 0.10),
    (32_000, 0.15),
    (44_100, 0.10),
];

/// Draws one rate of [`LOW_RATES`] by its weight.
pub fn low_rate(rng: &mut Rng) -> u32 {
    let mut u = rng.uniform() * LOW_RATES.iter().map(|(_, w)| w).sum::<f64>();
    for (rate, w) in LOW_RATES {
        if u < w {
            return rate;
        }
        u -= w;
    }
    LOW_RATES[LOW_RATES.len() - 1].0
}

/// The material mixtures are drawn from.
pub struct Pool {
    /// Speech clips.
    pub speech: Vec<Clip>,
    /// Noise recordings (not single key presses).
    pub noise: Vec<Clip>,
    /// Single key presses and releases, for typing bursts.
    pub clicks: Vec<Clip>,
    /// The full-band clips of `speech` ([`Clip::is_full_band`], not silent): (index into `speech`, samples of
    /// the full-band clips up to and including this one), for drawing them by duration.
    full_band: Vec<(usize, usize)>,
}

impl Pool {
    /// A pool of `speech`, `noise` and key `clicks`. Allocates.
    pub fn new(speech: Vec<Clip>, noise: Vec<Clip>, clicks: Vec<Clip>) -> Pool {
        let mut total = 0;
        let full_band = speech
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_full_band() && active_rms(&c.samples, RATE) > 0.0)
            .map(|(i, c)| {
                total += c.samples.len();
                (i, total)
            })
            .collect();
        Pool {
            speech,
            noise,
            clicks,
            full_band,
        }
    }

    /// Hours of full-band speech in the pool. Does not allocate.
    pub fn full_band_hours(&self) -> f64 {
        self.full_band.last().map_or(0, |&(_, n)| n) as f64 / RATE as f64 / 3600.0
    }

    /// A full-band speech clip drawn with a probability proportional to its duration (so that the many short
    /// Callie prompts do not outweigh the longer GCompris sentences), or `None` if the pool has none.
    fn full_band_clip(&self, rng: &mut Rng) -> Option<&Clip> {
        let &(_, total) = self.full_band.last()?;
        let at = (rng.next_u64() % total as u64) as usize;
        let k = self.full_band.partition_point(|&(_, end)| end <= at);
        self.full_band.get(k).map(|&(i, _)| &self.speech[i])
    }
}

/// Uniform in `lo..hi`.
pub fn uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.uniform()
}

fn pick<'a, T>(rng: &mut Rng, v: &'a [T]) -> &'a T {
    &v[(rng.next_u64() % v.len() as u64) as usize]
}

fn scale(x: &mut [f32], g: f64) {
    x.iter_mut().for_each(|v| *v = (*v as f64 * g) as f32);
}

/// A direct-form biquad, applied in place.
fn biquad(x: &mut [f32], b: [f64; 3], a: [f64; 2]) {
    let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
    for v in x.iter_mut() {
        let x0 = *v as f64;
        let y0 = b[0] * x0 + b[1] * x1 + b[2] * x2 - a[0] * y1 - a[1] * y2;
        x2 = x1;
        x1 = x0;
        y2 = y1;
        y1 = y0;
        *v = y0 as f32;
    }
}

/// RBJ peaking equaliser at `f0` Hz, `gain_db`, quality `q`.
fn peaking(x: &mut [f32], f0: f64, gain_db: f64, q: f64) {
    let a = 10f64.powf(gain_db / 40.0);
    let w = 2.0 * std::f64::consts::PI * f0 / RATE as f64;
    let alpha = w.sin() / (2.0 * q);
    let a0 = 1.0 + alpha / a;
    biquad(
        x,
        [
            (1.0 + alpha * a) / a0,
            -2.0 * w.cos() / a0,
            (1.0 - alpha * a) / a0,
        ],
        [-2.0 * w.cos() / a0, (1.0 - alpha / a) / a0],
    );
}

/// RBJ second-order high-pass at `f0` Hz (Q 0.707).
pub fn highpass(x: &mut [f32], f0: f64) {
    let w = 2.0 * std::f64::consts::PI * f0 / RATE as f64;
    let alpha = w.sin() / (2.0 * std::f64::consts::FRAC_1_SQRT_2);
    let a0 = 1.0 + alpha;
    let c = w.cos();
    biquad(
        x,
        [(1.0 + c) / 2.0 / a0, -(1.0 + c) / a0, (1.0 + c) / 2.0 / a0],
        [-2.0 * c / a0, (1.0 - alpha) / a0],
    );
}

/// A random second-order colouring: one or two peaking filters of ±12 dB.
fn random_eq(rng: &mut Rng, x: &mut [f32]) {
    for _ in 0..1 + (rng.next_u64() % 2) {
        let f0 = 10f64.powf(uniform(rng, 2.0, 3.9));
        peaking(x, f0, uniform(rng, -12.0, 12.0), uniform(rng, 0.4, 2.0));
    }
}

/// Schroeder reverberation (four combs, two all-passes) with decay time `rt60` seconds, mixed at `wet`.
pub fn reverb(x: &mut [f32], rng: &mut Rng, rt60: f64, wet: f64) {
    let dry = x.to_vec();
    let mut acc = vec![0.0f32; x.len()];
    for base in [1557usize, 1617, 1491, 1422] {
        let d = (base as f64 * uniform(rng, 0.9, 1.3) * RATE as f64 / 44_100.0) as usize;
        let g = 10f64.powf(-3.0 * d as f64 / (rt60 * RATE as f64)) as f32;
        let mut buf = vec![0.0f32; d];
        for (i, (a, &v)) in acc.iter_mut().zip(&dry).enumerate() {
            let y = buf[i % d];
            buf[i % d] = v + g * y;
            *a += y * 0.25;
        }
    }
    for base in [225usize, 556] {
        let d = base * RATE as usize / 44_100;
        let mut buf = vec![0.0f32; d];
        for (i, a) in acc.iter_mut().enumerate() {
            let b = buf[i % d];
            let y = -0.5 * *a + b;
            buf[i % d] = *a + 0.5 * y;
            *a = y;
        }
    }
    for (v, (&d, &a)) in x.iter_mut().zip(dry.iter().zip(&acc)) {
        *v = (d as f64 + wet * a as f64) as f32;
    }
}

/// A segment of `len` samples from a random clip of `clips`, looping short ones.
fn segment(rng: &mut Rng, clips: &[Clip], len: usize) -> (Vec<f32>, f32) {
    let clip = pick(rng, clips);
    let n = clip.samples.len().max(1);
    let start = (rng.next_u64() % n as u64) as usize;
    (
        (0..len)
            .map(|i| clip.samples.get((start + i) % n).copied().unwrap_or(0.0))
            .collect(),
        clip.bandwidth_hz,
    )
}

/// Where each speech clip of an example starts (sample) and how far up its content goes (Hz): the bands above
/// a frame's clips carry no target.
pub type BandwidthSegments = Vec<(usize, f32)>;

/// Clean speech of `len` samples: random clips back to back (each at −20 dBFS active level, own room tone
/// between words), starting at a random point of the first. With probability `recipe.pauses` a clip is
/// followed by a pause of 0.2–1.5 s (a −100 dBFS dither, so that the frames count as silence with a target of
/// 0 rather than as the digital zeros that the targets skip). With probability `recipe.full_band` every clip of
/// the track is full-band speech, drawn by duration. Returns the samples, the lowest bandwidth of its clips (Hz:
/// their content's, [`Clip::content_hz`], with `recipe.clip_bandwidths` or in a full-band track, else half their
/// stored rate) and, with `recipe.clip_bandwidths`, where each clip starts and its bandwidth (empty otherwise).
fn speech_track(
    rng: &mut Rng,
    pool: &Pool,
    len: usize,
    recipe: &Recipe,
) -> (Vec<f32>, f32, BandwidthSegments) {
    let mut out = Vec::with_capacity(len + RATE as usize);
    let mut bandwidth = f32::INFINITY;
    let mut segments = Vec::new();
    let mut first = true;
    // Only drawn when asked for, so that the earlier recipes' random numbers stay as they were.
    let full_band = recipe.full_band > 0.0 && rng.uniform() < recipe.full_band;
    while out.len() < len {
        let clip = if full_band {
            match pool.full_band_clip(rng) {
                Some(c) => c,
                None => pick(rng, &pool.speech),
            }
        } else {
            pick(rng, &pool.speech)
        };
        let rms = active_rms(&clip.samples, RATE);
        if rms <= 0.0 {
            continue;
        }
        let g = 0.1 / rms * 10f64.powf(uniform(rng, -6.0, 6.0) / 20.0);
        let start = if first {
            (rng.next_u64() % clip.samples.len().max(1) as u64) as usize
        } else {
            0
        };
        first = false;
        // A full-band track takes the measured cut-offs too, so that no voice that stops at 15 kHz teaches the
        // band above it as silence.
        let hz = if recipe.clip_bandwidths || full_band {
            clip.content_hz()
        } else {
            clip.bandwidth_hz
        };
        if recipe.clip_bandwidths {
            segments.push((out.len(), hz));
        }
        out.extend(clip.samples[start..].iter().map(|&v| (v as f64 * g) as f32));
        bandwidth = bandwidth.min(hz);
        if recipe.pauses > 0.0 && rng.uniform() < recipe.pauses {
            let n = (uniform(rng, 0.2, 1.5) * RATE as f64) as usize;
            out.extend(synth::white(rng, n, -100.0));
        }
    }
    out.truncate(len);
    segments.retain(|&(start, _)| start < len);
    (out, bandwidth, segments)
}

/// Noise of `len` samples: a recording (75 %) or a generated noise (white, pink, brown, mains hum, clicks),
/// sometimes with a second noise on top, and with probability `typing` with typing from single key clips (in
/// 40 % of those the rest of the noise is turned down by 20 dB, so that the typing dominates; with probability
/// `typing_alone` it is turned down by 30–80 dB instead, keys over near silence; with probability `synth_keys`
/// the keys come from a [`synthetic_keyboard`]). The shares are `recipe`'s. Above the default share ([`TYPING`])
/// the typing also gets a random EQ, a room on 30 %, and comes in bursts.
fn noise_track(rng: &mut Rng, pool: &Pool, len: usize, recipe: &Recipe) -> Vec<f32> {
    let typing = recipe.typing;
    // The extra typing variety (EQ, room, bursts) comes with training shares above the default, so that the
    // default mixtures, validation's included, draw the same random numbers as before.
    let typing_variety = typing > TYPING;
    let one = |rng: &mut Rng| -> Vec<f32> {
        if rng.uniform() < 0.75 && !pool.noise.is_empty() {
            segment(rng, &pool.noise, len).0
        } else {
            match rng.next_u64() % 5 {
                0 => synth::white(rng, len, -20.0),
                1 => synth::pink(rng, len, -20.0),
                2 => synth::brown(rng, len, -20.0),
                3 => {
                    let f = if rng.uniform() < 0.5 { 50.0 } else { 60.0 };
                    let mut h = synth::hum(
                        RATE as f32,
                        len,
                        f,
                        1 + (rng.next_u64() % 12) as usize,
                        -20.0,
                    );
                    let buzz = synth::white(rng, len, -45.0);
                    h.iter_mut().zip(&buzz).for_each(|(a, b)| *a += b);
                    h
                }
                _ => {
                    let mut x = vec![0.0f32; len];
                    let rate = uniform(rng, 2.0, 30.0);
                    let mut t = 0usize;
                    while t < len {
                        t += (RATE as f64 / rate * uniform(rng, 0.2, 1.8)) as usize + 1;
                        let amp = uniform(rng, 0.1, 1.0) as f32;
                        for k in 0..48.min(len.saturating_sub(t)) {
                            x[t + k] += amp
                                * (-(k as f32) / 6.0).exp()
                                * if k % 2 == 0 { 1.0 } else { -1.0 };
                        }
                    }
                    x
                }
            }
        }
    };
    let mut n = one(rng);
    let norm = |x: &mut Vec<f32>| {
        let r = quell_dsp::metrics::rms(x);
        if r > 0.0 {
            scale(x, 0.1 / r);
        }
    };
    norm(&mut n);
    if rng.uniform() < 0.2 {
        let mut m = one(rng);
        norm(&mut m);
        let g = 10f64.powf(uniform(rng, -15.0, 0.0) / 20.0) as f32;
        n.iter_mut().zip(&m).for_each(|(a, b)| *a += g * b);
    }
    if rng.uniform() < typing && !pool.clicks.is_empty() {
        // Typing: key clips at 3–12 per second.
        let rate = uniform(rng, 3.0, 12.0);
        let level = 10f64.powf(uniform(rng, -10.0, 6.0) / 20.0);
        scale(&mut n, rest_of_noise_gain(rng, recipe.typing_alone));
        // Variety beyond the clips themselves: a desk and a microphone colour the keys (EQ), a room adds its
        // tail, and typing comes in bursts.
        let mut keys = vec![0.0f32; len];
        let keyboard = recipe.key_variety.then(|| KeyVariety::random(rng));
        // No random number is drawn at 0, so that the older recipes stay as they were.
        let synthetic;
        let clicks = if recipe.synth_keys > 0.0 && rng.uniform() < recipe.synth_keys {
            synthetic = synthetic_keyboard(rng, SYNTH_KEYS_PER_KEYBOARD);
            &synthetic
        } else {
            &pool.clicks
        };
        add_typing(rng, clicks, &mut keys, rate, level, keyboard);
        if typing_variety {
            random_eq(rng, &mut keys);
            if rng.uniform() < 0.3 {
                let rt60 = uniform(rng, 0.2, 0.8);
                let wet = uniform(rng, 0.1, 0.5);
                reverb(&mut keys, rng, rt60, wet);
            }
            typing_bursts(rng, &mut keys, recipe.key_gap_max_s);
        }
        n.iter_mut().zip(&keys).for_each(|(a, b)| *a += b);
    }
    if rng.uniform() < 0.5 {
        random_eq(rng, &mut n);
    }
    n
}

/// Cuts typing `keys` into bursts: 0.5–3 s of typing, then 0.2 s to `gap_max_s` without (silenced). Draws two
/// random numbers per burst whatever `gap_max_s` is. Does not allocate.
fn typing_bursts(rng: &mut Rng, keys: &mut [f32], gap_max_s: f64) {
    let len = keys.len();
    let mut t = 0usize;
    while t < len {
        t += (uniform(rng, 0.5, 3.0) * RATE as f64) as usize;
        let pause = (uniform(rng, KEY_GAP_MIN_S, gap_max_s) * RATE as f64) as usize;
        keys[t.min(len)..(t + pause).min(len)].fill(0.0);
        t += pause;
    }
}

/// Shortest pause between typing bursts in training, seconds.
pub const KEY_GAP_MIN_S: f64 = 0.2;

/// Longest pause between typing bursts in the earlier recipes, seconds (`cargo xtask train --key-gap-max`).
pub const KEY_GAP_MAX_S: f64 = 1.5;

/// The gain (linear) of the rest of the noise in an example with typing: with probability `typing_alone`
/// 30–80 dB down (keys over near silence), else 20 dB down on 40 % of examples (typing dominates) and as it is
/// on the others. With `typing_alone` 0 it draws one random number, as the recipes before it did, so their
/// examples stay as they were.
fn rest_of_noise_gain(rng: &mut Rng, typing_alone: f64) -> f64 {
    if typing_alone > 0.0 && rng.uniform() < typing_alone {
        10f64.powf(-uniform(rng, 30.0, 80.0) / 20.0)
    } else if rng.uniform() < 0.4 {
        0.1
    } else {
        1.0
    }
}

/// How one example's typing differs from the recorded key clips, so that a few recorded keyboards stand for
/// many (`cargo xtask train --key-variety`): the clips played faster or slower (a smaller or larger switch and
/// keycap: higher or lower and shorter or longer), and each key struck harder or softer than the last.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyVariety {
    /// Playback speed of every clip of the example (linear factor; 1 = as recorded).
    pub speed: f64,
    /// Spread of each key's level around the example's, dB (each key drawn uniformly within ±this).
    pub spread_db: f64,
}

impl KeyVariety {
    /// Draws one keyboard: speed 0.75–1.33 (log-uniform), per-key spread 0–8 dB.
    pub fn random(rng: &mut Rng) -> KeyVariety {
        KeyVariety {
            speed: 2f64.powf(uniform(rng, -0.415, 0.415)),
            spread_db: uniform(rng, 0.0, 8.0),
        }
    }
}

/// Key sounds in one synthetic keyboard ([`synthetic_keyboard`]): presses and releases, drawn among like the
/// recorded clips of one pack.
pub const SYNTH_KEYS_PER_KEYBOARD: usize = 16;

/// A keyboard no recording has: `keys` key sounds (half presses, half releases; 48 kHz, 60 ms each, peak 1) by
/// modal synthesis. The keyboard draws a case and keycap sound (3–6 damped resonances at 0.8–9 kHz, decaying in
/// 2–25 ms), a bottom-out thud (80–400 Hz) and a switch click (a 0.3–3 ms noise burst high-passed at 1–5 kHz,
/// loud on clicky switches, faint on linear ones); each key varies its resonances by ±8 % and ±4 dB, and a
/// release is softer and higher than a press. Allocates.
pub fn synthetic_keyboard(rng: &mut Rng, keys: usize) -> Vec<Clip> {
    let rate = RATE as f64;
    let len = (0.06 * rate) as usize;
    let modes: Vec<(f64, f64, f64)> = (0..3 + (rng.next_u64() % 4) as usize)
        .map(|_| {
            let freq = 800.0 * (9000.0f64 / 800.0).powf(rng.uniform());
            let decay_s = uniform(rng, 0.002, 0.025);
            let amp = uniform(rng, 0.2, 1.0);
            (freq, decay_s, amp)
        })
        .collect();
    let thud = (
        uniform(rng, 80.0, 400.0),
        uniform(rng, 0.008, 0.03),
        uniform(rng, 0.1, 1.0),
    );
    let click_s = uniform(rng, 0.0003, 0.003);
    let click_hp = uniform(rng, 1000.0, 5000.0);
    let click_amp = if rng.uniform() < 0.4 {
        uniform(rng, 0.5, 1.5)
    } else {
        uniform(rng, 0.02, 0.3)
    };
    (0..keys)
        .map(|k| {
            let release = k % 2 == 1;
            let (shift, soft) = if release { (1.15, 0.4) } else { (1.0, 1.0) };
            let mut x = vec![0.0f32; len];
            let click_len = ((click_s * rate) as usize).max(1);
            for v in x.iter_mut().take(click_len) {
                *v = (uniform(rng, -1.0, 1.0) * click_amp) as f32;
            }
            highpass(&mut x, click_hp);
            // The switch bottoms out (or springs back) 1–6 ms after its click.
            let onset = (uniform(rng, 0.001, 0.006) * rate) as usize;
            let mut ring = |freq: f64, decay_s: f64, amp: f64, x: &mut [f32]| {
                let f = freq * shift * uniform(rng, 0.92, 1.08);
                let a = amp * soft * 10f64.powf(uniform(rng, -4.0, 4.0) / 20.0);
                let phase = uniform(rng, 0.0, std::f64::consts::TAU);
                for (i, v) in x.iter_mut().enumerate().skip(onset) {
                    let t = (i - onset) as f64 / rate;
                    *v += (a * (-t / decay_s).exp() * (std::f64::consts::TAU * f * t + phase).sin())
                        as f32;
                }
            };
            for &(freq, decay_s, amp) in &modes {
                ring(freq, decay_s, amp, &mut x);
            }
            ring(thud.0, thud.1, thud.2, &mut x);
            let peak = x.iter().fold(1e-9f32, |m, v| m.max(v.abs()));
            x.iter_mut().for_each(|v| *v /= peak);
            Clip {
                samples: x,
                bandwidth_hz: 24_000.0,
                path: String::new(),
                category: "keyboard_clips".into(),
                speaker: String::new(),
            }
        })
        .collect()
}

/// `x` played `speed` times faster (linear interpolation; `speed` 1 returns a copy). Allocates.
pub fn resample_speed(x: &[f32], speed: f64) -> Vec<f32> {
    if (speed - 1.0).abs() < 1e-9 || x.len() < 2 {
        return x.to_vec();
    }
    let out_len = ((x.len() - 1) as f64 / speed).floor() as usize + 1;
    (0..out_len)
        .map(|i| {
            let pos = i as f64 * speed;
            let k = (pos as usize).min(x.len() - 2);
            let frac = (pos - k as f64) as f32;
            x[k] + (x[k + 1] - x[k]) * frac
        })
        .collect()
}

/// Adds typing to `n`: key clips of `clicks` (each scaled to a peak of `0.3 · level`) at about
/// `keys_per_second`, with ±50 % jitter, starting within the first 0.3 s. With `variety`, every clip is played
/// at its speed and each key's level is spread around the peak; without it no extra random numbers are drawn
/// (the evaluation pairs and older recipes stay as they were).
pub fn add_typing(
    rng: &mut Rng,
    clicks: &[Clip],
    n: &mut [f32],
    keys_per_second: f64,
    level: f64,
    variety: Option<KeyVariety>,
) {
    let len = n.len();
    let mut t = (uniform(rng, 0.0, 0.3) * RATE as f64) as usize;
    while t < len {
        let clip = pick(rng, clicks);
        let varied;
        let (samples, strike) = match variety {
            Some(v) => {
                varied = resample_speed(&clip.samples, v.speed);
                let db = uniform(rng, -v.spread_db, v.spread_db);
                (&varied[..], 10f64.powf(db / 20.0))
            }
            None => (&clip.samples[..], 1.0),
        };
        let g = strike * level * 0.3 / samples.iter().fold(1e-6f32, |m, v| m.max(v.abs())) as f64;
        for (k, &v) in samples.iter().enumerate() {
            if t + k < len {
                n[t + k] += (v as f64 * g) as f32;
            }
        }
        t += (RATE as f64 / keys_per_second * uniform(rng, 0.5, 1.5)) as usize;
    }
}

/// Share of training examples with typing in their noise, unless `cargo xtask train --typing` says otherwise
/// (validation examples always use this).
pub const TYPING: f64 = 0.15;

/// Reverberation times and tail levels of the synthetic rooms of training ([`Recipe::rooms`]).
pub const TRAINING_ROOMS: RoomRange = RoomRange {
    rt60_s: (0.15, 1.0),
    tail_db: (-12.0, 6.0),
};

/// What examples are made of: the shares of the augmentations that `cargo xtask train` sets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recipe {
    /// Probability of typing (key clips) in an example's noise.
    pub typing: f64,
    /// Probability that the speech is heard through a synthetic room ([`crate::room`]) whose direct path and
    /// early reflections are the target, so that its late tail counts as noise. 0 keeps the earlier recipe:
    /// Schroeder reverberation on 20 % of the speech, all of it in the target.
    pub rooms: f64,
    /// Probability that a speech clip is followed by a pause of 0.2–1.5 s in which only the noise goes on (the
    /// situation of a voice gate and of the noise between sentences). 0 keeps the clips back to back.
    pub pauses: f64,
    /// Probability that an example with typing has the rest of its noise turned down by 30–80 dB, so that the
    /// keys sound over near silence (a quiet room, a close microphone); 0 keeps the earlier recipe, where the
    /// rest of the noise is at most 20 dB down.
    pub typing_alone: f64,
    /// Whether typing gets a random keyboard ([`KeyVariety`]): key clips at another speed, keys struck at
    /// different levels. False keeps the clips as recorded.
    pub key_variety: bool,
    /// Probability that an example's typing comes from a synthetic keyboard ([`synthetic_keyboard`]) instead
    /// of the recorded key clips; 0 keeps the earlier recipe.
    pub synth_keys: f64,
    /// Probability that an example is resampled to a lower rate of [`LOW_RATES`] (mixture and target alike),
    /// so that the network learns the features the engine computes at that rate, where the bands above its
    /// Nyquist frequency are absent. 0 keeps every example at 48 kHz.
    pub low_rates: f64,
    /// Probability that all the speech of an example is full-band ([`Clip::is_full_band`], drawn by duration),
    /// so that the bands from 8 kHz get targets more often; 0 keeps the earlier recipe, where clips are drawn
    /// alike and a 4 s example is often part speechocean762 (8 kHz).
    pub full_band: f64,
    /// Whether the bands above each clip's own content ([`Clip::content_hz`]: the GCompris voices' measured
    /// cut-offs) are masked frame by frame, where that clip plays, rather than above the narrowest clip's
    /// bandwidth over the whole example. False keeps the earlier targets.
    pub clip_bandwidths: bool,
    /// Lowest speech-to-noise ratio drawn, dB (uniform up to [`SNR_MAX_DB`]; [`SNR_MIN_DB`] keeps the earlier
    /// recipe). One random number is drawn whatever the range, so the rest of an example stays as it was.
    pub snr_min_db: f64,
    /// Longest pause between typing bursts, seconds (drawn uniform from [`KEY_GAP_MIN_S`]; [`KEY_GAP_MAX_S`]
    /// keeps the earlier recipe, and the same random numbers are drawn whatever it is).
    pub key_gap_max_s: f64,
}

/// Lowest speech-to-noise ratio of the earlier recipes, dB.
pub const SNR_MIN_DB: f64 = -5.0;

/// Highest speech-to-noise ratio of every recipe, dB.
pub const SNR_MAX_DB: f64 = 30.0;

impl Recipe {
    /// The recipe of the runs before 2026-12-02: typing in 15 % of examples, reverberation kept in the target.
    pub const DEFAULT: Recipe = Recipe {
        typing: TYPING,
        typing_alone: 0.0,
        rooms: 0.0,
        pauses: 0.0,
        key_variety: false,
        synth_keys: 0.0,
        low_rates: 0.0,
        full_band: 0.0,
        clip_bandwidths: false,
        snr_min_db: SNR_MIN_DB,
        key_gap_max_s: KEY_GAP_MAX_S,
    };
}

/// Draws one example of `len` samples.
pub fn example(rng: &mut Rng, pool: &Pool, len: usize, recipe: Recipe) -> Example {
    let roll = rng.uniform();
    let has_speech = roll >= 0.08;
    let speech_only = (0.08..0.13).contains(&roll);
    let (mut clean, bandwidth_hz, segments) = if has_speech {
        speech_track(rng, pool, len, &recipe)
    } else {
        (vec![0.0; len], 24_000.0, Vec::new())
    };
    // The speech as the mixture hears it, where that differs from the target (a room's late tail).
    let mut heard: Option<Vec<f32>> = None;
    if has_speech {
        if rng.uniform() < 0.5 {
            random_eq(rng, &mut clean);
        }
        if recipe.rooms > 0.0 {
            if rng.uniform() < recipe.rooms {
                let room = Room::random(rng, TRAINING_ROOMS);
                heard = Some(convolve(&clean, &room.full));
                clean = convolve(&clean, &room.early);
            }
        } else if rng.uniform() < 0.2 {
            let rt60 = uniform(rng, 0.15, 0.7);
            let wet = uniform(rng, 0.1, 0.5);
            reverb(&mut clean, rng, rt60, wet);
        }
        // Keeps speechocean762's room rumble out of the targets (and so out of what the model preserves).
        highpass(&mut clean, 60.0);
        if let Some(h) = heard.as_mut() {
            highpass(h, 60.0);
        }
    }
    let mut noise = noise_track(rng, pool, len, &recipe);
    let snr_db = if speech_only {
        60.0
    } else {
        uniform(rng, recipe.snr_min_db, SNR_MAX_DB)
    };
    let speech_level = if has_speech {
        active_rms(heard.as_deref().unwrap_or(&clean), RATE)
    } else {
        0.1
    };
    let noise_rms = quell_dsp::metrics::rms(&noise).max(1e-9);
    scale(
        &mut noise,
        speech_level / noise_rms * 10f64.powf(-snr_db / 20.0),
    );
    // Overall level: mixture RMS between −45 and −12 dBFS (peaks up to 0 dBFS).
    let mut heard = heard.unwrap_or_else(|| clean.clone());
    let mix_rms = quell_dsp::metrics::rms(
        &heard
            .iter()
            .zip(&noise)
            .map(|(a, b)| a + b)
            .collect::<Vec<f32>>(),
    )
    .max(1e-9);
    let g = 10f64.powf(uniform(rng, -45.0, -12.0) / 20.0) / mix_rms;
    scale(&mut clean, g);
    scale(&mut heard, g);
    scale(&mut noise, g);
    let mut noisy: Vec<f32> = heard.iter().zip(&noise).map(|(a, b)| a + b).collect();
    if rng.uniform() < 0.05 {
        let peak = noisy.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let limit = peak * uniform(rng, 0.3, 0.8) as f32;
        noisy.iter_mut().for_each(|v| *v = v.clamp(-limit, limit));
    }
    let mut example = Example {
        clean,
        noisy,
        bandwidth_hz,
        segments,
        has_speech,
        rate: RATE,
    };
    // No random number is drawn at 0, so that the older recipes and validation stay as they were.
    if recipe.low_rates > 0.0 && rng.uniform() < recipe.low_rates {
        let rate = low_rate(rng);
        example = example.resampled(rate);
    }
    example
}

impl Example {
    /// The example at `rate` Hz (from its own): mixture and target resampled alike, the bandwidths (the
    /// example's and its clips') limited to 0.95 × the new Nyquist frequency (the resampler's cut-off).
    /// Allocates.
    pub fn resampled(&self, rate: u32) -> Example {
        let limit = 0.95 * 0.5 * rate as f32;
        Example {
            clean: crate::audio::resample(&self.clean, self.rate, rate),
            noisy: crate::audio::resample(&self.noisy, self.rate, rate),
            bandwidth_hz: self.bandwidth_hz.min(limit),
            segments: self
                .segments
                .iter()
                .map(|&(start, hz)| {
                    let at = (start as u64 * rate as u64 / self.rate as u64) as usize;
                    (at, hz.min(limit))
                })
                .collect(),
            has_speech: self.has_speech,
            rate,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A decaying 3 kHz burst of 20 ms at 48 kHz: a stand-in for a key clip (also for `pairs`' tests).
    pub(crate) fn key_clip() -> Clip {
        let samples = (0..960)
            .map(|i| {
                let t = i as f32 / RATE as f32;
                (-t / 0.004).exp() * (std::f32::consts::TAU * 3_000.0 * t).sin()
            })
            .collect();
        Clip {
            samples,
            bandwidth_hz: 24_000.0,
            ..Clip::default()
        }
    }

    #[test]
    fn typing_alone_puts_the_keys_over_near_silence_and_is_off_by_default() {
        let mut rng = Rng::new(9);
        for _ in 0..1000 {
            let g = rest_of_noise_gain(&mut rng, 1.0);
            assert!((1e-4..=0.0317).contains(&g), "{g}");
        }
        // Off: 20 dB down on about 40 % of examples, else untouched, one random number drawn each time.
        let (mut rng, mut twin) = (Rng::new(9), Rng::new(9));
        let mut down = 0;
        for _ in 0..1000 {
            let g = rest_of_noise_gain(&mut rng, 0.0);
            let u = twin.uniform();
            assert_eq!(g, if u < 0.4 { 0.1 } else { 1.0 });
            down += usize::from(g == 0.1);
        }
        assert!((330..470).contains(&down), "{down}");
        // Half: about half the examples over near silence.
        let mut rng = Rng::new(10);
        let quiet = (0..1000)
            .filter(|_| rest_of_noise_gain(&mut rng, 0.5) < 0.05)
            .count();
        assert!((430..570).contains(&quiet), "{quiet}");
    }

    #[test]
    fn typing_bursts_pause_for_at_most_the_longest_gap() {
        // The longest silent run of each cut, seconds (keys all ones, so silence is exactly the cut).
        let longest = |gap_max_s: f64, seed: u64| {
            let mut keys = vec![1.0f32; 60 * RATE as usize];
            typing_bursts(&mut Rng::new(seed), &mut keys, gap_max_s);
            let (mut run, mut most) = (0usize, 0usize);
            for v in &keys {
                run = if *v == 0.0 { run + 1 } else { 0 };
                most = most.max(run);
            }
            most as f64 / RATE as f64
        };
        let earlier = longest(KEY_GAP_MAX_S, 4);
        assert!((1.2..=KEY_GAP_MAX_S).contains(&earlier), "{earlier}");
        let longer = longest(3.0, 4);
        assert!((2.2..=3.0).contains(&longer), "{longer}");
        // The same random numbers either way: the bursts start at the same places.
        let starts = |gap_max_s: f64| {
            let mut keys = vec![1.0f32; 20 * RATE as usize];
            typing_bursts(&mut Rng::new(5), &mut keys, gap_max_s);
            keys.windows(2).position(|w| w[0] == 1.0 && w[1] == 0.0)
        };
        assert_eq!(starts(KEY_GAP_MAX_S), starts(3.0));
    }

    #[test]
    fn synthetic_keys_are_short_transients_and_every_keyboard_differs() {
        let mut rng = Rng::new(3);
        let a = synthetic_keyboard(&mut rng, SYNTH_KEYS_PER_KEYBOARD);
        let b = synthetic_keyboard(&mut rng, SYNTH_KEYS_PER_KEYBOARD);
        assert_eq!(a.len(), SYNTH_KEYS_PER_KEYBOARD);
        for clip in &a {
            let x = &clip.samples;
            assert!(x.iter().all(|v| v.is_finite() && v.abs() <= 1.0 + 1e-6));
            // Peak 1, and most of the energy in the first 40 ms: a transient, not a tone.
            let energy = |s: &[f32]| s.iter().map(|v| (v * v) as f64).sum::<f64>();
            let head = energy(&x[..RATE as usize / 25]);
            assert!(head > 0.8 * energy(x), "energy after 40 ms");
            assert!(x.iter().any(|v| v.abs() > 0.999));
        }
        // Another keyboard sounds different (its resonances are its own): compare the keys' brightness, the RMS
        // of the first difference over the RMS.
        let brightness = |x: &[f32]| {
            let d: f64 = x.windows(2).map(|w| ((w[1] - w[0]) as f64).powi(2)).sum();
            (d / x.iter().map(|v| (v * v) as f64).sum::<f64>()).sqrt()
        };
        let ca: f64 = a.iter().map(|c| brightness(&c.samples)).sum();
        let cb: f64 = b.iter().map(|c| brightness(&c.samples)).sum();
        assert!((ca - cb).abs() > 1e-3 * ca, "{ca} {cb}");
    }

    #[test]
    fn a_faster_clip_is_shorter_and_higher() {
        let clip = key_clip();
        let fast = resample_speed(&clip.samples, 1.25);
        assert_eq!(fast.len(), 768);
        assert_eq!(resample_speed(&clip.samples, 1.0), clip.samples);
        // Zero crossings count the pitch: 1.25 times as many per sample.
        let rate = |x: &[f32]| {
            x.windows(2)
                .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
                .count() as f64
                / x.len() as f64
        };
        let ratio = rate(&fast[..400]) / rate(&clip.samples[..400]);
        assert!((ratio - 1.25).abs() < 0.05, "pitch ratio {ratio}");
    }

    #[test]
    fn key_variety_spreads_key_levels_and_nothing_changes_without_it() {
        let clicks = vec![key_clip()];
        let len = 2 * RATE as usize;
        // Without variety: every key at the same peak, as the evaluation pairs were always made.
        let mut plain = vec![0.0f32; len];
        add_typing(&mut Rng::new(4), &clicks, &mut plain, 5.0, 1.0, None);
        // Each key's peak: keys lie at least 0.1 s apart and last 20–25 ms, so silence separates them.
        let peaks = |x: &[f32]| -> Vec<f32> {
            let mut out = Vec::new();
            let (mut peak, mut quiet) = (0.0f32, 0usize);
            for &v in x {
                if v.abs() < 1e-6 {
                    quiet += 1;
                    if quiet == 100 && peak > 0.0 {
                        out.push(peak);
                        peak = 0.0;
                    }
                } else {
                    quiet = 0;
                    peak = peak.max(v.abs());
                }
            }
            if peak > 0.0 {
                out.push(peak);
            }
            out
        };
        let p = peaks(&plain);
        assert!(p.len() >= 5, "keys: {}", p.len());
        let spread = |p: &[f32]| {
            let (lo, hi) = p
                .iter()
                .fold((f32::MAX, 0.0f32), |(l, h), &v| (l.min(v), h.max(v)));
            20.0 * (hi / lo).log10()
        };
        assert!(spread(&p) < 0.01, "spread {:.2} dB", spread(&p));
        let mut varied = vec![0.0f32; len];
        let keyboard = KeyVariety {
            speed: 0.8,
            spread_db: 8.0,
        };
        add_typing(
            &mut Rng::new(4),
            &clicks,
            &mut varied,
            5.0,
            1.0,
            Some(keyboard),
        );
        let q = peaks(&varied);
        assert!(spread(&q) > 4.0, "spread {:.2} dB", spread(&q));
        // Every key still peaks within the spread around 0.3 of the level.
        assert!(q.iter().all(|v| (0.3 / 2.52..=0.3 * 2.52).contains(v)));
        // The same seed without variety draws the same numbers: the pairs of the evaluation are unchanged.
        let mut again = vec![0.0f32; len];
        add_typing(&mut Rng::new(4), &clicks, &mut again, 5.0, 1.0, None);
        assert_eq!(plain, again);
    }

    #[test]
    fn random_keyboards_stay_in_their_ranges() {
        let mut rng = Rng::new(9);
        for _ in 0..200 {
            let k = KeyVariety::random(&mut rng);
            assert!((0.749..=1.334).contains(&k.speed), "{k:?}");
            assert!((0.0..=8.0).contains(&k.spread_db), "{k:?}");
        }
    }

    #[test]
    fn low_rates_are_drawn_by_their_weights() {
        let mut rng = Rng::new(2);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..20_000 {
            *counts.entry(low_rate(&mut rng)).or_insert(0usize) += 1;
        }
        assert_eq!(counts.len(), LOW_RATES.len());
        for (rate, w) in LOW_RATES {
            let share = counts[&rate] as f64 / 20_000.0;
            assert!(
                (share - w).abs() < 0.015,
                "{rate} Hz: {share:.3} against {w}"
            );
        }
    }

    #[test]
    fn sources_with_a_measured_cut_off_take_it_over_their_stored_rate() {
        let clip = |path: &str, hz: f32| Clip {
            bandwidth_hz: hz,
            path: path.into(),
            ..Clip::default()
        };
        for (path, stored_hz, content_hz) in [
            ("speech/gcompris/gd/a.ogg", 22_050.0, 15_000.0),
            ("speech/gcompris/zh_TW/a.ogg", 22_050.0, 20_000.0),
            ("speech/ravdess/Actor_01/a.ogg", 24_000.0, 24_000.0),
            ("speech/speechocean762/a.flac", 8_000.0, 8_000.0),
            ("speech/callie/a.ogg", 24_000.0, 18_000.0),
            // A prefix is a whole folder name: "en" is not "en_GB".
            ("speech/gcompris/en_GB/a.ogg", 22_050.0, 22_050.0),
        ] {
            assert_eq!(clip(path, stored_hz).content_hz(), content_hz, "{path}");
        }
        assert!(clip("speech/gcompris/kn/a.ogg", 22_050.0).is_full_band());
        assert!(!clip("speech/speechocean762/a.flac", 8_000.0).is_full_band());
    }

    /// What the generator returns after [`example`] with [`Recipe::DEFAULT`] on the pool of the test below,
    /// read with the code before `--full-band`, `--clip-bandwidths` and `--snr-min` (commit 60b632a).
    const PINNED_AFTER_DEFAULT_EXAMPLE: u64 = 6_805_521_392_862_575_259;

    #[test]
    fn full_band_examples_draw_only_full_band_speech_and_clips_carry_their_bandwidths() {
        let voice = |seconds: f32, hz: f32| Clip {
            samples: synth::voice(RATE as f32, seconds, &synth::Voice::default()),
            bandwidth_hz: hz,
            ..Clip::default()
        };
        // Many short narrow-band clips and two full-band ones, one three times as long as the other.
        let mut speech: Vec<Clip> = (0..20).map(|_| voice(1.0, 8_000.0)).collect();
        speech.push(voice(1.0, 24_000.0));
        speech.push(voice(3.0, 22_050.0));
        let noise = vec![Clip {
            samples: synth::white(&mut Rng::new(1), RATE as usize, -30.0),
            bandwidth_hz: 24_000.0,
            ..Clip::default()
        }];
        let pool = Pool::new(speech, noise, vec![]);
        assert!((pool.full_band_hours() - 4.0 / 3600.0).abs() < 1e-6);
        let mut rng = Rng::new(4);
        let mut long = 0;
        for _ in 0..400 {
            long +=
                usize::from(pool.full_band_clip(&mut rng).unwrap().samples.len() > RATE as usize);
        }
        assert!(
            (260..340).contains(&long),
            "drawn by duration: {long} of 400"
        );
        let len = 4 * RATE as usize;
        let recipe = Recipe {
            full_band: 1.0,
            clip_bandwidths: true,
            ..Recipe::DEFAULT
        };
        let (_, bandwidth, segments) = speech_track(&mut Rng::new(5), &pool, len, &recipe);
        assert!(bandwidth >= 22_050.0);
        assert!(!segments.is_empty() && segments[0].0 == 0);
        assert!(segments.windows(2).all(|w| w[0].0 < w[1].0 && w[1].0 < len));
        // The default recipe draws from every clip, keeps no segments and the narrowest bandwidth.
        let (_, bandwidth, segments) = speech_track(&mut Rng::new(5), &pool, len, &Recipe::DEFAULT);
        assert!(segments.is_empty());
        assert_eq!(bandwidth, 8_000.0);
        // Off, the same random numbers as before the options: the generator ends where the code before them
        // left it (the value read with that code, commit 60b632a, on this pool), and per-clip masking draws none.
        let mut rng = Rng::new(6);
        let a = example(&mut rng, &pool, len, Recipe::DEFAULT);
        assert_eq!(rng.next_u64(), PINNED_AFTER_DEFAULT_EXAMPLE);
        let sum: f64 = a.noisy.iter().map(|v| *v as f64).sum();
        assert!((sum - -94.849_254_143).abs() < 1e-6, "{sum}");
        let b = example(
            &mut Rng::new(6),
            &pool,
            len,
            Recipe {
                clip_bandwidths: true,
                ..Recipe::DEFAULT
            },
        );
        assert_eq!(a.noisy, b.noisy);
    }

    #[test]
    fn the_snr_range_reaches_down_to_its_minimum() {
        let clip = |samples: Vec<f32>| Clip {
            samples,
            bandwidth_hz: 24_000.0,
            ..Clip::default()
        };
        let steady = synth::Voice {
            syllable_hz: 0.0,
            ..synth::Voice::default()
        };
        let pool = Pool::new(
            vec![clip(synth::voice(RATE as f32, 2.0, &steady))],
            vec![clip(synth::white(&mut Rng::new(2), RATE as usize, -30.0))],
            vec![],
        );
        // The ratio of the clean speech to what else the mixture holds, dB (a steady vowel: active level = RMS).
        let snr = |ex: &Example| {
            let e = |x: &mut dyn Iterator<Item = f32>| x.map(|v| (v as f64).powi(2)).sum::<f64>();
            let noise = e(&mut ex.noisy.iter().zip(&ex.clean).map(|(n, c)| n - c));
            10.0 * (e(&mut ex.clean.iter().copied()) / noise).log10()
        };
        let len = RATE as usize;
        let lowest = |snr_min_db: f64| {
            let recipe = Recipe {
                snr_min_db,
                ..Recipe::DEFAULT
            };
            let mut rng = Rng::new(8);
            (0..60)
                .map(|_| example(&mut rng, &pool, len, recipe))
                .filter(|ex| ex.has_speech)
                .map(|ex| snr(&ex))
                .fold(f64::INFINITY, f64::min)
        };
        let (default, wider) = (lowest(SNR_MIN_DB), lowest(-15.0));
        assert!(default > -7.0, "{default:.1} dB");
        assert!(wider < -10.0, "{wider:.1} dB");
    }
}
