//! The real-time runtime of the neural mask.
//!
//! Two kinds of matrix product, chosen by what the matrix reads:
//!
//! - **Bounded inputs, integer product.** Everything the GRUs read apart from the features is bounded to
//!   −1..=1: the dense layer's output is a tanh, a GRU's state is a blend of tanh outputs. Those columns (every
//!   recurrent matrix, and the input matrices' columns that read the dense layer and the previous GRU's state)
//!   are quantized at load to int8 with one f32 scale per row (as RNNoise 0.2 does), and at each step their
//!   inputs are stored as 16-bit integers (`round(x · 32767)`, a step of 3e-5, below the error of the Padé
//!   activations). Each row is then an exact integer dot product (AVX2's `vpmaddwd`, 16 multiply-adds per
//!   instruction, when the CPU has it), scaled once. Integer sums do not depend on their order, so the AVX2 and
//!   portable builds give the same bits.
//! - **The features, f32.** The 42 features mix log energies and pitch correlations of very different scales;
//!   quantizing them, or the weights that read them, made a trained network's gains drift up to 0.10 from its
//!   f32 forward. The input convolution, the GRU input matrices' feature columns and the two small output
//!   layers stay f32.
//!
//! Biases, gates and nonlinearities stay in f32. No allocation, no thread and no library call happen in
//! [`NeuralMask::step`].

use super::topology::*;
use super::weights::ModelWeights;
use std::ops::Range;

/// Lanes of the f32 product's partial sums.
const LANES: usize = 8;
/// Columns of an integer matrix are padded to a multiple of this: one AVX2 multiply-add reads 16 values.
const INT_LANES: usize = 16;
/// A bounded activation `x` in −1..=1 is stored as the 16-bit integer `round(x · ACT_SCALE)`.
const ACT_SCALE: f32 = 32767.0;
/// Most columns an integer matrix may have: 512 · 127 · 32767 < 2³¹, so no row's sum can overflow an i32.
const INT_MAX_COLS: usize = 512;

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

/// `n` rounded up to a whole number of [`INT_LANES`].
const fn int_padded(n: usize) -> usize {
    n.div_ceil(INT_LANES) * INT_LANES
}

/// `n` rounded up to a whole number of [`LANES`].
const fn f32_padded(n: usize) -> usize {
    n.div_ceil(LANES) * LANES
}

/// Values one frame of features takes in the convolution's input: [`INPUTS`] padded to whole lanes.
const FRAME_STRIDE: usize = f32_padded(INPUTS);

/// Columns `cols` of the row-major `rows × stride` matrix `w`, as a `rows × cols.len()` matrix. Allocates.
fn columns(w: &[f32], rows: usize, stride: usize, cols: Range<usize>) -> Vec<f32> {
    (0..rows)
        .flat_map(|r| {
            w[r * stride + cols.start..r * stride + cols.end]
                .iter()
                .copied()
        })
        .collect()
}

/// Stores bounded activations as 16-bit integers (`round(x · 32767)`, clamped to −1..=1; NaN reads as 0).
/// Does not allocate.
fn quantize(src: &[f32], dst: &mut [i16]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        let v = s.clamp(-1.0, 1.0) * ACT_SCALE;
        // Round half away from zero without a library call; `as` saturates and maps NaN to 0.
        *d = (v + if v >= 0.0 { 0.5 } else { -0.5 }) as i16;
    }
}

/// One matrix over bounded inputs: int8 weights with one scale per row, and its bias (see the module notes).
#[derive(Clone)]
struct ILinear {
    rows: usize,
    cols_padded: usize,
    /// `rows × cols_padded` int8 weights (zeros in the padding), in −127..=127.
    weights: Vec<i8>,
    /// Per row: the weight step divided by [`ACT_SCALE`], so that a row's output is `sum · scale + bias`.
    scales: Vec<f32>,
    bias: Vec<f32>,
    /// The CPU has AVX2 (checked once, at load).
    avx2: bool,
}

