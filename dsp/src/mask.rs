//! From the mask source's gains to the gains applied to the spectrum.
//!
//! A mask source gives per-bin gains: the classic suppressor directly, the network as 22 band gains. This stage
//! turns them into what is applied, in this order:
//!
//! 1. neural only: the band gains are clamped to 0..=1, optionally deepened below 8 kHz where they are low
//!    ([`NEURAL_LOW_BAND_EXPONENT`] under [`NEURAL_LOW_BAND_KNEE`], off as shipped) or where the network hears
//!    no speech ([`NEURAL_PAUSE_EXPONENT`], off as shipped), relaxed from 8 kHz up ([`NEURAL_HIGH_BAND_EXPONENT`],
//!    or [`NEURAL_PAUSE_HIGH_BAND_EXPONENT`] where it hears no speech), interpolated to bins, and each bin
//!    refined by the classic suppressor's gain for that bin ([`NEURAL_CLASSIC_WEIGHT`]): [`refine_neural`];
//! 2. release: a gain may fall by at most [`RELEASE_PER_FRAME`] per frame, rises are never slowed;
//! 3. the optional voice-activity gate ([`crate::VadGate`]), neural mode only, opened by the network's speech
//!    probability or, for the frame itself, by an onset cue ([`onset_snr_db`], [`GATE_ONSET_SNR_DB`]);
//! 4. the floor: no gain below the maximum attenuation.
//!
//! Steps 2–4 are [`MaskStage::apply`]. With a maximum attenuation of 0 dB, or in unity mode, every gain is one
//! and the output is exactly the delayed input.

use crate::bands::{BandLayout, FIRST_HIGH_BAND, NB_BANDS};
use crate::settings::{Settings, VadGate};
use crate::stft::flush;
use crate::MaskMode;

/// Fastest allowed fall of a gain from one frame to the next (linear factor: −20 dB per 10 ms); rises are never
/// slowed. It was 0.6 (−4.4 dB per frame) until 2026-12-02, which held a key click's frame near the gain of the
/// speech before it. Measured on the tuning half (`docs/quality.md`) with the typing fine-tuned model: 0.6 gives
/// PESQ-WB 1.86 / STOI 0.775 overall and 1.66 / 0.795 on typing; 0.3 gives 1.89 / 0.780 and 1.83 / 0.820; 0.1
/// gives 1.89 / 0.781 and 1.87 / 0.829, with clean speech through the model unchanged (23.8 dB SI-SDR); 0 adds
/// nothing more.
pub const RELEASE_PER_FRAME: f32 = 0.1;

/// Exponent applied to the network's gains in the bands centred at 8 kHz and above, before use. Below 1 it
/// relaxes them: the network under-estimates speech there (its training corpus holds 1.3 h of full-band speech
/// against 2.6 h of 16 kHz speech). Chosen with [`NEURAL_CLASSIC_WEIGHT`] on the tuning mixtures of
/// `docs/quality.md`. Below 8 kHz see [`NEURAL_LOW_BAND_EXPONENT`].
pub const NEURAL_HIGH_BAND_EXPONENT: f32 = 0.4;

/// Exponent applied to the network's gains in the bands centred below 8 kHz that lie under
/// [`NEURAL_LOW_BAND_KNEE`], before use (1 = as the network says, shipped). Above 1 it deepens the cuts the
/// network hedges on, a key click's among them: a gain `g` under the knee `k` becomes `k · (g / k)^p`. Measured
/// with the model shipped 2026-12-06 (`docs/model.md`): 1.6 under a knee of 0.4 looked free on the tuning half
/// (PESQ-WB +0.017, STOI −0.0004, typing +0.07), but on the report half it cost 0.005 STOI (0.018 at −5 dB SNR)
/// for +0.005 PESQ-WB, and so it did with a model that never heard either half: the cost lies at 0 dB SNR and
/// below, in noises and voices the tuning half lacks. It stays at 1.
pub const NEURAL_LOW_BAND_EXPONENT: f32 = 1.0;

/// The gain (linear, 0..=1) under which [`NEURAL_LOW_BAND_EXPONENT`] acts: gains at or above it are used as the
/// network says; below it the curve is continuous at the knee. 1 applies the exponent to every gain.
pub const NEURAL_LOW_BAND_KNEE: f32 = 1.0;

