//! `cargo xtask train`: trains the neural mask on mixtures made on the fly and writes weights files.

use crate::data::{self, Clip, RATE};
use crate::dataset::{sequence, Sequence};
use crate::halves::{self, Half};
use crate::mix::{self, Pool};
use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use indicatif::{ProgressBar, ProgressStyle};
use quell_dsp::bands::NB_BANDS;
use quell_dsp::features::NB_FEATURES;
use quell_dsp::metrics::si_sdr;
use quell_dsp::neural::reference::{weights_from_varmap, Net, NetState};
use quell_dsp::neural::{ModelMetadata, ModelWeights, NeuralMask};
use quell_dsp::synth::Rng;
use quell_dsp::{Engine, EngineConfig, MaskMode};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Training settings (the command-line options of `cargo xtask train`).
#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// Folder with manifest.csv, speech/ and noise/.
    #[arg(long, default_value = "../shared/data")]
    pub data: PathBuf,
    /// Output folder for checkpoints, the log and the final weights.
    #[arg(long, default_value = "target/train")]
    pub out: PathBuf,
    /// Number of epochs.
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
    /// Batches per epoch.
    #[arg(long, default_value_t = 100)]
    pub batches: usize,
    /// Sequences per batch.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Frames (10 ms) per training sequence.
    #[arg(long, default_value_t = 200)]
    pub frames: usize,
    /// AdamW learning rate.
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f64,
    /// Seed of everything random (data, initialisation).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Share of training examples with typing (key clips) in their noise, 0..=1.
    #[arg(long, default_value_t = mix::TYPING)]
    pub typing: f64,
    /// Share of the examples with typing whose other noise is turned down by 30–80 dB (keys over near silence),
    /// 0..=1 (`mix::Recipe::typing_alone`); 0 keeps the earlier recipe.
    #[arg(long, default_value_t = 0.0)]
    pub typing_alone: f64,
    /// Share of the examples with typing whose keys come from a synthetic keyboard (`mix::synthetic_keyboard`)
    /// instead of the recorded key clips, 0..=1; 0 keeps the earlier recipe.
    #[arg(long, default_value_t = 0.0)]
    pub synth_keys: f64,
    /// Share of examples whose speech goes through a synthetic room with only its direct path and early
    /// reflections (50 ms) in the target, 0..=1; 0 keeps the earlier Schroeder reverberation on 20 % of the
    /// speech with all of it in the target (`mix::Recipe::rooms`).
    #[arg(long, default_value_t = 0.0)]
    pub rooms: f64,
    /// Probability that a speech clip is followed by a 0.2–1.5 s pause with only noise, 0..=1
    /// (`mix::Recipe::pauses`); 0 keeps the clips back to back.
    #[arg(long, default_value_t = 0.0)]
    pub pauses: f64,
    /// Give each example's typing a random keyboard: key clips played 0.75–1.33 times as fast and each key
    /// struck up to 8 dB harder or softer (`mix::KeyVariety`); off keeps the clips as recorded.
    #[arg(long)]
    pub key_variety: bool,
    /// Share of examples resampled to a lower rate (8–44.1 kHz, `mix::LOW_RATES`), where the engine has no bands
    /// above the Nyquist frequency, 0..=1; 0 keeps every example at 48 kHz.
    #[arg(long, default_value_t = 0.0)]
    pub low_rates: f64,
    /// Share of examples whose speech is all full-band (RAVDESS, Callie, GCompris, ALSA; drawn by duration),
    /// 0..=1 (`mix::Recipe::full_band`); 0 keeps the earlier recipe, where clips are drawn alike.
    #[arg(long, default_value_t = 0.0)]
    pub full_band: f64,
    /// Mask the bands above each clip's own content frame by frame (GCompris voices at their measured cut-offs)
    /// instead of above the narrowest clip of the whole example (`mix::Recipe::clip_bandwidths`); off keeps the
    /// earlier targets.
    #[arg(long)]
    pub clip_bandwidths: bool,
    /// Lowest speech-to-noise ratio of the mixtures, dB (uniform up to `mix::SNR_MAX_DB`, 30 dB); the default
    /// keeps the earlier −5…30 dB.
    #[arg(long, default_value_t = mix::SNR_MIN_DB, allow_hyphen_values = true)]
    pub snr_min: f64,
    /// Longest pause between typing bursts, seconds (from `mix::KEY_GAP_MIN_S`, 0.2 s; the default keeps the
    /// earlier 0.2–1.5 s). Longer pauses put more first keys after silence into training.
    #[arg(long, default_value_t = mix::KEY_GAP_MAX_S)]
    pub key_gap_max: f64,
    /// Continue from the newest checkpoint in --out.
    #[arg(long)]
    pub resume: bool,
    /// Validation examples (4 s each, held-out speakers and noises, fixed seed).
    #[arg(long, default_value_t = 48)]
    pub val_examples: usize,
    /// Loss weight of the bands centred at 8 kHz and above, where a clip has them (1 = like every band). Raising
    /// it counters the scarcity of full-band speech in the corpus.
    #[arg(long, default_value_t = 1.0)]
    pub hf_weight: f32,
    /// Weight of a loss term on the error of the output's band energies in dB: (ln(ĝ + ε) − ln(g + ε))² with
    /// ε = −30 dB (the default maximum attenuation). 0 = the RNNoise-style loss alone. Unlike errors on the
    /// gains themselves, it counts 0.1 against 0.01 in a noise-only band as much as 1 against 0.1.
    #[arg(long, default_value_t = 0.0)]
    pub log_weight: f32,
    /// Extra cost of predicting less gain than the target (removing speech), on top of the squared error that
    /// both directions pay: 3 (the default) makes removing speech cost four times leaving noise; 0 is symmetric.
    #[arg(long, default_value_t = LossWeights::DEFAULT.under)]
    pub under_weight: f32,
    /// Exponent that compresses the gains before their error is taken (RNNoise 0.2 uses 0.25). Below the
    /// default 0.5 it counts the depth of a cut more: 0.01 against 0.05 weighs about as much as 0.1 against 0.3.
    #[arg(long, default_value_t = LossWeights::DEFAULT.gamma)]
    pub gamma: f32,
    /// Extra weight of the gain error in frames labelled speech: each frame's gain loss is multiplied by
    /// `1 + speech_weight · vad` (RNNoise 0.2 uses 5). 0 weighs every frame alike.
    #[arg(long, default_value_t = LossWeights::DEFAULT.speech)]
    pub speech_weight: f32,
    /// Copy the final weights to assets/model/quell.safetensors.
    #[arg(long)]
    pub install: bool,
}

