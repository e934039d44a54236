//! The real-time runtime of the neural mask.
//!
//! At load the GRUs' recurrent matrices are quantized row-wise to int8 in blocks of 32 values with one f32 scale
//! per block (the layout of ggml's Q8_0; the input dimension padded to a multiple of 32). At each 10 ms step
//! every output row is a dot product of those int8 weights with the f32 activations, block by block, and scaled
//! per block. The activations are not quantized: the inputs mix features of very different scales (log
//! energies, pitch correlations) that an int8 block shared between them would round away, which made a trained
//! network's gains drift up to 0.09 from its f32 forward. For the same reason the matrices that read the
//! features stay f32: the input convolution, the GRUs' input matrices (which see the features again beside the
//! hidden states) and the two small output layers. With those quantized too, the model shipped 2026-12-04
//! drifted up to 0.10 from its f32 forward (99th percentile 0.057); with them in f32, 0.010 (0.005), at no
//! measured cost in time (`docs/performance.md`). Biases, gates and nonlinearities stay in f32. No allocation,
//! no thread and no library call happen in [`NeuralMask::step`].

use super::topology::*;
use super::weights::ModelWeights;

const BLOCK: usize = 32;
/// Lanes of the f32 product's partial sums.
const LANES: usize = 8;

/// Whether the CPU has AVX2 (checked at load, never on the audio thread's path).
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

const fn padded(n: usize) -> usize {
    n.div_ceil(BLOCK) * BLOCK
}

/// Values one frame of features takes in the convolution's input: [`INPUTS`] padded to whole blocks.
const FRAME_STRIDE: usize = padded(INPUTS);

/// One int8 matrix with its per-block scales and its bias.
#[derive(Clone)]
struct QLinear {
    rows: usize,
    cols_padded: usize,
    /// `rows × cols_padded` int8 weights.
    weights: Vec<i8>,
    /// `rows × cols_padded / 32` scales: weight = scale · int8.
    scales: Vec<f32>,
    bias: Vec<f32>,
    /// The CPU has AVX2 (checked once, at load).
    avx2: bool,
}

impl QLinear {
    fn new(w: &[f32], bias: &[f32], rows: usize, cols: usize) -> Self {
        let cols_padded = padded(cols);
        let blocks = cols_padded / BLOCK;
        let mut weights = vec![0i8; rows * cols_padded];
        let mut scales = vec![0.0f32; rows * blocks];
        for r in 0..rows {
            let row = &w[r * cols..(r + 1) * cols];
            for b in 0..blocks {
                let (start, end) = (b * BLOCK, ((b + 1) * BLOCK).min(cols));
                let peak = row[start..end].iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let scale = peak / 127.0;
                let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
                for (c, v) in row[start..end].iter().enumerate() {
                    weights[r * cols_padded + start + c] =
                        (v * inv).round().clamp(-127.0, 127.0) as i8;
                }
                scales[r * blocks + b] = scale;
            }
        }
        QLinear {
            rows,
            cols_padded,
            weights,
            scales,
            bias: bias.to_vec(),
            avx2: has_avx2(),
        }
    }

    /// `out = W·x + b` for `x` of `cols_padded` values (zeros in the padding). Does not allocate.
    fn apply(&self, x: &[f32], out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is set only when the CPU was found to support AVX2 (see `QLinear::new`).
            unsafe { matvec_avx2(self, x, out) };
            return;
        }
        matvec(self, x, out);
    }
}

/// The int8 × f32 matrix-vector product of [`QLinear::apply`]. Written so that the compiler vectorises it: for a
/// CPU with AVX2 it is compiled a second time with AVX2 enabled ([`matvec_avx2`]); both do the same operations in
/// the same order, so they give the same bits. Does not allocate.
#[inline(always)]
fn matvec(m: &QLinear, x: &[f32], out: &mut [f32]) {
    let x = &x[..m.cols_padded];
    let blocks = m.cols_padded / BLOCK;
    for (r, o) in out.iter_mut().enumerate().take(m.rows) {
        let row = &m.weights[r * m.cols_padded..(r + 1) * m.cols_padded];
        let scales = &m.scales[r * blocks..(r + 1) * blocks];
        // Eight independent lanes let the compiler keep the partial sums in one vector; they are added together
        // once per row, not once per block.
        let mut acc = [0.0f32; 8];
        for ((q, xb), scale) in row
            .chunks_exact(BLOCK)
            .zip(x.chunks_exact(BLOCK))
            .zip(scales)
        {
            let mut block = [0.0f32; 8];
            for (q8, x8) in q.chunks_exact(8).zip(xb.chunks_exact(8)) {
                for j in 0..8 {
                    block[j] += f32::from(q8[j]) * x8[j];
                }
            }
            for j in 0..8 {
                acc[j] += scale * block[j];
            }
        }
        *o = acc.iter().sum::<f32>() + m.bias[r];
    }
}