/// Exponent applied to the network's gains below 8 kHz in frames the network calls noise, on top of
/// [`NEURAL_LOW_BAND_EXPONENT`] (linear exponent, ≥ 1; 1 = off, shipped). In a frame with speech probability `v`
/// the band gains are raised to `1 + (NEURAL_PAUSE_EXPONENT − 1) · (1 − v)`: where the network is sure of speech
/// nothing changes. Measured with the model shipped 2026-12-06 (`docs/model.md`): at 2 it cost 0.005 STOI in
/// every noise category and at every SNR, 20 dB included, for no PESQ-WB or typing gain (the speech probability
/// sits well below 1 in too many speech frames), so it stays off.
pub const NEURAL_PAUSE_EXPONENT: f32 = 1.0;

/// The exponent of the network's gains from 8 kHz up in frames the network calls noise (speech probability
/// 0), in place of [`NEURAL_HIGH_BAND_EXPONENT`], which then holds only where it is sure of speech; between the
/// two it moves with the speech probability. [`NEURAL_HIGH_BAND_EXPONENT`] relaxes the high band because the
/// network under-estimates speech there; in a pause there is no speech to keep. Equal to
/// [`NEURAL_HIGH_BAND_EXPONENT`] = off (shipped): at 1.0 and 2.0 it gained 0.005 PESQ-WB and cost 0.2–0.4 dB of
/// the speech above 8 kHz (fricatives are where the network is least sure of speech).
pub const NEURAL_PAUSE_HIGH_BAND_EXPONENT: f32 = NEURAL_HIGH_BAND_EXPONENT;

/// In neural mode, each bin's gain is the network's band gain (interpolated to the bin) times the classic
/// suppressor's gain for that bin raised to this power. The network decides per band (22 bands, a few hundred
/// hertz to kilohertz wide); the classic MMSE-LSA gain adds what only a per-bin decision sees: the valleys
/// between voice harmonics and narrow-band noise such as hum and whine inside a band. With its square-root-ish
/// weight it never decides alone. Chosen on tuning mixtures (`docs/quality.md`): 0 gave PESQ-WB 1.69, 0.3 gave
/// 1.81 with higher STOI and SI-SDR gain.
pub const NEURAL_CLASSIC_WEIGHT: f32 = 0.3;

/// How much of each band's energy that the classic refinement took away is given back (log-domain share,
/// 0..=1): after the per-bin multiplication, each band's effective gain is raised by
/// `(g_before / g_after)^NEURAL_REFINE_RESTORE`, so at 1 the network alone sets every band's level and the classic
/// gains only shape it between harmonics. 0 keeps the plain product.
pub const NEURAL_REFINE_RESTORE: f32 = 0.0;

/// How fast the VAD gate closes after its hold time, dB per 10 ms frame.
pub const GATE_RELEASE_DB_PER_FRAME: f32 = 1.5;

/// A frame whose power between [`ONSET_LOW_HZ`] and [`ONSET_HIGH_HZ`] stands at least this far above the
/// classic tracker's noise estimate opens the gate for that frame, dB, even while the network's speech
/// probability is still below the threshold (so does the fricative range, [`GATE_FRICATIVE_ONSET_SNR_DB`]). The
/// network needs one to five frames to become sure of a word; without this cue a plosive or fricative onset
/// after a pause lost its first 10–60 ms. Stationary noise sits within about 1 dB of its estimate over this
/// range (brown noise, whose power sits in a few low bins, up to 4.2 dB), so it does not open the gate; a click
/// or knock does, for its own frames only (the cue neither starts the hold nor moves the gate's release), and is
/// then cut by the network's own gains instead of the gate's full reduction.
pub const GATE_ONSET_SNR_DB: f32 = 6.0;

/// The same for the power between [`ONSET_FRICATIVE_LOW_HZ`] and [`ONSET_HIGH_HZ`], dB. Lower than
/// [`GATE_ONSET_SNR_DB`] because that range holds many bins of similar power in any broadband noise: pink and
/// brown noise measured 0–1.3 dB over their estimate there, while a weak /f/ over a −45 dBFS pink floor
/// measured 3–6 dB (`dsp/tests/gate_onsets.rs`).
pub const GATE_FRICATIVE_ONSET_SNR_DB: f32 = 4.0;

/// The onset measure the gate compares with [`GATE_ONSET_SNR_DB`], dB: the whole range's `whole_db` or the
/// fricative range's `fricative_db` raised by the difference of the two thresholds, whichever is larger (both
/// from [`onset_snr_db`]). Does not allocate.
pub fn onset_measure_db(whole_db: f32, fricative_db: f32) -> f32 {
    whole_db.max(fricative_db + (GATE_ONSET_SNR_DB - GATE_FRICATIVE_ONSET_SNR_DB))
}

