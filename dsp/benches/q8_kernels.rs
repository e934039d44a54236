//! The GRU matrices through candle's `BlockQ8_0` kernels against Quell's own runtime, on parity and on speed, with the shipped model on real engine features.
//!
//! `cargo bench -p quell-dsp --features train --bench q8_kernels`
//!
//! Three forwards of the same network over the same features (48 kHz mono engine, neural mode, 20 s of synthetic
//! voice in pink and in white noise):
//! - **f32**: every matrix in f32, exact tanh and sigmoid (the reference);
//! - **own**: the shipped runtime, [`NeuralMask::step`] (bounded columns int8 with per-row scales × 16-bit
//!   activations in integer sums, feature columns and output layers f32, fast tanh);
//! - **candle**: the first dense layer and the two output layers in f32, as RNNoise 0.2 does; the six GRU
//!   matrices as candle's `BlockQ8_0` (int8 weights, f16 block scale), their inputs and hidden states quantized to
//!   `BlockQ8_0` at every step (the kernel's `VecDotType`) and multiplied with `vec_dot`.
//!
//! Printed: the largest and mean absolute difference of the 22 band gains and of the speech probability against
//! the f32 forward, and the mean time of one network step (single thread).

use candle_core::quantized::k_quants::{BlockQ8_0, GgmlType};
use quell_dsp::neural::topology::*;
use quell_dsp::neural::{shipped_weights, ModelWeights, NeuralMask, NeuralState};
use quell_dsp::synth::{self, Rng, Voice};
use quell_dsp::{Engine, EngineConfig, MaskMode};
use std::hint::black_box;
use std::time::Instant;

const BLOCK: usize = 32;

