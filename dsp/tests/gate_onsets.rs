//! The voice gate and word onsets: synthetic words that start with a plosive or a fricative after a pause keep
//! their first 30 ms through the gate, measured against the same engine with the gate off.
//!
//! `cargo test -p quell-dsp --release --test gate_onsets -- --nocapture` prints, per word, how much of the onset
//! the gate costs with and without its onset cue (the figures of `docs/install.md`).

use quell_dsp::neural::{shipped_weights, NeuralMask};
use quell_dsp::synth::{self, Rng, Voice};
use quell_dsp::{Engine, EngineConfig, MaskMode, Settings, VadGate};

/// Host rate of the test, Hz.
const RATE: f32 = 48_000.0;
/// Pause before each word, seconds: long enough for the gate to close completely (30 dB at 1.5 dB per 10 ms
/// after a 200 ms hold).
const PAUSE: f32 = 0.7;

/// One synthetic word: a consonant (shaped noise with an envelope) then a vowel.
struct Word {
    name: &'static str,
    /// Consonant: (duration s, level dB re the vowel, band low Hz, band high Hz, burst: decays from its start).
    consonant: (f32, f32, f32, f32, bool),
    /// Fundamental of the vowel, Hz.
    f0: f32,
}

const WORDS: [Word; 6] = [
    Word {
        name: "/p/ plosive",
        consonant: (0.012, -6.0, 300.0, 3_000.0, true),
        f0: 110.0,
    },
    Word {
        name: "/t/ plosive",
        consonant: (0.015, -8.0, 2_000.0, 8_000.0, true),
        f0: 180.0,
    },
    Word {
        name: "/k/ plosive",
        consonant: (0.020, -8.0, 1_200.0, 4_000.0, true),
        f0: 130.0,
    },
    Word {
        name: "/s/ fricative",
        consonant: (0.090, -12.0, 4_000.0, 9_500.0, false),
        f0: 210.0,
    },
    Word {
        name: "/f/ fricative",
        consonant: (0.070, -24.0, 1_000.0, 8_000.0, false),
        f0: 120.0,
    },
    Word {
        name: "/sh/ fricative",
        consonant: (0.080, -14.0, 2_200.0, 6_500.0, false),
        f0: 160.0,
    },
];