/// [`matvec`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn matvec_avx2(m: &QLinear, x: &[f32], out: &mut [f32]) {
    matvec(m, x, out);
}

/// One f32 matrix with its bias, for the layers kept in full precision (see the module notes): those that read
/// the raw features, and the two output layers, whose rounding goes straight into the gains.
#[derive(Clone)]
struct FLinear {
    rows: usize,
    /// Columns padded to a multiple of [`LANES`] (not of a whole block: the f32 product has no blocks, and the
    /// padding of the denoise GRUs' input matrices to 32 was a tenth of their work).
    cols_padded: usize,
    /// `rows × cols_padded` weights (zeros in the padding).
    weights: Vec<f32>,
    bias: Vec<f32>,
    avx2: bool,
}

impl FLinear {
    fn new(w: &[f32], bias: &[f32], rows: usize, cols: usize) -> Self {
        let cols_padded = cols.div_ceil(LANES) * LANES;
        let mut weights = vec![0.0f32; rows * cols_padded];
        for (dst, src) in weights
            .chunks_exact_mut(cols_padded)
            .zip(w.chunks_exact(cols))
        {
            dst[..cols].copy_from_slice(src);
        }
        FLinear {
            rows,
            cols_padded,
            weights,
            bias: bias.to_vec(),
            avx2: has_avx2(),
        }
    }

    /// `out = W·x + b` for `x` of `cols_padded` values (zeros in the padding). Does not allocate.
    fn apply(&self, x: &[f32], out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is set only when the CPU was found to support AVX2 (see `FLinear::new`).
            unsafe { matvec_f32_avx2(self, x, out) };
            return;
        }
        matvec_f32(self, x, out);
    }
}

/// The f32 matrix-vector product of [`FLinear::apply`], in eight lanes like [`matvec`]; portable and AVX2
/// builds give the same bits. Does not allocate.
#[inline(always)]
fn matvec_f32(m: &FLinear, x: &[f32], out: &mut [f32]) {
    let x = &x[..m.cols_padded];
    for (r, o) in out.iter_mut().enumerate().take(m.rows) {
        let row = &m.weights[r * m.cols_padded..(r + 1) * m.cols_padded];
        let mut acc = [0.0f32; 8];
        for (w8, x8) in row.chunks_exact(8).zip(x.chunks_exact(8)) {
            for j in 0..8 {
                acc[j] += w8[j] * x8[j];
            }
        }
        *o = acc.iter().sum::<f32>() + m.bias[r];
    }
}

/// [`matvec_f32`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn matvec_f32_avx2(m: &FLinear, x: &[f32], out: &mut [f32]) {
    matvec_f32(m, x, out);
}

/// A GRU layer: the input matrix in f32 (it reads the features), the recurrent one in int8.
#[derive(Clone)]
struct QGru {
    hidden: usize,
    ih: FLinear,
    hh: QLinear,
}

/// An activation vector padded to a multiple of the block length (zeros in the padding).
fn activations(len: usize) -> Vec<f32> {
    vec![0.0; padded(len)]
}

/// The quantized network, ready for the audio thread. Build it (allocates) from [`ModelWeights`] off the audio
/// thread; [`NeuralMask::step`] then never allocates.
#[derive(Clone)]
pub struct NeuralMask {
    input_conv: FLinear,
    vad_gru: QGru,
    noise_gru: QGru,
    denoise_gru: QGru,
    denoise2_gru: QGru,
    denoise_output: FLinear,
    vad_output: FLinear,
    /// Training summary of the weights, for display.
    pub description: String,
}

/// The recurrent state and scratch buffers of one running network. Allocated once; cleared by
/// [`NeuralState::reset`].
#[derive(Clone)]
pub struct NeuralState {
    /// The last [`CONTEXT`] frames of (sanitised) features, oldest first, each padded to a whole number of
    /// blocks ([`FRAME_STRIDE`] values): the convolution's input.
    history: Vec<f32>,
    h_vad: Vec<f32>,
    h_noise: Vec<f32>,
    h_denoise: Vec<f32>,
    h_denoise2: Vec<f32>,
    features: Vec<f32>,
    dense: Vec<f32>,
    noise_in: Vec<f32>,
    denoise_in: Vec<f32>,
    denoise2_in: Vec<f32>,
    output_in: Vec<f32>,
    gi: Vec<f32>,
    gh: Vec<f32>,
    dense_out: Vec<f32>,
}