fn padded(n: usize) -> usize {
    n.div_ceil(BLOCK) * BLOCK
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// An f32 matrix (row-major) with its bias.
struct Dense {
    rows: usize,
    cols: usize,
    w: Vec<f32>,
    b: Vec<f32>,
}

impl Dense {
    fn new(weights: &ModelWeights, name: &str, rows: usize, cols: usize) -> Self {
        Dense {
            rows,
            cols,
            w: weights.get(&format!("{name}.weight")).unwrap().to_vec(),
            b: weights.get(&format!("{name}.bias")).unwrap().to_vec(),
        }
    }

    fn apply(&self, x: &[f32], out: &mut [f32]) {
        for (r, o) in out.iter_mut().enumerate().take(self.rows) {
            let row = &self.w[r * self.cols..(r + 1) * self.cols];
            *o = row.iter().zip(x).map(|(a, b)| a * b).sum::<f32>() + self.b[r];
        }
    }
}

/// A matrix as candle `BlockQ8_0` rows (input dimension padded to 32), with its bias.
struct QMatrix {
    rows: usize,
    blocks: usize,
    q: Vec<BlockQ8_0>,
    b: Vec<f32>,
}

impl QMatrix {
    fn new(w: &[f32], b: &[f32], rows: usize, cols: usize) -> Self {
        let cp = padded(cols);
        let blocks = cp / BLOCK;
        let mut q = vec![BlockQ8_0::zeros(); rows * blocks];
        let mut row = vec![0.0f32; cp];
        for r in 0..rows {
            row[..cols].copy_from_slice(&w[r * cols..(r + 1) * cols]);
            BlockQ8_0::from_float(&row, &mut q[r * blocks..(r + 1) * blocks]);
        }
        QMatrix {
            rows,
            blocks,
            q,
            b: b.to_vec(),
        }
    }

    /// `out = W·x + b` with `xq`, the input already quantized to `blocks` blocks.
    fn apply(&self, xq: &[BlockQ8_0], out: &mut [f32]) {
        let n = self.blocks * BLOCK;
        for (r, o) in out.iter_mut().enumerate().take(self.rows) {
            let row = &self.q[r * self.blocks..(r + 1) * self.blocks];
            *o = BlockQ8_0::vec_dot(n, row, xq) + self.b[r];
        }
    }
}

/// Which kernel the GRU matrices of [`Forward`] use.
enum GruKernel {
    F32 { ih: Dense, hh: Dense },
    Candle { ih: QMatrix, hh: QMatrix },
}

struct Gru {
    hidden: usize,
    kernel: GruKernel,
    /// Scratch: the input and the hidden state padded and quantized.
    xp: Vec<f32>,
    hp: Vec<f32>,
    xq: Vec<BlockQ8_0>,
    hq: Vec<BlockQ8_0>,
    gi: Vec<f32>,
    gh: Vec<f32>,
}

impl Gru {
    fn new(weights: &ModelWeights, name: &str, hidden: usize, inputs: usize, candle: bool) -> Self {
        let w = |p: &str| weights.get(&format!("{name}.{p}")).unwrap();
        let kernel = if candle {
            GruKernel::Candle {
                ih: QMatrix::new(w("weight_ih"), w("bias_ih"), 3 * hidden, inputs),
                hh: QMatrix::new(w("weight_hh"), w("bias_hh"), 3 * hidden, hidden),
            }
        } else {
            let d = |wn: &str, bn: &str, cols| Dense {
                rows: 3 * hidden,
                cols,
                w: w(wn).to_vec(),
                b: w(bn).to_vec(),
            };
            GruKernel::F32 {
                ih: d("weight_ih", "bias_ih", inputs),
                hh: d("weight_hh", "bias_hh", hidden),
            }
        };
        Gru {
            hidden,
            kernel,
            xp: vec![0.0; padded(inputs)],
            hp: vec![0.0; padded(hidden)],
            xq: vec![BlockQ8_0::zeros(); padded(inputs) / BLOCK],
            hq: vec![BlockQ8_0::zeros(); padded(hidden) / BLOCK],
            gi: vec![0.0; 3 * hidden],
            gh: vec![0.0; 3 * hidden],
        }
    }

    fn step(&mut self, x: &[f32], h: &mut [f32]) {
        let n = self.hidden;
        match &self.kernel {
            GruKernel::F32 { ih, hh } => {
                ih.apply(x, &mut self.gi);
                hh.apply(h, &mut self.gh);
            }
            GruKernel::Candle { ih, hh } => {
                self.xp[..x.len()].copy_from_slice(x);
                self.hp[..n].copy_from_slice(&h[..n]);
                BlockQ8_0::from_float(&self.xp, &mut self.xq);
                BlockQ8_0::from_float(&self.hp, &mut self.hq);
                ih.apply(&self.xq, &mut self.gi);
                hh.apply(&self.hq, &mut self.gh);
            }
        }
        for (i, hi) in h.iter_mut().enumerate().take(n) {
            let r = sigmoid(self.gi[i] + self.gh[i]);
            let z = sigmoid(self.gi[n + i] + self.gh[n + i]);
            let c = (self.gi[2 * n + i] + r * self.gh[2 * n + i]).tanh();
            *hi = (1.0 - z) * c + z * *hi;
        }
    }
}

/// The network with f32 dense and output layers and the GRUs on a chosen kernel.
struct Forward {
    dense: Dense,
    vad: Gru,
    noise: Gru,
    denoise: Gru,
    denoise2: Gru,
    gains_out: Dense,
    vad_out: Dense,
    h_vad: Vec<f32>,
    h_noise: Vec<f32>,
    h_denoise: Vec<f32>,
    h_denoise2: Vec<f32>,
    t: Vec<f32>,
    /// The last CONTEXT frames of features, oldest first (the input convolution's input).
    history: Vec<f32>,
    noise_in: Vec<f32>,
    denoise_in: Vec<f32>,
    denoise2_in: Vec<f32>,
    output_in: Vec<f32>,
}

impl Forward {
    fn new(weights: &ModelWeights, candle: bool) -> Self {
        Forward {
            dense: Dense::new(weights, "input_conv", DENSE, CONV_INPUTS),
            vad: Gru::new(weights, "vad_gru", VAD_HIDDEN, DENSE, candle),
            noise: Gru::new(weights, "noise_gru", NOISE_HIDDEN, NOISE_INPUTS, candle),
            denoise: Gru::new(
                weights,
                "denoise_gru",
                DENOISE_HIDDEN,
                DENOISE_INPUTS,
                candle,
            ),
            denoise2: Gru::new(
                weights,
                "denoise2_gru",
                DENOISE2_HIDDEN,
                DENOISE2_INPUTS,
                candle,
            ),
            gains_out: Dense::new(weights, "denoise_output", OUTPUTS, OUTPUT_INPUTS),
            vad_out: Dense::new(weights, "vad_output", 1, VAD_HIDDEN),
            h_vad: vec![0.0; VAD_HIDDEN],
            h_noise: vec![0.0; NOISE_HIDDEN],
            h_denoise: vec![0.0; DENOISE_HIDDEN],
            h_denoise2: vec![0.0; DENOISE2_HIDDEN],
            t: vec![0.0; DENSE],
            history: vec![0.0; CONV_INPUTS],
            noise_in: vec![0.0; NOISE_INPUTS],
            denoise_in: vec![0.0; DENOISE_INPUTS],
            denoise2_in: vec![0.0; DENOISE2_INPUTS],
            output_in: vec![0.0; OUTPUT_INPUTS],
        }
    }

    fn step(&mut self, f: &[f32; INPUTS], gains: &mut [f32; OUTPUTS]) -> f32 {
        let f: Vec<f32> = f.iter().map(|v| v.clamp(-100.0, 100.0)).collect();
        self.history.copy_within(INPUTS.., 0);
        self.history[CONV_INPUTS - INPUTS..].copy_from_slice(&f);
        self.dense.apply(&self.history, &mut self.t);
        for v in &mut self.t {
            *v = v.tanh();
        }
        self.vad.step(&self.t, &mut self.h_vad);
        self.noise_in[..DENSE].copy_from_slice(&self.t);
        self.noise_in[DENSE..DENSE + VAD_HIDDEN].copy_from_slice(&self.h_vad);
        self.noise_in[DENSE + VAD_HIDDEN..].copy_from_slice(&f);
        self.noise.step(&self.noise_in, &mut self.h_noise);
        self.denoise_in[..DENSE].copy_from_slice(&self.t);
        self.denoise_in[DENSE..DENSE + NOISE_HIDDEN].copy_from_slice(&self.h_noise);
        self.denoise_in[DENSE + NOISE_HIDDEN..].copy_from_slice(&f);
        self.denoise.step(&self.denoise_in, &mut self.h_denoise);
        self.denoise2_in[..DENSE].copy_from_slice(&self.t);
        self.denoise2_in[DENSE..DENSE + DENOISE_HIDDEN].copy_from_slice(&self.h_denoise);
        self.denoise2_in[DENSE + DENOISE_HIDDEN..].copy_from_slice(&f);
        self.denoise2.step(&self.denoise2_in, &mut self.h_denoise2);
        self.output_in[..DENOISE_HIDDEN].copy_from_slice(&self.h_denoise);
        self.output_in[DENOISE_HIDDEN..].copy_from_slice(&self.h_denoise2);
        self.gains_out.apply(&self.output_in, gains);
        for g in gains.iter_mut() {
            *g = sigmoid(*g);
        }
        let mut v = [0.0f32];
        self.vad_out.apply(&self.h_vad, &mut v);
        sigmoid(v[0])
    }
}

/// The features of every frame of the engine (48 kHz mono, neural mode) on 20 s of voice in `noise`.
fn features(mask: &NeuralMask, noise: Vec<f32>) -> Vec<[f32; INPUTS]> {
    let rate = 48_000.0;
    let voice = synth::voice(rate, 20.0, &Voice::default());
    let mut e = Engine::new(EngineConfig {
        sample_rate: rate,
        channels: 1,
    })
    .unwrap();
    e.set_model(Some(mask.clone()));
    e.set_mode(MaskMode::Neural);
    let mut out = Vec::new();
    let mut x: Vec<f32> = voice.iter().zip(&noise).map(|(a, b)| a + b).collect();
    for block in x.chunks_mut(480) {
        e.process(&mut [block]);
        out.push(e.frame_info().features);
    }
    out
}

fn main() {
    let Some(Ok(weights)) = shipped_weights() else {
        println!("no shipped model in this build: nothing to measure");
        return;
    };
    let mask = NeuralMask::new(&weights);
    let mut rng = Rng::new(5);
    let len = 20 * 48_000;
    let mut frames = features(&mask, synth::pink(&mut rng, len, -30.0));
    frames.extend(features(&mask, synth::white(&mut rng, len, -35.0)));

    // Parity against the f32 forward.
    let mut reference = Forward::new(&weights, false);
    let mut candle = Forward::new(&weights, true);
    let mut state = NeuralState::new();
    let (mut g_ref, mut g_own, mut g_candle) = ([0.0; OUTPUTS], [0.0; OUTPUTS], [0.0; OUTPUTS]);
    let mut worst = [0.0f32; 4];
    let mut sum = [0.0f64; 4];
    for f in &frames {
        let v_ref = reference.step(f, &mut g_ref);
        let v_own = mask.step(&mut state, f, &mut g_own);
        let v_candle = candle.step(f, &mut g_candle);
        for k in 0..OUTPUTS {
            let (a, b) = ((g_own[k] - g_ref[k]).abs(), (g_candle[k] - g_ref[k]).abs());
            worst[0] = worst[0].max(a);
            worst[1] = worst[1].max(b);
            sum[0] += f64::from(a);
            sum[1] += f64::from(b);
        }
        let (a, b) = ((v_own - v_ref).abs(), (v_candle - v_ref).abs());
        worst[2] = worst[2].max(a);
        worst[3] = worst[3].max(b);
        sum[2] += f64::from(a);
        sum[3] += f64::from(b);
    }
    let n = frames.len() as f64;
    println!(
        "{} frames of engine features (voice in pink and in white noise)",
        frames.len()
    );
    println!("kernel   gains: max |diff|  mean |diff|   speech prob.: max |diff|  mean |diff|   (against f32)");
    println!(
        "own      {:>17.5} {:>12.6} {:>26.5} {:>12.6}",
        worst[0],
        sum[0] / (n * OUTPUTS as f64),
        worst[2],
        sum[2] / n
    );
    println!(
        "candle   {:>17.5} {:>12.6} {:>26.5} {:>12.6}",
        worst[1],
        sum[1] / (n * OUTPUTS as f64),
        worst[3],
        sum[3] / n
    );

    // Speed: mean time of one step over all frames, three passes each, best pass.
    let time = |run: &mut dyn FnMut(&[f32; INPUTS])| {
        (0..3)
            .map(|_| {
                let t = Instant::now();
                for f in &frames {
                    run(black_box(f));
                }
                t.elapsed().as_secs_f64() * 1e6 / n
            })
            .fold(f64::INFINITY, f64::min)
    };
    let mut gains = [0.0; OUTPUTS];
    let own = time(&mut |f| {
        black_box(mask.step(&mut state, f, &mut gains));
    });
    let cand = time(&mut |f| {
        black_box(candle.step(f, &mut gains));
    });
    let f32_time = time(&mut |f| {
        black_box(reference.step(f, &mut gains));
    });
    println!(
        "step time: own {own:.2} µs, candle GRUs {cand:.2} µs, plain f32 loops {f32_time:.2} µs"
    );
}