/// Lowest frequency of the onset cue's power sum, Hz.
pub const ONSET_LOW_HZ: f32 = 100.0;

/// Lowest frequency of the onset cue's second power sum, Hz: the fricative range. A weak /f/ or /s/ over a pink
/// or low-frequency noise floor stands out there when the whole range is dominated by the noise below it (a /f/
/// at −24 dB re the vowel over a −45 dBFS pink floor: about 5 dB over the whole range, 7 dB above 2 kHz).
pub const ONSET_FRICATIVE_LOW_HZ: f32 = 2_000.0;

/// Highest frequency of the onset cue's power sums, Hz (fricatives such as /s/ and /f/ reach up to here; it is
/// cut at Nyquist at low sample rates).
pub const ONSET_HIGH_HZ: f32 = 10_000.0;

/// The onset cue's measure: the frame's power over the noise estimate, summed over bins `bins` (a range of
/// indices into both slices), dB. Returns −∞ when the range holds no power and +∞ for power over no noise.
/// Does not allocate.
pub fn onset_snr_db(power: &[f32], noise: &[f32], bins: std::ops::Range<usize>) -> f32 {
    let end = bins.end.min(power.len()).min(noise.len());
    let start = bins.start.min(end);
    let (mut p, mut n) = (0.0f64, 0.0f64);
    for (a, b) in power[start..end].iter().zip(&noise[start..end]) {
        p += f64::from(*a);
        n += f64::from(*b);
    }
    if p.is_nan() || p <= 0.0 {
        f32::NEG_INFINITY
    } else if n.is_nan() || n <= 0.0 {
        f32::INFINITY
    } else {
        (10.0 * (p / n).log10()) as f32
    }
}

/// Converts dB to a linear amplitude gain. Does not allocate.
pub fn db_to_gain(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// The two constants that shape the network's gains, as one value, so that an evaluation can re-check them
/// without a rebuild ([`crate::Engine::set_neural_shaping`]). Plain data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NeuralShaping {
    /// Power of the classic per-bin gain in the refinement (linear exponent; 0 = band gains alone).
    pub classic_weight: f32,
    /// Power of the band gains from 8 kHz up (linear exponent; 1 = as the network says).
    pub high_band_exponent: f32,
    /// Power of the band gains below 8 kHz under `low_band_knee` (linear exponent; 1 = as the network says).
    pub low_band_exponent: f32,
    /// Gain (linear, 0..=1) under which `low_band_exponent` acts ([`NEURAL_LOW_BAND_KNEE`]).
    pub low_band_knee: f32,
    /// Share of the band energy removed by the refinement that is given back (0..=1; see
    /// [`NEURAL_REFINE_RESTORE`]).
    pub refine_restore: f32,
    /// Extra power of the band gains below 8 kHz where the speech probability is 0 (linear exponent, ≥ 1; 1 =
    /// off; see [`NEURAL_PAUSE_EXPONENT`]).
    pub pause_exponent: f32,
    /// Power of the band gains from 8 kHz up where the speech probability is 0 (linear exponent; equal to
    /// `high_band_exponent` = off; see [`NEURAL_PAUSE_HIGH_BAND_EXPONENT`]).
    pub pause_high_band_exponent: f32,
}

impl NeuralShaping {
    /// The shipped values: [`NEURAL_CLASSIC_WEIGHT`], [`NEURAL_HIGH_BAND_EXPONENT`], [`NEURAL_LOW_BAND_EXPONENT`],
    /// [`NEURAL_LOW_BAND_KNEE`], [`NEURAL_REFINE_RESTORE`], [`NEURAL_PAUSE_EXPONENT`] and
    /// [`NEURAL_PAUSE_HIGH_BAND_EXPONENT`].
    pub const DEFAULT: NeuralShaping = NeuralShaping {
        classic_weight: NEURAL_CLASSIC_WEIGHT,
        high_band_exponent: NEURAL_HIGH_BAND_EXPONENT,
        low_band_exponent: NEURAL_LOW_BAND_EXPONENT,
        low_band_knee: NEURAL_LOW_BAND_KNEE,
        refine_restore: NEURAL_REFINE_RESTORE,
        pause_exponent: NEURAL_PAUSE_EXPONENT,
        pause_high_band_exponent: NEURAL_PAUSE_HIGH_BAND_EXPONENT,
    };
}