/// One batch, step-major: `features[t]` is `[B × 42]`, and so on.
pub struct Batch {
    features: Vec<Vec<f32>>,
    gains: Vec<Vec<f32>>,
    gain_mask: Vec<Vec<f32>>,
    vad: Vec<Vec<f32>>,
    vad_mask: Vec<Vec<f32>>,
    size: usize,
}

impl Batch {
    /// Stacks sequences into a step-major batch.
    pub fn new(seqs: &[Sequence]) -> Self {
        let t = seqs.iter().map(|s| s.features.len()).min().unwrap_or(0);
        let gather = |f: &dyn Fn(&Sequence, usize) -> Vec<f32>| -> Vec<Vec<f32>> {
            (0..t)
                .map(|i| seqs.iter().flat_map(|s| f(s, i)).collect())
                .collect()
        };
        Batch {
            features: gather(&|s, i| s.features[i].to_vec()),
            gains: gather(&|s, i| s.gains[i].to_vec()),
            gain_mask: gather(&|s, i| s.gain_mask[i].to_vec()),
            vad: gather(&|s, i| vec![s.vad[i]]),
            vad_mask: gather(&|s, i| vec![s.vad_mask[i]]),
            size: seqs.len(),
        }
    }

    /// Multiplies the loss weight of bands `first_band..` by `weight`.
    pub fn weight_bands_from(mut self, first_band: usize, weight: f32) -> Self {
        for step in &mut self.gain_mask {
            for (i, m) in step.iter_mut().enumerate() {
                if i % NB_BANDS >= first_band {
                    *m *= weight;
                }
            }
        }
        self
    }
}

/// The weights of the loss's terms (see [`batch_loss`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossWeights {
    /// Weight of the squared log band-energy error (0 = off).
    pub log: f32,
    /// Extra weight of the squared error where the predicted gain is below the target.
    pub under: f32,
    /// Exponent applied to the predicted and target gains before their error is taken.
    pub gamma: f32,
    /// Extra weight of the gain error in speech frames (`1 + speech · vad`).
    pub speech: f32,
}

impl LossWeights {
    /// The RNNoise-style loss as trained until 2026-12-02: no log term, removing speech costs 4× leaving noise.
    pub const DEFAULT: LossWeights = LossWeights {
        log: 0.0,
        under: 3.0,
        gamma: 0.5,
        speech: 0.0,
    };

    fn from_args(args: &TrainArgs) -> Self {
        LossWeights {
            log: args.log_weight,
            under: args.under_weight,
            gamma: args.gamma,
            speech: args.speech_weight,
        }
    }
}

/// Floor of the band gains in the log term of the loss (−30 dB, linear).
const LOG_EPSILON: f64 = 0.031_622_78;