impl NeuralState {
    /// Fresh state for the topology. Allocates.
    pub fn new() -> Self {
        NeuralState {
            history: vec![0.0; CONTEXT * FRAME_STRIDE],
            h_vad: activations(VAD_HIDDEN),
            h_noise: activations(NOISE_HIDDEN),
            h_denoise: activations(DENOISE_HIDDEN),
            h_denoise2: activations(DENOISE2_HIDDEN),
            features: activations(INPUTS),
            dense: activations(DENSE),
            noise_in: activations(NOISE_INPUTS),
            denoise_in: activations(DENOISE_INPUTS),
            denoise2_in: activations(DENOISE2_INPUTS),
            output_in: activations(OUTPUT_INPUTS),
            gi: vec![0.0; 3 * DENOISE_HIDDEN.max(DENOISE2_HIDDEN)],
            gh: vec![0.0; 3 * DENOISE_HIDDEN.max(DENOISE2_HIDDEN)],
            dense_out: vec![0.0; DENSE],
        }
    }

    /// Clears the recurrent state and the feature history (as at the start of a stream). Does not allocate.
    pub fn reset(&mut self) {
        self.history.fill(0.0);
        self.h_vad.fill(0.0);
        self.h_noise.fill(0.0);
        self.h_denoise.fill(0.0);
        self.h_denoise2.fill(0.0);
    }
}

impl Default for NeuralState {
    fn default() -> Self {
        Self::new()
    }
}

impl NeuralMask {
    /// Quantizes `weights`. Allocates; call off the audio thread.
    pub fn new(weights: &ModelWeights) -> Self {
        let lin = |w: &str, b: &str, rows, cols| {
            QLinear::new(
                weights.get(w).expect("topology tensor"),
                weights.get(b).expect("topology tensor"),
                rows,
                cols,
            )
        };
        let gru = |name: &str, hidden, inputs| QGru {
            hidden,
            ih: FLinear::new(
                weights
                    .get(&format!("{name}.weight_ih"))
                    .expect("topology tensor"),
                weights
                    .get(&format!("{name}.bias_ih"))
                    .expect("topology tensor"),
                3 * hidden,
                inputs,
            ),
            hh: lin(
                &format!("{name}.weight_hh"),
                &format!("{name}.bias_hh"),
                3 * hidden,
                hidden,
            ),
        };
        NeuralMask {
            input_conv: {
                // Each frame's columns start a new block of the history (a legacy file's dense layer meets the
                // current frame's columns and zeros elsewhere).
                let w = weights.get("input_conv.weight").expect("topology tensor");
                let mut strided = vec![0.0f32; DENSE * CONTEXT * FRAME_STRIDE];
                for (dst, src) in strided
                    .chunks_exact_mut(CONTEXT * FRAME_STRIDE)
                    .zip(w.chunks_exact(CONV_INPUTS))
                {
                    for (d, s) in dst
                        .chunks_exact_mut(FRAME_STRIDE)
                        .zip(src.chunks_exact(INPUTS))
                    {
                        d[..INPUTS].copy_from_slice(s);
                    }
                }
                FLinear::new(
                    &strided,
                    weights.get("input_conv.bias").expect("topology tensor"),
                    DENSE,
                    CONTEXT * FRAME_STRIDE,
                )
            },
            vad_gru: gru("vad_gru", VAD_HIDDEN, DENSE),
            noise_gru: gru("noise_gru", NOISE_HIDDEN, NOISE_INPUTS),
            denoise_gru: gru("denoise_gru", DENOISE_HIDDEN, DENOISE_INPUTS),
            denoise2_gru: gru("denoise2_gru", DENOISE2_HIDDEN, DENOISE2_INPUTS),
            denoise_output: FLinear::new(
                weights
                    .get("denoise_output.weight")
                    .expect("topology tensor"),
                weights.get("denoise_output.bias").expect("topology tensor"),
                OUTPUTS,
                OUTPUT_INPUTS,
            ),
            vad_output: FLinear::new(
                weights.get("vad_output.weight").expect("topology tensor"),
                weights.get("vad_output.bias").expect("topology tensor"),
                1,
                VAD_HIDDEN,
            ),
            description: weights.metadata.training.clone(),
        }
    }