impl ILinear {
    /// Quantizes the row-major `rows × cols` matrix `w`. Allocates.
    fn new(w: &[f32], bias: &[f32], rows: usize, cols: usize) -> Self {
        let cols_padded = int_padded(cols);
        assert!(cols_padded <= INT_MAX_COLS, "integer matrix too wide");
        let mut weights = vec![0i8; rows * cols_padded];
        let mut scales = vec![0.0f32; rows];
        for (r, (dst, row)) in weights
            .chunks_exact_mut(cols_padded)
            .zip(w.chunks_exact(cols))
            .enumerate()
        {
            let peak = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let step = peak / 127.0;
            let inv = if step > 0.0 { 1.0 / step } else { 0.0 };
            for (d, v) in dst.iter_mut().zip(row) {
                *d = (v * inv).round().clamp(-127.0, 127.0) as i8;
            }
            scales[r] = step / ACT_SCALE;
        }
        ILinear {
            rows,
            cols_padded,
            weights,
            scales,
            bias: bias.to_vec(),
            avx2: has_avx2(),
        }
    }

    /// `out = W·x + b` for `x` of at least `cols_padded` quantized activations (zeros in the padding).
    /// Does not allocate.
    fn apply(&self, x: &[i16], out: &mut [f32]) {
        assert!(x.len() >= self.cols_padded && out.len() >= self.rows);
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is set only when the CPU was found to support AVX2 (see `ILinear::new`), and the
            // lengths were checked above.
            unsafe { matvec_int_avx2(self, x, out) };
            return;
        }
        matvec_int(self, x, out);
    }

    /// Row `r`'s integer sum scaled and biased.
    #[inline(always)]
    fn finish(&self, r: usize, sum: i32) -> f32 {
        sum as f32 * self.scales[r] + self.bias[r]
    }
}

/// Exact integer dot product of int8 weights and 16-bit activations. Does not allocate.
#[inline(always)]
fn int_dot(w: &[i8], x: &[i16]) -> i32 {
    w.iter()
        .zip(x)
        .map(|(&a, &b)| i32::from(a) * i32::from(b))
        .sum()
}

/// The portable integer product of [`ILinear::apply`]. Does not allocate.
fn matvec_int(m: &ILinear, x: &[i16], out: &mut [f32]) {
    let x = &x[..m.cols_padded];
    for (r, (o, row)) in out
        .iter_mut()
        .zip(m.weights.chunks_exact(m.cols_padded))
        .enumerate()
    {
        *o = m.finish(r, int_dot(row, x));
    }
}

/// [`matvec_int`] with AVX2: four rows at a time, 16 multiply-adds per `vpmaddwd`. The integer sums are exact,
/// so the result has the same bits as the portable product.
///
/// # Safety
/// The CPU must support AVX2; `x` must hold at least `m.cols_padded` values and `out` at least `m.rows`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn matvec_int_avx2(m: &ILinear, x: &[i16], out: &mut [f32]) {
    use std::arch::x86_64::*;
    let cols = m.cols_padded;
    let w = m.weights.as_ptr();
    let xp = x.as_ptr();
    let mut r = 0;
    while r + 4 <= m.rows {
        let mut acc = [_mm256_setzero_si256(); 4];
        for k in (0..cols).step_by(INT_LANES) {
            let xv = _mm256_loadu_si256(xp.add(k) as *const __m256i);
            for (j, a) in acc.iter_mut().enumerate() {
                let wv = _mm256_cvtepi8_epi16(_mm_loadu_si128(
                    w.add((r + j) * cols + k) as *const __m128i
                ));
                *a = _mm256_add_epi32(*a, _mm256_madd_epi16(wv, xv));
            }
        }
        // Sum each accumulator's eight lanes: two rounds of pairwise sums leave, per 128-bit half, one partial
        // sum for each of the four rows; adding the halves gives the four rows' sums.
        let s01 = _mm256_hadd_epi32(acc[0], acc[1]);
        let s23 = _mm256_hadd_epi32(acc[2], acc[3]);
        let s = _mm256_hadd_epi32(s01, s23);
        let sums = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        let mut lanes = [0i32; 4];
        _mm_storeu_si128(lanes.as_mut_ptr() as *mut __m128i, sums);
        for (j, &sum) in lanes.iter().enumerate() {
            out[r + j] = m.finish(r + j, sum);
        }
        r += 4;
    }
    for (rr, o) in out.iter_mut().enumerate().take(m.rows).skip(r) {
        let row = &m.weights[rr * cols..(rr + 1) * cols];
        *o = m.finish(rr, int_dot(row, &x[..cols]));
    }
}