/// The loss of one batch: RNNoise-style errors on compressed gains (`g^w.gamma`, square roots by default), with
/// removing speech (predicting less gain than the target) costing `1 + w.under` times leaving noise and speech
/// frames `1 + w.speech` times the others, plus `w.log` times the squared log band-energy error (see
/// `TrainArgs::log_weight`), plus the VAD's cross-entropy.
pub fn batch_loss(
    net: &Net,
    batch: &Batch,
    w: LossWeights,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let b = batch.size;
    let mut state = NetState::zeros(b, device)?;
    let mut total = Tensor::zeros((), DType::F32, device)?;
    let steps = batch.features.len();
    for t in 0..steps {
        let x = Tensor::from_slice(&batch.features[t], (b, NB_FEATURES), device)?;
        let (g_logit, v_logit, next) = net.step(&x, &state, true)?;
        state = next;
        let target = Tensor::from_slice(&batch.gains[t], (b, NB_BANDS), device)?;
        let mask = Tensor::from_slice(&batch.gain_mask[t], (b, NB_BANDS), device)?;
        let gains = candle_nn::ops::sigmoid(&g_logit)?;
        let err = if w.gamma == 0.5 {
            ((&gains + 1e-4)?.sqrt()? - target.sqrt()?)?
        } else {
            // `+ 1e-4` keeps the gradient of x^γ finite at a gain of 0; the target has no gradient.
            ((&gains + 1e-4)?.powf(w.gamma as f64)? - (&target + 1e-4)?.powf(w.gamma as f64)?)?
        };
        let e2 = err.sqr()?;
        let under = err.neg()?.relu()?.sqr()?;
        let mut gain_loss = ((e2.clone() + (under * w.under as f64)?)? + (e2.sqr()? * 10.0)?)?;
        if w.log > 0.0 {
            let log_err = ((gains + LOG_EPSILON)?.log()? - (&target + LOG_EPSILON)?.log()?)?;
            gain_loss = (gain_loss + (log_err.sqr()? * w.log as f64)?)?;
        }
        let y = Tensor::from_slice(&batch.vad[t], (b, 1), device)?;
        let gain_loss = if w.speech > 0.0 {
            gain_loss.broadcast_mul(&((&y * w.speech as f64)? + 1.0)?)?
        } else {
            gain_loss
        };
        let gain_loss =
            ((gain_loss * &mask)?.sum_all()? / (mask.sum_all()?.to_scalar::<f32>()? as f64 + 1.0))?;

        let vm = Tensor::from_slice(&batch.vad_mask[t], (b, 1), device)?;
        let bce = ((v_logit.relu()? - (&v_logit * &y)?)?
            + ((v_logit.abs()?.neg()?.exp()? + 1.0)?.log()?))?;
        let vad_loss =
            ((bce * &vm)?.sum_all()? / (vm.sum_all()?.to_scalar::<f32>()? as f64 + 1.0))?;
        total = (total + (gain_loss + (vad_loss * 0.5)?)?)?;
    }
    total / steps.max(1) as f64
}

fn examples_rng(seed: u64, epoch: usize, batch: usize, item: usize) -> Rng {
    Rng::new(
        seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9)
            ^ (batch as u64).wrapping_mul(0x85EB_CA6B)
            ^ (item as u64) << 40,
    )
}

fn make_batch(
    pool: &Pool,
    seed: u64,
    epoch: usize,
    batch: usize,
    size: usize,
    frames: usize,
    recipe: mix::Recipe,
) -> Batch {
    let seqs: Vec<Sequence> = (0..size)
        .map(|i| {
            let mut rng = examples_rng(seed, epoch, batch, i);
            sequence(&mix::example(
                &mut rng,
                pool,
                frames * RATE as usize / 100,
                recipe,
            ))
        })
        .collect();
    Batch::new(&seqs)
}

/// Which part of the corpus a pool is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Select {
    /// The `train` split without the tuning half ([`halves::is_training`]).
    Training,
    /// One evaluation half.
    Half(Half),
}

impl Select {
    /// Whether `e` belongs to this selection.
    pub(crate) fn takes(self, e: &data::Entry) -> bool {
        match self {
            Select::Training => halves::is_training(e),
            Select::Half(h) => halves::half_of(e) == Some(h),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Select::Training => "training",
            Select::Half(h) => h.name(),
        }
    }
}

fn split(entries: &[data::Entry], kind: &str, select: Select, clips: bool) -> Vec<data::Entry> {
    entries
        .iter()
        .filter(|e| e.kind == kind && select.takes(e) && (e.category == "keyboard_clips") == clips)
        .cloned()
        .collect()
}