    /// One 10 ms step: reads the 42 features of the newest frame, updates `state` (the recurrent state and the
    /// history of the last [`CONTEXT`] frames), writes 22 band gains (0..=1) into `gains` and returns the
    /// voice-activity probability (0..=1). Non-finite features are read as 0. Does not allocate.
    pub fn step(
        &self,
        state: &mut NeuralState,
        features: &[f32; INPUTS],
        gains: &mut [f32; OUTPUTS],
    ) -> f32 {
        let s = state;
        for (d, f) in s.features.iter_mut().zip(features) {
            *d = if f.is_finite() {
                f.clamp(-100.0, 100.0)
            } else {
                0.0
            };
        }
        // The convolution over the last CONTEXT frames: shift the history by one frame, append this one.
        s.history.copy_within(FRAME_STRIDE.., 0);
        let newest = (CONTEXT - 1) * FRAME_STRIDE;
        s.history[newest..newest + INPUTS].copy_from_slice(&s.features[..INPUTS]);
        self.input_conv.apply(&s.history, &mut s.dense_out);
        for (d, x) in s.dense.iter_mut().zip(&s.dense_out) {
            *d = fast_tanh(*x);
        }

        // VAD GRU on t.
        gru_step(&self.vad_gru, &s.dense, &mut s.h_vad, &mut s.gi, &mut s.gh);

        // Noise GRU on [t, v, features].
        layer(
            &self.noise_gru,
            &mut s.noise_in,
            &[
                &s.dense[..DENSE],
                &s.h_vad[..VAD_HIDDEN],
                &s.features[..INPUTS],
            ],
            &mut s.h_noise,
            &mut s.gi,
            &mut s.gh,
        );

        // Denoise GRU on [t, n, features].
        layer(
            &self.denoise_gru,
            &mut s.denoise_in,
            &[
                &s.dense[..DENSE],
                &s.h_noise[..NOISE_HIDDEN],
                &s.features[..INPUTS],
            ],
            &mut s.h_denoise,
            &mut s.gi,
            &mut s.gh,
        );

        // Second denoise GRU on [t, d, features].
        layer(
            &self.denoise2_gru,
            &mut s.denoise2_in,
            &[
                &s.dense[..DENSE],
                &s.h_denoise[..DENOISE_HIDDEN],
                &s.features[..INPUTS],
            ],
            &mut s.h_denoise2,
            &mut s.gi,
            &mut s.gh,
        );

        // Outputs: the gains from [d, e].
        concat(
            &mut s.output_in,
            &[
                &s.h_denoise[..DENOISE_HIDDEN],
                &s.h_denoise2[..DENOISE2_HIDDEN],
            ],
        );
        self.denoise_output.apply(&s.output_in, gains);
        for g in gains.iter_mut() {
            *g = sigmoid(*g);
        }
        let mut vad = [0.0f32; 1];
        self.vad_output.apply(&s.h_vad, &mut vad);
        sigmoid(vad[0])
    }
}