impl Default for NeuralShaping {
    fn default() -> Self {
        NeuralShaping::DEFAULT
    }
}

/// Clamps the network's band gains to 0..=1, expands those below 8 kHz that lie under `shaping.low_band_knee`
/// by `shaping.low_band_exponent` (continuous at the knee) and then by the pause exponent for the frame's speech
/// probability `vad` (0..=1), and raises those from 8 kHz up to the exponent between
/// `shaping.pause_high_band_exponent` (`vad` 0) and `shaping.high_band_exponent` (`vad` 1). A non-finite `vad`
/// counts as speech (nothing deepened). Does not allocate.
pub fn shape_neural_gains(band: &mut [f32; NB_BANDS], shaping: &NeuralShaping, vad: f32) {
    let p = shaping.low_band_exponent;
    let knee = shaping.low_band_knee.clamp(1e-3, 1.0);
    let noise = if vad.is_finite() {
        1.0 - vad.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let pause = 1.0 + (shaping.pause_exponent.max(1.0) - 1.0) * noise;
    for g in &mut band[..FIRST_HIGH_BAND] {
        *g = g.clamp(0.0, 1.0);
        if p != 1.0 && *g < knee {
            *g = knee * (*g / knee).powf(p);
        }
        if pause != 1.0 {
            *g = g.powf(pause);
        }
    }
    let high = shaping.high_band_exponent
        + (shaping.pause_high_band_exponent - shaping.high_band_exponent) * noise;
    for g in &mut band[FIRST_HIGH_BAND..] {
        *g = g.clamp(0.0, 1.0).powf(high);
    }
}

/// The per-bin gains of neural mode: the network's band gains `band` (shaped in place by
/// [`shape_neural_gains`] for the frame's speech probability `vad`) interpolated to bins, each bin multiplied by
/// the classic gain `classic` of that bin to the power `shaping.classic_weight`; then, if
/// `shaping.refine_restore` > 0, each band's level is partly restored towards the network's, weighting bins by
/// `power` (|X|²). Writes `gains` (one per bin); `classic` is overwritten with scratch values. Does not allocate.
pub fn refine_neural(
    bands: &BandLayout,
    shaping: &NeuralShaping,
    band: &mut [f32; NB_BANDS],
    vad: f32,
    classic: &mut [f32],
    power: &[f32],
    gains: &mut [f32],
) {
    shape_neural_gains(band, shaping, vad);
    // Absent bands (above Nyquist) have no target; the interpolation holds the last present band's gain.
    bands.interpolate(band, gains);
    let mut before = [1.0; NB_BANDS];
    if shaping.refine_restore > 0.0 {
        bands.reduce_gains(gains, power, &mut before);
    }
    // Runs of equal classic gains (the bins above the tracked range hold one value) share one `powf`.
    let (mut last, mut weighted) = (f32::NAN, 1.0);
    for (g, c) in gains.iter_mut().zip(classic.iter()) {
        if *c != last {
            last = *c;
            weighted = c.powf(shaping.classic_weight);
        }
        *g *= weighted;
    }
    if shaping.refine_restore > 0.0 {
        // The band levels the refinement left, against those of the network's interpolated gains.
        let mut after = [1.0; NB_BANDS];
        bands.reduce_gains(gains, power, &mut after);
        let mut correction = [1.0; NB_BANDS];
        for ((c, a), b) in correction.iter_mut().zip(&after).zip(&before) {
            *c = if *a > 1e-6 {
                (b / a).max(1.0).powf(shaping.refine_restore).min(1e3)
            } else {
                1.0
            };
        }
        bands.interpolate(&correction, classic);
        for (g, c) in gains.iter_mut().zip(classic.iter()) {
            *g = (*g * c).min(1.0);
        }
    }
}

/// Release limiting, the VAD gate and the floor, with their state. Construction allocates; nothing else does.
pub struct MaskStage {
    /// Gains after release limiting, per bin (the memory of the release).
    held: Vec<f32>,
    /// The lowest gain allowed, linear (the maximum attenuation).
    floor: f32,
    /// Fastest fall per frame, linear factor ([`RELEASE_PER_FRAME`] by default).
    release: f32,
    gate: VadGate,
    gate_gain: f32,
    gate_hold_frames: u32,
    /// Whether the onset cue may open the gate ([`GATE_ONSET_SNR_DB`]); on by default.
    onset_cue: bool,
}

impl MaskStage {
    /// A stage for `bins` bins with the default settings. Allocates.
    pub fn new(bins: usize) -> Self {
        MaskStage {
            held: vec![1.0; bins],
            floor: db_to_gain(-Settings::REDUCTION_DB.default),
            release: RELEASE_PER_FRAME,
            gate: VadGate::DEFAULT,
            gate_gain: 1.0,
            gate_hold_frames: 0,
            onset_cue: true,
        }
    }

    /// Turns the gate's onset cue on or off (on by default; see [`GATE_ONSET_SNR_DB`]). For evaluations that
    /// measure what it keeps. Does not allocate.
    pub fn set_onset_cue(&mut self, enabled: bool) {
        self.onset_cue = enabled;
    }

    /// Sets the maximum attenuation, dB, limited to [`Settings::REDUCTION_DB`] (non-finite: the default).
    /// Does not allocate.
    pub fn set_max_attenuation_db(&mut self, db: f32) {
        self.floor = db_to_gain(-Settings::REDUCTION_DB.clamp(db));
    }

    /// The current maximum attenuation, dB.
    pub fn max_attenuation_db(&self) -> f32 {
        -20.0 * self.floor.log10()
    }

    /// Replaces the release limit: the fastest fall of a gain per frame, linear factor limited to 0..=1 (default
    /// [`RELEASE_PER_FRAME`]; 0 lets a gain fall at once). For evaluations. Does not allocate.
    pub fn set_release_per_frame(&mut self, release: f32) {
        self.release = if release.is_finite() {
            release.clamp(0.0, 1.0)
        } else {
            RELEASE_PER_FRAME
        };
    }

    /// The lowest gain applied, linear (`10^(−reduction/20)`).
    pub fn floor(&self) -> f32 {
        self.floor
    }

    /// Configures the VAD gate; threshold and hold are limited to their ranges ([`VadGate::clamped`]).
    /// Does not allocate.
    pub fn set_gate(&mut self, gate: VadGate) {
        self.gate = gate.clamped();
    }

    /// The gate's settings in use.
    pub fn gate(&self) -> VadGate {
        self.gate
    }

    /// Whether gains other than one are applied in `mode`: false in unity mode and at 0 dB attenuation.
    pub fn shapes(&self, mode: MaskMode) -> bool {
        mode != MaskMode::Unity && self.floor < 1.0
    }

    /// Clears the release memory and the gate, as after construction; settings are kept. Does not allocate.
    pub fn reset(&mut self) {
        self.held.fill(1.0);
        self.gate_gain = 1.0;
        self.gate_hold_frames = 0;
    }

    /// Turns the source's per-bin `gains` into the applied ones in place: release, gate (driven by the speech
    /// probability `vad` and the onset measure `onset_db` from [`onset_measure_db`], neural mode only) and floor;
    /// all ones when the stage does not shape in `mode`. Returns the gate's gain, linear. Does not allocate.
    pub fn apply(&mut self, gains: &mut [f32], mode: MaskMode, vad: f32, onset_db: f32) -> f32 {
        let shaping = self.shapes(mode);
        let gate = self.update_gate(vad, mode == MaskMode::Neural && shaping);
        let gate = if self.onset_cue && gate < 1.0 && onset_db >= GATE_ONSET_SNR_DB {
            1.0
        } else {
            gate
        };
        if shaping {
            for (g, h) in gains.iter_mut().zip(self.held.iter_mut()) {
                let held = if g.is_finite() {
                    g.max(*h * self.release)
                } else {
                    1.0
                };
                *h = flush(held);
                *g = (held * gate).max(self.floor);
            }
        } else {
            gains.fill(1.0);
            self.held.fill(1.0);
        }
        gate
    }

    /// Advances the VAD gate by one frame and returns its gain (1 when off, inactive or open). Does not
    /// allocate.
    fn update_gate(&mut self, vad: f32, active: bool) -> f32 {
        if !(active && self.gate.enabled) {
            self.gate_gain = 1.0;
            self.gate_hold_frames = 0;
            return 1.0;
        }
        if vad >= self.gate.threshold {
            self.gate_gain = 1.0;
            self.gate_hold_frames = (self.gate.hold_ms / 10.0).round() as u32;
        } else if self.gate_hold_frames > 0 {
            self.gate_hold_frames -= 1;
        } else {
            self.gate_gain =
                (self.gate_gain * db_to_gain(-GATE_RELEASE_DB_PER_FRAME)).max(self.floor);
        }
        self.gate_gain
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FrameLayout;

    fn stage() -> MaskStage {
        let mut s = MaskStage::new(481);
        s.set_gate(VadGate {
            enabled: true,
            threshold: 0.5,
            hold_ms: 50.0,
        });
        s.set_max_attenuation_db(30.0);
        s
    }

    #[test]
    fn vad_gate_opens_at_once_holds_then_releases_gradually() {
        let mut s = stage();
        // Silence closes the gate gradually, never below the attenuation floor.
        let mut last = 1.0;
        for _ in 0..200 {
            let g = s.update_gate(0.0, true);
            assert!(g <= last && g >= s.floor - 1e-7);
            assert!(
                last / g <= db_to_gain(GATE_RELEASE_DB_PER_FRAME) * 1.0001,
                "closed faster than the release"
            );
            last = g;
        }
        assert!((last - s.floor).abs() < 1e-6);
        // The first frame at the threshold opens it completely.
        assert_eq!(s.update_gate(0.9, true), 1.0);
        // It holds for hold_ms (5 frames) after the last speech frame...
        for _ in 0..5 {
            assert_eq!(s.update_gate(0.1, true), 1.0);
        }
        // ...then releases by GATE_RELEASE_DB_PER_FRAME per frame.
        let g = s.update_gate(0.1, true);
        assert!((g - db_to_gain(-GATE_RELEASE_DB_PER_FRAME)).abs() < 1e-6);
    }

    #[test]
    fn the_onset_cue_opens_the_gate_for_its_own_frames_only() {
        let mut s = stage();
        let mut g = vec![1.0f32; 481];
        // Close the gate completely on frames without speech or onset.
        for _ in 0..40 {
            g.fill(1.0);
            s.apply(&mut g, MaskMode::Neural, 0.0, 0.0);
        }
        assert!((g[0] - s.floor()).abs() < 1e-6);
        // A frame well above the noise opens it at once, the network not yet sure...
        g.fill(1.0);
        assert_eq!(
            s.apply(&mut g, MaskMode::Neural, 0.1, GATE_ONSET_SNR_DB),
            1.0
        );
        assert!(g.iter().all(|&v| v == 1.0));
        // ...and the next frame without the cue is closed again: no hold, no release from one.
        g.fill(1.0);
        let closed = s.apply(&mut g, MaskMode::Neural, 0.1, GATE_ONSET_SNR_DB - 0.1);
        assert!((closed - s.floor()).abs() < 1e-6, "{closed}");
        // Switched off, the cue does nothing.
        s.set_onset_cue(false);
        g.fill(1.0);
        let off = s.apply(&mut g, MaskMode::Neural, 0.1, 40.0);
        assert!((off - s.floor()).abs() < 1e-6);
    }

    #[test]
    fn the_onset_measure_is_the_power_over_the_noise_in_db() {
        let power = [0.0, 4.0, 4.0, 100.0];
        let noise = [1.0, 1.0, 1.0, 1.0];
        assert!((onset_snr_db(&power, &noise, 1..3) - 10.0 * 4f32.log10()).abs() < 1e-5);
        assert_eq!(onset_snr_db(&power, &noise, 0..1), f32::NEG_INFINITY);
        assert_eq!(onset_snr_db(&power, &[0.0; 4], 1..3), f32::INFINITY);
        // Ranges past the end are cut, not a panic.
        assert!(onset_snr_db(&power, &noise, 3..99).is_finite());
        assert_eq!(onset_snr_db(&power, &noise, 9..99), f32::NEG_INFINITY);
    }

    #[test]
    fn vad_gate_is_transparent_when_off_or_inactive() {
        let mut s = stage();
        assert_eq!(s.update_gate(0.0, false), 1.0);
        s.set_gate(VadGate::default());
        for _ in 0..100 {
            assert_eq!(s.update_gate(0.0, true), 1.0);
        }
    }

    #[test]
    fn release_limits_how_fast_a_gain_falls_and_never_slows_a_rise() {
        let mut s = stage();
        // A floor below two release steps, so that the release alone sets the gains.
        s.set_max_attenuation_db(60.0);
        let mut g = vec![0.0f32; 481];
        s.apply(&mut g, MaskMode::Classic, 0.0, 0.0);
        assert!(g.iter().all(|&v| (v - RELEASE_PER_FRAME).abs() < 1e-7));
        g.fill(0.0);
        s.apply(&mut g, MaskMode::Classic, 0.0, 0.0);
        let expected = RELEASE_PER_FRAME * RELEASE_PER_FRAME;
        assert!(g.iter().all(|&v| (v - expected).abs() < 1e-7));
        let mut up = vec![1.0f32; 481];
        s.apply(&mut up, MaskMode::Classic, 0.0, 0.0);
        assert!(up.iter().all(|&v| v == 1.0));
    }

    #[test]
    fn the_floor_bounds_every_gain_and_non_finite_gains_pass_the_audio() {
        let mut s = stage();
        let mut g = vec![0.0f32; 481];
        for _ in 0..100 {
            g.fill(0.0);
            s.apply(&mut g, MaskMode::Classic, 0.0, 0.0);
        }
        assert!(g.iter().all(|&v| (v - s.floor()).abs() < 1e-7));
        g.fill(f32::NAN);
        s.apply(&mut g, MaskMode::Classic, 0.0, 0.0);
        assert!(g.iter().all(|&v| v == 1.0));
    }

    #[test]
    fn unity_mode_and_zero_attenuation_apply_no_gain() {
        let mut s = stage();
        let mut g = vec![0.1f32; 481];
        s.apply(&mut g, MaskMode::Unity, 0.0, 0.0);
        assert!(g.iter().all(|&v| v == 1.0));
        s.set_max_attenuation_db(0.0);
        g.fill(0.1);
        assert_eq!(s.apply(&mut g, MaskMode::Neural, 0.0, 0.0), 1.0);
        assert!(g.iter().all(|&v| v == 1.0));
    }

    #[test]
    fn the_attenuation_is_limited_to_its_range() {
        let mut s = stage();
        s.set_max_attenuation_db(500.0);
        assert!((s.max_attenuation_db() - Settings::REDUCTION_DB.max).abs() < 1e-3);
        s.set_max_attenuation_db(f32::NAN);
        assert!((s.max_attenuation_db() - Settings::REDUCTION_DB.default).abs() < 1e-3);
    }

    #[test]
    fn neural_gain_shaping_differs_below_and_above_8_khz() {
        assert_eq!(crate::bands::BAND_EDGES_HZ[FIRST_HIGH_BAND], 8000.0);
        let mut band = [0.5; NB_BANDS];
        band[0] = 1.5;
        band[1] = -0.5;
        let plain = NeuralShaping {
            low_band_exponent: 1.0,
            ..NeuralShaping::DEFAULT
        };
        shape_neural_gains(&mut band, &plain, 1.0);
        assert_eq!(band[0], 1.0);
        assert_eq!(band[1], 0.0);
        assert!(band[2..FIRST_HIGH_BAND].iter().all(|&g| g == 0.5));
        let high = 0.5f32.powf(NEURAL_HIGH_BAND_EXPONENT);
        assert!(band[FIRST_HIGH_BAND..].iter().all(|&g| g == high));
        // An exponent above one below 8 kHz deepens the cuts there and leaves unity and the high bands alone.
        let mut band = [0.5; NB_BANDS];
        band[0] = 1.0;
        let squared = NeuralShaping {
            low_band_exponent: 2.0,
            low_band_knee: 1.0,
            ..plain
        };
        shape_neural_gains(&mut band, &squared, 1.0);
        assert_eq!(band[0], 1.0);
        assert!(band[1..FIRST_HIGH_BAND].iter().all(|&g| g == 0.25));
        assert!(band[FIRST_HIGH_BAND..].iter().all(|&g| g == high));
    }

    #[test]
    fn pause_exponents_act_only_as_far_as_the_network_hears_no_speech() {
        let shaping = NeuralShaping {
            pause_exponent: 3.0,
            pause_high_band_exponent: 1.0,
            high_band_exponent: 0.5,
            ..NeuralShaping::DEFAULT
        };
        let shape = |g: f32, vad: f32| {
            let mut band = [g; NB_BANDS];
            shape_neural_gains(&mut band, &shaping, vad);
            (band[0], band[FIRST_HIGH_BAND])
        };
        // Sure of speech: the gains as the other constants shape them.
        assert_eq!(shape(0.25, 1.0), (0.25, 0.5));
        // Sure of noise: the pause exponents.
        let (low, high) = shape(0.25, 0.0);
        assert!((low - 0.25f32.powi(3)).abs() < 1e-7, "{low}");
        assert!((high - 0.25).abs() < 1e-6, "{high}");
        // Half sure: half way in the exponent (2 below 8 kHz, 0.75 above).
        let (low, high) = shape(0.25, 0.5);
        assert!((low - 0.0625).abs() < 1e-6, "{low}");
        assert!((high - 0.25f32.powf(0.75)).abs() < 1e-6, "{high}");
        // Unity stays unity, and a non-finite probability deepens nothing.
        assert_eq!(shape(1.0, 0.0), (1.0, 1.0));
        assert_eq!(shape(0.25, f32::NAN), (0.25, 0.5));
        // Never a gain above the one the network gave below 8 kHz.
        for v in [0.0, 0.3, 0.7, 1.0] {
            for g in [0.0, 0.01, 0.3, 0.9] {
                assert!(shape(g, v).0 <= g);
            }
        }
    }

    #[test]
    fn the_low_band_knee_leaves_gains_above_it_alone_and_is_continuous() {
        let shaping = NeuralShaping {
            low_band_exponent: 2.0,
            low_band_knee: 0.5,
            ..NeuralShaping::DEFAULT
        };
        let shape = |g: f32| {
            let mut band = [g; NB_BANDS];
            shape_neural_gains(&mut band, &shaping, 1.0);
            band[0]
        };
        // At and above the knee: as the network says.
        assert_eq!(shape(0.5), 0.5);
        assert_eq!(shape(0.8), 0.8);
        // Below it: 0.5 · (g / 0.5)², deeper, and continuous at the knee.
        assert!((shape(0.25) - 0.125).abs() < 1e-6);
        assert!((shape(0.1) - 0.02).abs() < 1e-6);
        assert!((shape(0.4999) - 0.4998).abs() < 1e-3);
        assert_eq!(shape(0.0), 0.0);
        // Monotonic: a lower network gain never gives a higher applied gain.
        let curve: Vec<f32> = (0..=100).map(|i| shape(i as f32 / 100.0)).collect();
        assert!(curve.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn the_refinement_multiplies_by_the_weighted_classic_gain() {
        let layout = FrameLayout::new(48_000.0).unwrap();
        let bands = BandLayout::new(&layout);
        let mut band = [1.0; NB_BANDS];
        let mut classic = vec![0.25f32; layout.bins];
        let power = vec![1.0f32; layout.bins];
        let mut gains = vec![0.0f32; layout.bins];
        refine_neural(
            &bands,
            &NeuralShaping {
                refine_restore: 0.0,
                ..NeuralShaping::DEFAULT
            },
            &mut band,
            1.0,
            &mut classic,
            &power,
            &mut gains,
        );
        let expected = 0.25f32.powf(NEURAL_CLASSIC_WEIGHT);
        assert!(gains.iter().all(|&g| (g - expected).abs() < 1e-6));
    }

    #[test]
    fn a_full_restore_gives_each_band_the_networks_level_shaped_by_the_classic_gains() {
        let layout = FrameLayout::new(48_000.0).unwrap();
        let bands = BandLayout::new(&layout);
        let mut band = [0.5; NB_BANDS];
        // Classic gains alternate between 1 (harmonics) and 0.1 (valleys); the power is equal in every bin.
        let mut classic: Vec<f32> = (0..layout.bins)
            .map(|k| if k % 2 == 0 { 1.0 } else { 0.1 })
            .collect();
        let power = vec![1.0f32; layout.bins];
        let mut gains = vec![0.0f32; layout.bins];
        let shaping = NeuralShaping {
            classic_weight: 1.0,
            high_band_exponent: 1.0,
            low_band_exponent: 1.0,
            low_band_knee: 1.0,
            refine_restore: 1.0,
            pause_exponent: 1.0,
            pause_high_band_exponent: 1.0,
        };
        refine_neural(
            &bands,
            &shaping,
            &mut band,
            1.0,
            &mut classic,
            &power,
            &mut gains,
        );
        let mut level = [0.0; NB_BANDS];
        bands.reduce_gains(&gains, &power, &mut level);
        for (i, l) in level.iter().enumerate().take(bands.present()) {
            assert!((l - 0.5).abs() < 0.02, "band {i}: level {l}");
        }
        // Valleys still lie below harmonics.
        assert!(gains[41] < gains[40] && gains[41] < gains[42]);
    }
}