/// Decodes the speech, noise and key clips of `select`. Allocates.
pub(crate) fn load_pool(root: &Path, entries: &[data::Entry], select: Select) -> Result<Pool> {
    let speech = split(entries, "speech", select, false);
    let noise = split(entries, "noise", select, false);
    let clicks = split(entries, "noise", select, true);
    let total = speech.len() + noise.len() + clicks.len();
    let bar = ProgressBar::new(total as u64).with_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} files {elapsed}")
            .unwrap()
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("loading {}", select.name()));
    let tick = || bar.inc(1);
    let pool = Pool::new(
        data::load(root, &speech, 2, &tick)?,
        data::load(root, &noise, 2, &tick)?,
        data::load(root, &clicks, 2, &tick)?,
    );
    bar.finish();
    if pool.speech.is_empty() || pool.noise.is_empty() {
        bail!("no {} speech or noise in {}", select.name(), root.display());
    }
    Ok(pool)
}

fn hours(clips: &[Clip]) -> f64 {
    clips.iter().map(|c| c.samples.len()).sum::<usize>() as f64 / RATE as f64 / 3600.0
}

/// Validation figures of one epoch.
struct Validation {
    loss: f32,
    sisdr_in: f64,
    sisdr_neural: f64,
    sisdr_classic: f64,
    stoi_in: f64,
    stoi_neural: f64,
    stoi_classic: f64,
}

fn validate(
    net: &Net,
    weights: &ModelWeights,
    val: &[(mix::Example, Sequence)],
    loss_weights: LossWeights,
    device: &Device,
) -> Result<Validation> {
    let seqs: Vec<Sequence> = val
        .iter()
        .map(|(_, s)| Sequence {
            features: s.features.clone(),
            gains: s.gains.clone(),
            gain_mask: s.gain_mask.clone(),
            vad: s.vad.clone(),
            vad_mask: s.vad_mask.clone(),
        })
        .collect();
    let loss = batch_loss(net, &Batch::new(&seqs), loss_weights, device)?.to_scalar::<f32>()?;
    let mask = NeuralMask::new(weights);
    let (mut sin, mut sn, mut sc, mut n) = (0.0, 0.0, 0.0, 0usize);
    let (mut tin, mut tn, mut tc) = (0.0, 0.0, 0.0);
    for (ex, _) in val.iter().filter(|(e, _)| e.has_speech) {
        let run = |mode: MaskMode| -> Vec<f32> {
            let mut e = Engine::new(EngineConfig {
                sample_rate: ex.rate as f32,
                channels: 1,
            })
            .expect("a rate the engine runs at");
            e.set_model(Some(mask.clone()));
            e.set_mode(mode);
            e.process_buffer_mono(&ex.noisy)
        };
        let (neural, classic) = (run(MaskMode::Neural), run(MaskMode::Classic));
        sin += si_sdr(&ex.clean, &ex.noisy);
        sn += si_sdr(&ex.clean, &neural);
        sc += si_sdr(&ex.clean, &classic);
        let stoi = |x: &[f32]| crate::stoi::stoi(&ex.clean, x, ex.rate).unwrap_or(0.0);
        tin += stoi(&ex.noisy);
        tn += stoi(&neural);
        tc += stoi(&classic);
        n += 1;
    }
    let n = n.max(1) as f64;
    Ok(Validation {
        loss,
        sisdr_in: sin / n,
        sisdr_neural: sn / n,
        sisdr_classic: sc / n,
        stoi_in: tin / n,
        stoi_neural: tn / n,
        stoi_classic: tc / n,
    })
}

/// Which units of the second denoise GRU are absent from `weights`: all their rows of the input and recurrent
/// matrices (every gate) are zero, as in a checkpoint of a narrower topology widened by its loader.
fn absent_denoise2_units(weights: &ModelWeights) -> Vec<bool> {
    use quell_dsp::neural::topology::DENOISE2_HIDDEN;
    let zero_rows = |name: &str, unit: usize| {
        let w = weights.get(name).expect("tensor of the topology");
        let cols = w.len() / (3 * DENOISE2_HIDDEN);
        (0..3).all(|gate| {
            w[(gate * DENOISE2_HIDDEN + unit) * cols..][..cols]
                .iter()
                .all(|v| *v == 0.0)
        })
    };
    (0..DENOISE2_HIDDEN)
        .map(|u| zero_rows("denoise2_gru.weight_ih", u) && zero_rows("denoise2_gru.weight_hh", u))
        .collect()
}

fn newest_checkpoint(out: &Path) -> Option<(usize, PathBuf)> {
    std::fs::read_dir(out)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let epoch = name
                .strip_prefix("epoch-")?
                .strip_suffix(".safetensors")?
                .parse()
                .ok()?;
            Some((epoch, e.path()))
        })
        .max_by_key(|(e, _)| *e)
}