/// Writes `parts` one after another from the start of `dst` (a layer's input vector). Does not allocate.
fn concat(dst: &mut [f32], parts: &[&[f32]]) {
    let mut at = 0;
    for p in parts {
        dst[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
}

/// One recurrent layer: writes its input `parts` into `input` ([`concat`]), then steps `gru` on it in place on
/// `h`, with `gi`/`gh` as scratch for the gate products ([`gru_step`]). Does not allocate.
fn layer(
    gru: &QGru,
    input: &mut [f32],
    parts: &[&[f32]],
    h: &mut [f32],
    gi: &mut [f32],
    gh: &mut [f32],
) {
    concat(input, parts);
    gru_step(gru, input, h, gi, gh);
}

/// One GRU step in place on `h` (padded to the block length). `gi`/`gh` are scratch of at least 3·hidden.
/// Does not allocate.
fn gru_step(gru: &QGru, x: &[f32], h: &mut [f32], gi: &mut [f32], gh: &mut [f32]) {
    let n = gru.hidden;
    gru.ih.apply(x, &mut gi[..3 * n]);
    gru.hh.apply(h, &mut gh[..3 * n]);
    for i in 0..n {
        let r = sigmoid(gi[i] + gh[i]);
        let z = sigmoid(gi[n + i] + gh[n + i]);
        let cand = fast_tanh(gi[2 * n + i] + r * gh[2 * n + i]);
        h[i] = (1.0 - z) * cand + z * h[i];
    }
}

/// tanh by a (7,6) Padé approximant on a clamped input: max error 7.3e-5 over the real line (tested), about
/// 4× faster than libm's, which was a third of a step. Does not allocate.
#[inline]
pub fn fast_tanh(x: f32) -> f32 {
    let c = x.clamp(-4.8, 4.8);
    let x2 = c * c;
    let num = c * (135_135.0 + x2 * (17_325.0 + x2 * (378.0 + x2)));
    let den = 135_135.0 + x2 * (62_370.0 + x2 * (3_150.0 + 28.0 * x2));
    (num / den).clamp(-1.0, 1.0)
}

/// The logistic function through [`fast_tanh`]: max error 3.7e-5. Does not allocate.
#[inline]
pub fn fast_sigmoid(x: f32) -> f32 {
    0.5 + 0.5 * fast_tanh(0.5 * x)
}

#[inline]
fn sigmoid(x: f32) -> f32 {
    fast_sigmoid(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_activations_are_accurate() {
        let (mut worst_t, mut worst_s) = (0.0f64, 0.0f64);
        for i in -40_000..=40_000 {
            let x = i as f64 / 1000.0;
            worst_t = worst_t.max((fast_tanh(x as f32) as f64 - x.tanh()).abs());
            worst_s = worst_s.max((fast_sigmoid(x as f32) as f64 - 1.0 / (1.0 + (-x).exp())).abs());
        }
        assert!(worst_t < 8e-5, "tanh error {worst_t}");
        assert!(worst_s < 4e-5, "sigmoid error {worst_s}");
        assert!((fast_tanh(f32::INFINITY) - 1.0).abs() < 1e-4);
        assert!(fast_sigmoid(f32::NEG_INFINITY).abs() < 1e-4);
    }

    fn test_matrix(rows: usize, cols: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let mut rng = crate::synth::Rng::new(7);
        let w: Vec<f32> = (0..rows * cols)
            .map(|_| rng.gaussian() as f32 * 0.3)
            .collect();
        let b: Vec<f32> = (0..rows).map(|_| rng.gaussian() as f32 * 0.1).collect();
        let mut x = activations(cols);
        for v in &mut x[..cols] {
            *v = rng.gaussian() as f32 * 5.0;
        }
        (w, b, x)
    }

    #[test]
    fn the_int8_product_is_the_f32_product_within_the_weight_rounding() {
        let (rows, cols) = (70, 130);
        let (w, b, x) = test_matrix(rows, cols);
        let m = QLinear::new(&w, &b, rows, cols);
        let mut out = vec![0.0; rows];
        m.apply(&x, &mut out);
        for r in 0..rows {
            let exact: f32 = b[r] + (0..cols).map(|c| w[r * cols + c] * x[c]).sum::<f32>();
            // Each weight is off by at most half a step (block peak / 254); bound the sum by that.
            let bound: f32 = (0..cols)
                .map(|c| {
                    let blk = c / BLOCK * BLOCK..((c / BLOCK + 1) * BLOCK).min(cols);
                    let peak = w[r * cols..(r + 1) * cols][blk]
                        .iter()
                        .fold(0.0f32, |a, v| a.max(v.abs()));
                    peak / 254.0 * x[c].abs()
                })
                .sum();
            assert!(
                (out[r] - exact).abs() <= bound + 1e-4,
                "row {r}: {} vs {exact}",
                out[r]
            );
        }
    }

    #[test]
    fn the_f32_product_is_the_plain_product_and_the_same_bits_with_avx2() {
        let (rows, cols) = (70, 130);
        let (w, b, x) = test_matrix(rows, cols);
        let m = FLinear::new(&w, &b, rows, cols);
        let mut portable = vec![0.0; rows];
        matvec_f32(&m, &x, &mut portable);
        let mut dispatched = vec![0.0; rows];
        m.apply(&x, &mut dispatched);
        for r in 0..rows {
            let exact: f32 = b[r] + (0..cols).map(|c| w[r * cols + c] * x[c]).sum::<f32>();
            assert!(
                (portable[r] - exact).abs() <= 1e-4 * (1.0 + exact.abs()),
                "row {r}"
            );
        }
        assert_eq!(
            portable.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            dispatched.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_avx2_and_portable_products_give_the_same_bits() {
        let (rows, cols) = (70, 130);
        let (w, b, x) = test_matrix(rows, cols);
        let m = QLinear::new(&w, &b, rows, cols);
        let mut portable = vec![0.0; rows];
        matvec(&m, &x, &mut portable);
        let mut dispatched = vec![0.0; rows];
        m.apply(&x, &mut dispatched);
        // On a CPU without AVX2 both run the portable code, and the test only checks the dispatch.
        assert_eq!(
            portable.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            dispatched.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }
}