/// One f32 matrix with its bias, for the layers kept in full precision (see the module notes): those that read
/// the raw features, and the two output layers, whose rounding goes straight into the gains.
#[derive(Clone)]
struct FLinear {
    rows: usize,
    /// Columns padded to a multiple of [`LANES`].
    cols_padded: usize,
    /// `rows × cols_padded` weights (zeros in the padding).
    weights: Vec<f32>,
    bias: Vec<f32>,
    avx2: bool,
}

impl FLinear {
    fn new(w: &[f32], bias: &[f32], rows: usize, cols: usize) -> Self {
        let cols_padded = f32_padded(cols);
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

/// The f32 matrix-vector product of [`FLinear::apply`], in eight lanes that the compiler keeps in one vector and
/// adds together once per row; portable and AVX2 builds do the same operations in the same order, so they give
/// the same bits. Does not allocate.
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

/// A GRU layer. Its input is `[bounded, features]`: the bounded part (the dense layer's output and the previous
/// GRU's state) and its recurrent matrix use the integer product, the feature columns (if any) the f32 one.
#[derive(Clone)]
struct QGru {
    hidden: usize,
    /// The input matrix's bounded columns, with the input bias.
    ih: ILinear,
    /// The input matrix's feature columns (no bias); `None` for a GRU that does not read the features.
    ih_features: Option<FLinear>,
    hh: ILinear,
}

impl QGru {
    /// The GRU `name` of `hidden` units whose input is `bounded` values followed by `features` values (0 for
    /// none). Allocates.
    fn new(
        weights: &ModelWeights,
        name: &str,
        hidden: usize,
        bounded: usize,
        features: usize,
    ) -> Self {
        let get = |t: &str| {
            weights
                .get(&format!("{name}.{t}"))
                .expect("topology tensor")
        };
        let (rows, inputs) = (3 * hidden, bounded + features);
        let w_ih = get("weight_ih");
        QGru {
            hidden,
            ih: ILinear::new(
                &columns(w_ih, rows, inputs, 0..bounded),
                get("bias_ih"),
                rows,
                bounded,
            ),
            ih_features: (features > 0).then(|| {
                FLinear::new(
                    &columns(w_ih, rows, inputs, bounded..inputs),
                    &vec![0.0; rows],
                    rows,
                    features,
                )
            }),
            hh: ILinear::new(get("weight_hh"), get("bias_hh"), rows, hidden),
        }
    }
}

/// A zeroed f32 activation vector of `len` values, padded for the f32 product. Allocates.
fn activations(len: usize) -> Vec<f32> {
    vec![0.0; f32_padded(len)]
}

/// A zeroed quantized activation vector of `len` values, padded for the integer product. Allocates.
fn int_activations(len: usize) -> Vec<i16> {
    vec![0; int_padded(len)]
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
    /// The last [`CONTEXT`] frames of (sanitised) features, oldest first, each padded to whole lanes
    /// ([`FRAME_STRIDE`] values): the convolution's input.
    history: Vec<f32>,
    h_vad: Vec<f32>,
    h_noise: Vec<f32>,
    h_denoise: Vec<f32>,
    h_denoise2: Vec<f32>,
    /// The GRU states quantized (the recurrent matrices' inputs; kept in step with the f32 states).
    q_vad: Vec<i16>,
    q_noise: Vec<i16>,
    q_denoise: Vec<i16>,
    q_denoise2: Vec<i16>,
    /// The dense layer's output, and quantized.
    dense: Vec<f32>,
    q_dense: Vec<i16>,
    features: Vec<f32>,
    /// The bounded part of each GRU's input, quantized: `[dense, previous GRU's state]`.
    noise_in: Vec<i16>,
    denoise_in: Vec<i16>,
    denoise2_in: Vec<i16>,
    output_in: Vec<f32>,
    gi: Vec<f32>,
    gh: Vec<f32>,
    gf: Vec<f32>,
    dense_out: Vec<f32>,
}

impl NeuralState {
    /// Fresh state for the topology. Allocates.
    pub fn new() -> Self {
        let gates = 3 * DENOISE_HIDDEN.max(DENOISE2_HIDDEN);
        NeuralState {
            history: vec![0.0; CONTEXT * FRAME_STRIDE],
            h_vad: activations(VAD_HIDDEN),
            h_noise: activations(NOISE_HIDDEN),
            h_denoise: activations(DENOISE_HIDDEN),
            h_denoise2: activations(DENOISE2_HIDDEN),
            q_vad: int_activations(VAD_HIDDEN),
            q_noise: int_activations(NOISE_HIDDEN),
            q_denoise: int_activations(DENOISE_HIDDEN),
            q_denoise2: int_activations(DENOISE2_HIDDEN),
            dense: activations(DENSE),
            q_dense: int_activations(DENSE),
            features: activations(INPUTS),
            noise_in: int_activations(DENSE + VAD_HIDDEN),
            denoise_in: int_activations(DENSE + NOISE_HIDDEN),
            denoise2_in: int_activations(DENSE + DENOISE_HIDDEN),
            output_in: activations(OUTPUT_INPUTS),
            gi: vec![0.0; gates],
            gh: vec![0.0; gates],
            gf: vec![0.0; gates],
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
        self.q_vad.fill(0);
        self.q_noise.fill(0);
        self.q_denoise.fill(0);
        self.q_denoise2.fill(0);
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
        let f32_layer = |w: &str, b: &str, rows, cols| {
            FLinear::new(
                weights.get(w).expect("topology tensor"),
                weights.get(b).expect("topology tensor"),
                rows,
                cols,
            )
        };
        NeuralMask {
            input_conv: {
                // Each frame's columns start a new run of lanes in the history (a legacy file's dense layer
                // meets the current frame's columns and zeros elsewhere).
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
            vad_gru: QGru::new(weights, "vad_gru", VAD_HIDDEN, DENSE, 0),
            noise_gru: QGru::new(
                weights,
                "noise_gru",
                NOISE_HIDDEN,
                DENSE + VAD_HIDDEN,
                INPUTS,
            ),
            denoise_gru: QGru::new(
                weights,
                "denoise_gru",
                DENOISE_HIDDEN,
                DENSE + NOISE_HIDDEN,
                INPUTS,
            ),
            denoise2_gru: QGru::new(
                weights,
                "denoise2_gru",
                DENOISE2_HIDDEN,
                DENSE + DENOISE_HIDDEN,
                INPUTS,
            ),
            denoise_output: f32_layer(
                "denoise_output.weight",
                "denoise_output.bias",
                OUTPUTS,
                OUTPUT_INPUTS,
            ),
            vad_output: f32_layer("vad_output.weight", "vad_output.bias", 1, VAD_HIDDEN),
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
        quantize(&s.dense[..DENSE], &mut s.q_dense);

        // VAD GRU on t.
        let mut scratch = Scratch {
            gi: &mut s.gi,
            gh: &mut s.gh,
            gf: &mut s.gf,
        };
        gru_step(
            &self.vad_gru,
            &s.q_dense,
            &s.features,
            &mut s.h_vad,
            &mut s.q_vad,
            &mut scratch,
        );

        // Noise GRU on [t, v, features].
        concat(
            &mut s.noise_in,
            &[&s.q_dense[..DENSE], &s.q_vad[..VAD_HIDDEN]],
        );
        gru_step(
            &self.noise_gru,
            &s.noise_in,
            &s.features,
            &mut s.h_noise,
            &mut s.q_noise,
            &mut scratch,
        );

        // Denoise GRU on [t, n, features].
        concat(
            &mut s.denoise_in,
            &[&s.q_dense[..DENSE], &s.q_noise[..NOISE_HIDDEN]],
        );
        gru_step(
            &self.denoise_gru,
            &s.denoise_in,
            &s.features,
            &mut s.h_denoise,
            &mut s.q_denoise,
            &mut scratch,
        );

        // Second denoise GRU on [t, d, features].
        concat(
            &mut s.denoise2_in,
            &[&s.q_dense[..DENSE], &s.q_denoise[..DENOISE_HIDDEN]],
        );
        gru_step(
            &self.denoise2_gru,
            &s.denoise2_in,
            &s.features,
            &mut s.h_denoise2,
            &mut s.q_denoise2,
            &mut scratch,
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
fn concat<T: Copy>(dst: &mut [T], parts: &[&[T]]) {
    let mut at = 0;
    for p in parts {
        dst[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
}

/// Scratch for a GRU step's gate products (each at least 3 × the widest GRU). Does not allocate.
struct Scratch<'a> {
    gi: &'a mut [f32],
    gh: &'a mut [f32],
    gf: &'a mut [f32],
}

/// One GRU step in place on `h`, whose quantized copy `hq` it reads as the recurrent input and rewrites after
/// the update. `x` is the quantized bounded part of the input, `features` the features (read only by a GRU
/// that has feature columns). Does not allocate.
fn gru_step(
    gru: &QGru,
    x: &[i16],
    features: &[f32],
    h: &mut [f32],
    hq: &mut [i16],
    scratch: &mut Scratch,
) {
    let n = gru.hidden;
    let (gi, gh) = (&mut scratch.gi[..3 * n], &mut scratch.gh[..3 * n]);
    gru.ih.apply(x, gi);
    if let Some(f) = &gru.ih_features {
        let gf = &mut scratch.gf[..3 * n];
        f.apply(features, gf);
        gi.iter_mut().zip(gf.iter()).for_each(|(a, b)| *a += b);
    }
    gru.hh.apply(hq, gh);
    for i in 0..n {
        let r = sigmoid(gi[i] + gh[i]);
        let z = sigmoid(gi[n + i] + gh[n + i]);
        let cand = fast_tanh(gi[2 * n + i] + r * gh[2 * n + i]);
        h[i] = (1.0 - z) * cand + z * h[i];
    }
    quantize(&h[..n], hq);
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

    /// A seeded `rows × cols` matrix, bias, and an input of `cols` values with standard deviation `x_scale`
    /// (padded for either product).
    fn test_matrix(rows: usize, cols: usize, x_scale: f64) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let mut rng = crate::synth::Rng::new(7);
        let w: Vec<f32> = (0..rows * cols)
            .map(|_| rng.gaussian() as f32 * 0.3)
            .collect();
        let b: Vec<f32> = (0..rows).map(|_| rng.gaussian() as f32 * 0.1).collect();
        let mut x = vec![0.0; int_padded(cols).max(f32_padded(cols))];
        for v in &mut x[..cols] {
            *v = rng.gaussian() as f32 * x_scale as f32;
        }
        (w, b, x)
    }

    #[test]
    fn quantized_activations_round_to_the_nearest_step_and_clamp() {
        let src = [
            0.0,
            1.0,
            -1.0,
            0.5,
            -0.5,
            1.0 / 65534.0,
            3.0,
            -7.0,
            f32::NAN,
        ];
        let mut q = [99i16; 9];
        quantize(&src, &mut q);
        assert_eq!(q, [0, 32767, -32767, 16384, -16384, 1, 32767, -32767, 0]);
        let mut rng = crate::synth::Rng::new(3);
        for _ in 0..10_000 {
            let x = (rng.uniform() * 2.0 - 1.0) as f32;
            let mut q = [0i16];
            quantize(&[x], &mut q);
            assert!((f32::from(q[0]) / ACT_SCALE - x).abs() <= 0.5 / ACT_SCALE + 1e-7);
        }
    }

    #[test]
    fn the_integer_product_is_the_f32_product_within_the_rounding() {
        // Odd sizes: rows not a multiple of four (the AVX2 remainder), columns not a multiple of 16.
        for (rows, cols) in [(70, 130), (3, 5), (576, 216)] {
            let (w, b, x) = test_matrix(rows, cols, 0.4);
            let x: Vec<f32> = x.iter().map(|v| v.clamp(-1.0, 1.0)).collect();
            let m = ILinear::new(&w, &b, rows, cols);
            let mut xq = int_activations(cols);
            quantize(&x[..cols], &mut xq);
            let mut out = vec![0.0; rows];
            m.apply(&xq, &mut out);
            for r in 0..rows {
                let row = &w[r * cols..(r + 1) * cols];
                let exact: f32 = b[r] + (0..cols).map(|c| row[c] * x[c]).sum::<f32>();
                // Each weight is off by at most half its row's step (peak / 254), each input by half of 1/32767.
                let peak = row.iter().fold(0.0f32, |a, v| a.max(v.abs()));
                let bound: f32 = (0..cols)
                    .map(|c| peak / 254.0 * x[c].abs() + row[c].abs() * 0.5 / ACT_SCALE)
                    .sum();
                assert!(
                    (out[r] - exact).abs() <= bound + 1e-4,
                    "{rows}×{cols}, row {r}: {} vs {exact}",
                    out[r]
                );
            }
        }
    }

    #[test]
    fn the_integer_product_cannot_overflow_at_its_widest() {
        // Every weight at the row's peak and every input at full scale: the largest sum a row can reach.
        let (rows, cols) = (5, INT_MAX_COLS);
        let w = vec![1.0f32; rows * cols];
        let m = ILinear::new(&w, &vec![0.0; rows], rows, cols);
        let xq = vec![32767i16; cols];
        let (mut portable, mut dispatched) = (vec![0.0; rows], vec![0.0; rows]);
        matvec_int(&m, &xq, &mut portable);
        m.apply(&xq, &mut dispatched);
        for o in portable.iter().chain(&dispatched) {
            assert!((o - cols as f32).abs() < 1e-3 * cols as f32, "{o}");
        }
    }

    #[test]
    fn the_f32_product_is_the_plain_product_and_the_same_bits_with_avx2() {
        let (rows, cols) = (70, 130);
        let (w, b, x) = test_matrix(rows, cols, 5.0);
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
    fn the_avx2_and_portable_integer_products_give_the_same_bits() {
        for (rows, cols) in [(70, 130), (3, 5), (576, 216)] {
            let (w, b, x) = test_matrix(rows, cols, 0.5);
            let m = ILinear::new(&w, &b, rows, cols);
            let mut xq = int_activations(cols);
            quantize(&x[..cols], &mut xq);
            let mut portable = vec![0.0; rows];
            matvec_int(&m, &xq, &mut portable);
            let mut dispatched = vec![0.0; rows];
            m.apply(&xq, &mut dispatched);
            // On a CPU without AVX2 both run the portable code, and the test only checks the dispatch.
            assert_eq!(
                portable.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                dispatched.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{rows}×{cols}"
            );
        }
    }
}