/// Runs the training.
pub fn run(args: &TrainArgs) -> Result<()> {
    let started = Instant::now();
    if !(args.gamma > 0.0 && args.gamma <= 1.0) {
        bail!("--gamma must lie in (0, 1], got {}", args.gamma);
    }
    if !(args.speech_weight >= 0.0 && args.speech_weight.is_finite()) {
        bail!(
            "--speech-weight must be 0 or more, got {}",
            args.speech_weight
        );
    }
    for (name, share) in [
        ("--typing", args.typing),
        ("--typing-alone", args.typing_alone),
        ("--synth-keys", args.synth_keys),
        ("--rooms", args.rooms),
        ("--pauses", args.pauses),
        ("--low-rates", args.low_rates),
        ("--full-band", args.full_band),
    ] {
        if !(0.0..=1.0).contains(&share) {
            bail!("{name} is a share and must lie in 0..=1, got {share}");
        }
    }
    if !(args.snr_min.is_finite() && args.snr_min < mix::SNR_MAX_DB) {
        bail!(
            "--snr-min must lie below {} dB, got {}",
            mix::SNR_MAX_DB,
            args.snr_min
        );
    }
    if !(args.key_gap_max.is_finite() && (mix::KEY_GAP_MIN_S..=10.0).contains(&args.key_gap_max)) {
        bail!(
            "--key-gap-max must lie in {}..=10 s, got {}",
            mix::KEY_GAP_MIN_S,
            args.key_gap_max
        );
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let entries = data::manifest(&args.data)?;
    let train = load_pool(&args.data, &entries, Select::Training)?;
    // Per-epoch validation (and any choice made from it) uses the tuning half, never the report half.
    let val_pool = load_pool(&args.data, &entries, Select::Half(Half::Tuning))?;
    if args.full_band > 0.0 && train.full_band_hours() == 0.0 {
        bail!("--full-band asks for full-band speech, and the training split has none");
    }
    let summary = format!(
        "train: {:.2} h speech ({} clips, {:.2} h full-band), {:.2} h noise ({} files), {} key clips; val: {:.2} h speech, {:.2} h noise",
        hours(&train.speech),
        train.speech.len(),
        train.full_band_hours(),
        hours(&train.noise),
        train.noise.len(),
        train.clicks.len(),
        hours(&val_pool.speech),
        hours(&val_pool.noise)
    );
    println!(
        "{summary} (loaded in {:.0} s)",
        started.elapsed().as_secs_f64()
    );

    let device = Device::Cpu;
    let varmap = VarMap::new();
    let net = Net::new(VarBuilder::from_varmap(&varmap, DType::F32, &device))?;
    let mut start_epoch = 0;
    let mut resumed_from: Option<String> = None;
    if args.resume {
        if let Some((epoch, path)) = newest_checkpoint(&args.out) {
            // Through the weights file's own loader, so that a checkpoint of an earlier topology (no input
            // convolution, no second denoise GRU) is widened on the way in (`ModelWeights::from_bytes`).
            let weights = ModelWeights::from_file(&path)
                .with_context(|| format!("loading checkpoint {}", path.display()))?;
            // Growth: a checkpoint with a narrower second denoise GRU (or none) loads with the missing units'
            // rows all zeros, read through zero columns of the gain layer and of the other units' recurrent
            // weights. That computes the checkpoint's network, but a unit of zeros gets no gradient (its state
            // stays zero), so its own rows keep their random initialisation here; the zero columns alone keep the
            // start identical to the checkpoint.
            let absent = absent_denoise2_units(&weights);
            if absent.iter().any(|a| *a) {
                println!(
                    "growing {}: {} of {} second denoise GRU units initialised at random, read through zero columns",
                    path.display(),
                    absent.iter().filter(|a| **a).count(),
                    absent.len()
                );
            }
            let mut vm = varmap.clone();
            for spec in &quell_dsp::neural::topology::TENSORS {
                let mut values = weights.tensor(spec).to_vec();
                if spec.name.starts_with("denoise2_gru.") {
                    let init = varmap
                        .data()
                        .lock()
                        .map_err(|_| anyhow::anyhow!("variable map poisoned"))?
                        .get(spec.name)
                        .with_context(|| format!("no variable {}", spec.name))?
                        .as_tensor()
                        .flatten_all()?
                        .to_vec1::<f32>()?;
                    for (r, (row, fresh)) in values
                        .chunks_exact_mut(spec.cols)
                        .zip(init.chunks_exact(spec.cols))
                        .enumerate()
                    {
                        if absent[r % absent.len()] {
                            row.copy_from_slice(fresh);
                        }
                    }
                }
                vm.set_one(
                    spec.name,
                    Tensor::from_slice(&values, spec.shape(), &device)?,
                )?;
            }
            start_epoch = epoch;
            resumed_from = Some(format!("epoch {epoch}"));
            println!(
                "resumed from {} (optimizer moments restart)",
                path.display()
            );
        }
    }
    let mut opt = AdamW::new(
        varmap.all_vars(),
        ParamsAdamW {
            lr: args.lr,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;

    let val: Vec<(mix::Example, Sequence)> = (0..args.val_examples)
        .map(|i| {
            let mut rng = Rng::new(0x5EED_0000 + i as u64);
            let ex = mix::example(&mut rng, &val_pool, 4 * RATE as usize, mix::Recipe::DEFAULT);
            let seq = sequence(&ex);
            (ex, seq)
        })
        .collect();

    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(args.out.join("train.log"))?;
    writeln!(log, "# {summary}; args {args:?}")?;

    // Batches are produced on a second thread while this one trains.
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, usize, Batch)>(4);
    let hf_weight = args.hf_weight;
    let recipe = mix::Recipe {
        typing: args.typing,
        typing_alone: args.typing_alone,
        synth_keys: args.synth_keys,
        rooms: args.rooms,
        pauses: args.pauses,
        key_variety: args.key_variety,
        low_rates: args.low_rates,
        full_band: args.full_band,
        clip_bandwidths: args.clip_bandwidths,
        snr_min_db: args.snr_min,
        key_gap_max_s: args.key_gap_max,
    };
    let (seed, batches, size, frames, epochs) = (
        args.seed,
        args.batches,
        args.batch_size,
        args.frames,
        args.epochs,
    );
    std::thread::scope(|s| -> Result<()> {
        let train = &train;
        s.spawn(move || {
            for epoch in start_epoch..epochs {
                for b in 0..batches {
                    if tx
                        .send((
                            epoch,
                            b,
                            make_batch(train, seed, epoch, b, size, frames, recipe)
                                .weight_bands_from(quell_dsp::bands::FIRST_HIGH_BAND, hf_weight),
                        ))
                        .is_err()
                    {
                        return;
                    }
                }
            }
        });
        for epoch in start_epoch..epochs {
            let bar = ProgressBar::new(batches as u64).with_style(
                ProgressStyle::with_template(
                    "epoch {prefix} [{bar:30}] {pos}/{len} {msg} {elapsed}/{eta}",
                )
                .unwrap()
                .progress_chars("=> "),
            );
            bar.set_prefix(format!("{}/{}", epoch + 1, epochs));
            let t0 = Instant::now();
            let mut sum = 0.0;
            for i in 0..batches {
                let (_, _, batch) = rx.recv().context("batch producer stopped")?;
                let loss = batch_loss(&net, &batch, LossWeights::from_args(args), &device)?;
                opt.backward_step(&loss)?;
                sum += loss.to_scalar::<f32>()? as f64;
                bar.set_message(format!(
                    "loss {:.4} {:.2} batch/s",
                    sum / (i + 1) as f64,
                    (i + 1) as f64 / t0.elapsed().as_secs_f64()
                ));
                bar.inc(1);
            }
            bar.finish();
            let weights = weights_from_varmap(
                &varmap,
                ModelMetadata {
                    training: format!(
                        "checkpoint after epoch {} of `cargo xtask train`; {summary}",
                        epoch + 1
                    ),
                },
            )
            .map_err(anyhow::Error::msg)?;
            let v = validate(&net, &weights, &val, LossWeights::from_args(args), &device)?;
            let line = format!(
                "epoch {:3} train_loss {:.4} val_loss {:.4} val_sisdr_in {:.2} neural {:.2} ({:+.2}) classic {:.2} ({:+.2}) val_stoi_in {:.3} neural {:+.3} classic {:+.3} epoch_s {:.0} total_s {:.0}",
                epoch + 1,
                sum / batches as f64,
                v.loss,
                v.sisdr_in,
                v.sisdr_neural,
                v.sisdr_neural - v.sisdr_in,
                v.sisdr_classic,
                v.sisdr_classic - v.sisdr_in,
                v.stoi_in,
                v.stoi_neural - v.stoi_in,
                v.stoi_classic - v.stoi_in,
                t0.elapsed().as_secs_f64(),
                started.elapsed().as_secs_f64()
            );
            println!("{line}");
            writeln!(log, "{line}")?;
            weights.save(&args.out.join(format!("epoch-{:03}.safetensors", epoch + 1)))?;
        }
        Ok(())
    })?;
    let final_weights = weights_from_varmap(
        &varmap,
        ModelMetadata {
            training: format!(
                "`cargo xtask train --epochs {} --batches {} --batch-size {} --frames {} --lr {} --seed {} --hf-weight {} --log-weight {} --under-weight {} --gamma {} --speech-weight {} --typing {} --typing-alone {} --synth-keys {} --rooms {} --pauses {} --low-rates {} --full-band {} --snr-min {} --key-gap-max {}{}{}{}`; {summary}. \
                 Speech: speechocean762 (CC BY 4.0), RAVDESS (CC BY-NC-SA 4.0, non-commercial), FreeSWITCH Callie \
                 (CC BY 3.0 / MPL 1.1), GCompris voices (GPL-3+ / public domain), ALSA test voice (GPL-2); noise: see docs/model.md.",
                args.epochs, args.batches, args.batch_size, args.frames, args.lr, args.seed, args.hf_weight,
                args.log_weight, args.under_weight, args.gamma, args.speech_weight, args.typing, args.typing_alone, args.synth_keys, args.rooms, args.pauses, args.low_rates, args.full_band, args.snr_min, args.key_gap_max, if args.key_variety { " --key-variety" } else { "" }, if args.clip_bandwidths { " --clip-bandwidths" } else { "" }, resumed_from.as_deref().map_or(String::new(), |r| format!(" --resume, from {r}"))
            ),
        },
    )
    .map_err(anyhow::Error::msg)?;
    final_weights.save(&args.out.join("final.safetensors"))?;
    if args.install {
        let dest = Path::new("assets/model/quell.safetensors");
        final_weights.save(dest)?;
        println!("installed {}", dest.display());
    }
    println!("done in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use quell_dsp::synth::{self, Voice};

    /// A tiny generated corpus: two synthetic voices and two generated noises.
    fn tiny_pool() -> Pool {
        let clip = |samples: Vec<f32>| Clip {
            samples,
            bandwidth_hz: 24_000.0,
            ..Clip::default()
        };
        let mut rng = Rng::new(3);
        Pool::new(
            vec![
                clip(synth::voice(48_000.0, 3.0, &Voice::default())),
                clip(synth::voice(
                    48_000.0,
                    3.0,
                    &Voice {
                        f0_start_hz: 200.0,
                        f0_end_hz: 240.0,
                        ..Voice::default()
                    },
                )),
            ],
            vec![
                clip(synth::white(&mut rng, 96_000, -30.0)),
                clip(synth::pink(&mut rng, 96_000, -30.0)),
            ],
            vec![],
        )
    }

    #[test]
    fn units_with_zero_rows_in_the_second_denoise_gru_count_as_absent() {
        use quell_dsp::neural::topology::{index_of, DENOISE2_HIDDEN, TENSORS};
        use quell_dsp::neural::ModelMetadata;
        let w = ModelWeights::seeded_random(7);
        assert!(absent_denoise2_units(&w).iter().all(|a| !a));
        // Units 3 and 100 lose their rows in both matrices (every gate); unit 5 only in the input matrix.
        let mut tensors: Vec<Vec<f32>> = TENSORS.iter().map(|s| w.tensor(s).to_vec()).collect();
        for (name, units) in [
            ("denoise2_gru.weight_ih", &[3usize, 100, 5][..]),
            ("denoise2_gru.weight_hh", &[3, 100][..]),
        ] {
            let i = index_of(name).unwrap();
            let cols = TENSORS[i].cols;
            for gate in 0..3 {
                for u in units {
                    tensors[i][(gate * DENOISE2_HIDDEN + u) * cols..][..cols].fill(0.0);
                }
            }
        }
        let w = ModelWeights::from_vectors(tensors, ModelMetadata::default()).unwrap();
        let absent: Vec<usize> = absent_denoise2_units(&w)
            .iter()
            .enumerate()
            .filter_map(|(u, a)| a.then_some(u))
            .collect();
        assert_eq!(absent, [3, 100]);
    }

    #[test]
    fn pauses_put_counted_silent_frames_between_clips() {
        let pool = tiny_pool();
        let len = 4 * RATE as usize;
        let silent_counted = |recipe: mix::Recipe| -> usize {
            (0..8)
                .map(|k| {
                    let ex = mix::example(&mut Rng::new(40 + k), &pool, len, recipe);
                    if !ex.has_speech {
                        return 0;
                    }
                    let s = crate::dataset::sequence(&ex);
                    // Frames inside the example (not its first or last 20) that count as silence.
                    (20..s.vad.len() - 20)
                        .filter(|&i| s.vad[i] == 0.0 && s.vad_mask[i] == 1.0)
                        .count()
                })
                .sum()
        };
        let paused = mix::Recipe {
            pauses: 1.0,
            ..mix::Recipe::DEFAULT
        };
        // The synthetic voices have their own gaps between syllables; the pauses add at least 0.2 s to most
        // examples with speech (8 examples of 4 s; about 7 s expected).
        let (plain, with_pauses) = (silent_counted(mix::Recipe::DEFAULT), silent_counted(paused));
        assert!(
            with_pauses >= plain + 200,
            "silent frames: {plain} without pauses, {with_pauses} with"
        );
    }

    #[test]
    fn a_few_training_steps_reduce_the_loss() {
        smoke(LossWeights::DEFAULT);
    }

    #[test]
    fn a_few_training_steps_reduce_the_symmetric_loss() {
        smoke(LossWeights {
            under: 0.0,
            ..LossWeights::DEFAULT
        });
    }

    #[test]
    fn a_few_training_steps_reduce_the_rnnoise_02_style_loss() {
        smoke(LossWeights {
            under: 0.0,
            gamma: 0.25,
            speech: 5.0,
            ..LossWeights::DEFAULT
        });
    }

    #[test]
    fn a_few_training_steps_reduce_the_loss_with_the_log_energy_term() {
        smoke(LossWeights {
            log: 0.1,
            ..LossWeights::DEFAULT
        });
    }

    #[test]
    fn under_predicting_costs_what_its_weight_says() {
        let pool = tiny_pool();
        let device = Device::Cpu;
        let varmap = VarMap::new();
        let net = Net::new(VarBuilder::from_varmap(&varmap, DType::F32, &device)).unwrap();
        let batch = make_batch(&pool, 5, 0, 0, 4, 30, mix::Recipe::DEFAULT);
        let loss = |under: f32| {
            batch_loss(
                &net,
                &batch,
                LossWeights {
                    under,
                    log: 0.0,
                    ..LossWeights::DEFAULT
                },
                &device,
            )
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
        };
        let (sym, default, double) = (loss(0.0), loss(3.0), loss(6.0));
        // The untrained network's gains (about 0.5) lie below the targets of speech bands, so the term is
        // positive, and linear in its weight.
        assert!(default > sym, "{sym} -> {default}");
        assert!(
            ((double - sym) - 2.0 * (default - sym)).abs() < 1e-3 * double,
            "{sym} {default} {double}"
        );
    }

    #[test]
    fn the_log_energy_term_adds_to_the_loss() {
        let pool = tiny_pool();
        let device = Device::Cpu;
        let varmap = VarMap::new();
        let net = Net::new(VarBuilder::from_varmap(&varmap, DType::F32, &device)).unwrap();
        let batch = make_batch(&pool, 5, 0, 0, 4, 30, mix::Recipe::DEFAULT);
        let loss = |log: f32| {
            batch_loss(
                &net,
                &batch,
                LossWeights {
                    log,
                    ..LossWeights::DEFAULT
                },
                &device,
            )
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
        };
        let (plain, half, full) = (loss(0.0), loss(0.5), loss(1.0));
        // An untrained network is far from the targets, so the term is positive and linear in its weight.
        assert!(half > plain, "{plain} -> {half}");
        assert!(
            ((full - plain) - 2.0 * (half - plain)).abs() < 1e-3 * full,
            "{plain} {half} {full}"
        );
    }

    fn smoke(w: LossWeights) {
        let pool = tiny_pool();
        let device = Device::Cpu;
        let varmap = VarMap::new();
        let net = Net::new(VarBuilder::from_varmap(&varmap, DType::F32, &device)).unwrap();
        let mut opt = AdamW::new(
            varmap.all_vars(),
            ParamsAdamW {
                lr: 5e-3,
                weight_decay: 0.0,
                ..Default::default()
            },
        )
        .unwrap();
        let probe = make_batch(&pool, 99, 0, 0, 8, 60, mix::Recipe::DEFAULT);
        let before = batch_loss(&net, &probe, w, &device)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        for b in 0..25 {
            let batch = make_batch(&pool, 1, 0, b, 8, 60, mix::Recipe::DEFAULT);
            let loss = batch_loss(&net, &batch, w, &device).unwrap();
            opt.backward_step(&loss).unwrap();
        }
        let after = batch_loss(&net, &probe, w, &device)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        println!("{w:?}: held-out batch loss {before:.4} -> {after:.4}");
        assert!(
            after.is_finite() && after < 0.8 * before,
            "loss {before} -> {after}"
        );
        // The trained variables come back out as a valid weights file.
        let w = weights_from_varmap(
            &varmap,
            ModelMetadata {
                training: "smoke test".into(),
            },
        )
        .unwrap();
        assert_eq!(ModelWeights::from_bytes(&w.to_bytes().unwrap()).unwrap(), w);
    }
}