/// Band-limits `x` to `low..high` Hz with a crude FIR-free method: a difference of one-pole low-passes, run
/// forwards twice for a steeper slope. Good enough to colour noise.
fn band(x: &[f32], low: f32, high: f32) -> Vec<f32> {
    let lp = |x: &[f32], fc: f32| -> Vec<f32> {
        let a = (-2.0 * std::f32::consts::PI * fc / RATE).exp();
        let mut y = 0.0;
        let mut out = Vec::with_capacity(x.len());
        for &v in x {
            y = (1.0 - a) * v + a * y;
            out.push(y);
        }
        out
    };
    let hi = lp(&lp(x, high), high);
    let lo = lp(&lp(x, low), low);
    hi.iter().zip(&lo).map(|(h, l)| h - l).collect()
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

/// The test signal: every word after a pause, in pink noise at `floor_dbfs` (the vowels are at −20 dBFS); and
/// each word's onset, samples.
fn signal(floor_dbfs: f32) -> (Vec<f32>, Vec<usize>) {
    let mut rng = Rng::new(11);
    let mut out = Vec::new();
    let mut onsets = Vec::new();
    for (i, w) in WORDS.iter().enumerate() {
        // Pauses vary by a few milliseconds so that onsets fall at different places within a 10 ms hop.
        let pause = (PAUSE * RATE) as usize + 137 * i;
        out.extend(std::iter::repeat_n(0.0, pause));
        onsets.push(out.len());
        let (dur, level_db, low, high, burst) = w.consonant;
        let vowel = synth::voice(
            RATE,
            0.3,
            &Voice {
                f0_start_hz: w.f0,
                f0_end_hz: w.f0 * 0.9,
                syllable_hz: 0.0,
                rms_dbfs: -20.0,
                ..Voice::default()
            },
        );
        let n = (dur * RATE) as usize;
        let mut c = band(&synth::white(&mut rng, n, -20.0), low, high);
        let target = rms(&vowel) * 10f32.powf(level_db / 20.0);
        let scale = target / rms(&c).max(1e-12);
        for (k, v) in c.iter_mut().enumerate() {
            let t = k as f32 / n as f32;
            // A burst starts at full level and decays; a fricative rises over 5 ms and falls into the vowel.
            let env = if burst {
                (-4.0 * t).exp()
            } else {
                (k as f32 / (0.005 * RATE)).min(1.0) * (1.0 - 0.3 * t)
            };
            *v *= scale * env;
        }
        out.extend_from_slice(&c);
        // The vowel, with a 5 ms rise (plosives leave a short gap of aspiration noise before voicing).
        let ramp = 0.005 * RATE;
        out.extend(
            vowel
                .iter()
                .enumerate()
                .map(|(k, v)| v * (k as f32 / ramp).min(1.0)),
        );
    }
    out.extend(std::iter::repeat_n(0.0, (PAUSE * RATE) as usize));
    let floor = synth::pink(&mut rng, out.len(), floor_dbfs);
    for (v, f) in out.iter_mut().zip(&floor) {
        *v += f;
    }
    (out, onsets)
}

/// Runs `x` through the neural engine with the gate on or off and the onset cue on or off.
fn run(x: &[f32], gate: bool, cue: bool) -> (Vec<f32>, usize) {
    let weights = shipped_weights()
        .expect("the build ships a model")
        .expect("the shipped model loads");
    let mut e = Engine::new(EngineConfig {
        sample_rate: RATE,
        channels: 1,
    })
    .unwrap();
    e.set_model(Some(NeuralMask::new(&weights)));
    e.set_settings(&Settings {
        mode: MaskMode::Neural,
        reduction_db: 30.0,
        gate: VadGate {
            enabled: gate,
            ..VadGate::DEFAULT
        },
    });
    e.set_gate_onset_cue(cue);
    let mut y = x.to_vec();
    for block in y.chunks_mut(256) {
        e.process(&mut [block]);
    }
    (y, e.latency_samples())
}

fn energy_db(x: &[f32]) -> f32 {
    10.0 * x.iter().map(|v| v * v).sum::<f32>().max(1e-20).log10()
}

/// For one onset: the level of the gated output re the ungated one over the first 30 ms, dB; and how long from
/// the onset the gated output stays more than 1 dB below the ungated one, in 2 ms slices, ms.
fn onset_cost(gated: &[f32], open: &[f32], at: usize) -> (f32, f32) {
    let span = (0.030 * RATE) as usize;
    let first = energy_db(&gated[at..at + span]) - energy_db(&open[at..at + span]);
    let slice = (0.002 * RATE) as usize;
    let mut lost = 0;
    for k in 0..50 {
        let r = at + k * slice..at + (k + 1) * slice;
        if energy_db(&gated[r.clone()]) < energy_db(&open[r]) - 1.0 {
            lost = k + 1;
        }
    }
    (first, lost as f32 * 2.0)
}

/// Runs the words over a noise floor at `floor_dbfs`; returns the worst first-30-ms level with the cue, the
/// report, and how far the gated pause sits below the input, dB.
fn measure(floor_dbfs: f32) -> (f32, String, f32) {
    let (x, onsets) = signal(floor_dbfs);
    let (open, latency) = run(&x, false, true);
    let (gated, _) = run(&x, true, true);
    let (gated_no_cue, _) = run(&x, true, false);
    let mut worst: f32 = 0.0;
    let mut report = format!("noise floor {floor_dbfs} dBFS, vowels at -20 dBFS:\n");
    for (w, &at) in WORDS.iter().zip(&onsets) {
        let at = at + latency;
        let (first, lost) = onset_cost(&gated, &open, at);
        let (first_no_cue, lost_no_cue) = onset_cost(&gated_no_cue, &open, at);
        report += &format!(
            "  {:<15} with the onset cue: first 30 ms {first:+.2} dB, {lost:.0} ms lost; \
             without: {first_no_cue:+.2} dB, {lost_no_cue:.0} ms lost\n",
            w.name
        );
        worst = worst.min(first);
    }
    // The pause before the second word, once the gate has closed, against the input.
    let pause = onsets[1] - (0.3 * RATE) as usize..onsets[1] - 1_000;
    let closed =
        energy_db(&gated[pause.start + latency..pause.end + latency]) - energy_db(&x[pause]);
    (worst, report, closed)
}

#[test]
fn the_gate_keeps_the_first_30_ms_of_words_after_a_pause() {
    for floor in [-65.0, -45.0] {
        let (worst, report, closed) = measure(floor);
        println!("{report}  pause: {closed:.1} dB re input");
        assert!(
            worst >= -1.0,
            "an onset lost more than 1 dB in its first 30 ms:\n{report}"
        );
        // And the gate still gates: once it has closed, the pause sits near the full 30 dB below the input.
        assert!(
            closed < -28.0,
            "the pause is only {closed:.1} dB below the input"
        );
    }
}
