//! The f32 candle-nn definition of the network (feature `train`): what the trainer optimises and what the int8
//! runtime is checked against. Shapes and names come from [`super::topology`], so this definition, the weights
//! file and the runtime cannot drift apart.

use super::topology::*;
use super::weights::{ModelMetadata, ModelWeights};
use candle_core::{DType, Device, Result, Tensor, D};
use candle_nn::{init, ops, Init, Linear, Module, VarBuilder, VarMap};
use std::collections::HashMap;

/// A GRU layer with PyTorch's gate layout (reset, update, new).
pub struct Gru {
    hidden: usize,
    weight_ih_t: Tensor,
    weight_hh_t: Tensor,
    bias_ih: Tensor,
    bias_hh: Tensor,
}

impl Gru {
    fn new(vb: VarBuilder, inputs: usize, hidden: usize) -> Result<Self> {
        let bound = 1.0 / (hidden as f64).sqrt();
        let uniform = Init::Uniform {
            lo: -bound,
            up: bound,
        };
        let weight_ih = vb.get_with_hints((3 * hidden, inputs), "weight_ih", uniform)?;
        let weight_hh = vb.get_with_hints((3 * hidden, hidden), "weight_hh", uniform)?;
        let bias_ih = vb.get_with_hints(3 * hidden, "bias_ih", init::ZERO)?;
        let bias_hh = vb.get_with_hints(3 * hidden, "bias_hh", init::ZERO)?;
        Ok(Gru {
            hidden,
            weight_ih_t: weight_ih.t()?,
            weight_hh_t: weight_hh.t()?,
            bias_ih,
            bias_hh,
        })
    }

    /// One step on a batch: `x` is `[B, inputs]`, `h` is `[B, hidden]`; returns the new `h`.
    pub fn step(&self, x: &Tensor, h: &Tensor) -> Result<Tensor> {
        let n = self.hidden;
        let gi = x.matmul(&self.weight_ih_t)?.broadcast_add(&self.bias_ih)?;
        let gh = h.matmul(&self.weight_hh_t)?.broadcast_add(&self.bias_hh)?;
        let r = ops::sigmoid(&(gi.narrow(D::Minus1, 0, n)? + gh.narrow(D::Minus1, 0, n)?)?)?;
        let z = ops::sigmoid(&(gi.narrow(D::Minus1, n, n)? + gh.narrow(D::Minus1, n, n)?)?)?;
        let cand =
            (gi.narrow(D::Minus1, 2 * n, n)? + (r * gh.narrow(D::Minus1, 2 * n, n)?)?)?.tanh()?;
        // h' = (1 − z)·n + z·h = n + z·(h − n)
        &cand + (z * (h - &cand)?)?
    }
}

/// Recurrent state of a batch: `[B, VAD_HIDDEN]`, `[B, NOISE_HIDDEN]`, `[B, DENOISE_HIDDEN]`,
/// `[B, DENOISE2_HIDDEN]` (24, 96, 192, 192 units),
/// and the features of the previous `CONTEXT − 1` frames for the input convolution (`[B, (CONTEXT − 1) · 42]`,
/// oldest first).
#[derive(Clone)]
pub struct NetState {
    /// Features of the frames before the current one.
    pub past: Tensor,
    /// VAD GRU state.
    pub vad: Tensor,
    /// Noise GRU state.
    pub noise: Tensor,
    /// Denoise GRU state.
    pub denoise: Tensor,
    /// Second denoise GRU state.
    pub denoise2: Tensor,
}

impl NetState {
    /// Zero state for `batch` sequences.
    pub fn zeros(batch: usize, device: &Device) -> Result<Self> {
        Ok(NetState {
            past: Tensor::zeros((batch, CONV_INPUTS - INPUTS), DType::F32, device)?,
            vad: Tensor::zeros((batch, VAD_HIDDEN), DType::F32, device)?,
            noise: Tensor::zeros((batch, NOISE_HIDDEN), DType::F32, device)?,
            denoise: Tensor::zeros((batch, DENOISE_HIDDEN), DType::F32, device)?,
            denoise2: Tensor::zeros((batch, DENOISE2_HIDDEN), DType::F32, device)?,
        })
    }
}

/// The network.
pub struct Net {
    input_conv: Linear,
    vad_gru: Gru,
    noise_gru: Gru,
    denoise_gru: Gru,
    denoise2_gru: Gru,
    denoise_output: Linear,
    vad_output: Linear,
}

impl Net {
    /// Builds the network from a var builder (a `VarMap` to train, or loaded tensors).
    pub fn new(vb: VarBuilder) -> Result<Self> {
        Ok(Net {
            input_conv: candle_nn::linear(CONV_INPUTS, DENSE, vb.pp("input_conv"))?,
            vad_gru: Gru::new(vb.pp("vad_gru"), DENSE, VAD_HIDDEN)?,
            noise_gru: Gru::new(vb.pp("noise_gru"), NOISE_INPUTS, NOISE_HIDDEN)?,
            denoise_gru: Gru::new(vb.pp("denoise_gru"), DENOISE_INPUTS, DENOISE_HIDDEN)?,
            denoise2_gru: Gru::new(vb.pp("denoise2_gru"), DENOISE2_INPUTS, DENOISE2_HIDDEN)?,
            denoise_output: candle_nn::linear(OUTPUT_INPUTS, OUTPUTS, vb.pp("denoise_output"))?,
            vad_output: candle_nn::linear(VAD_HIDDEN, 1, vb.pp("vad_output"))?,
        })
    }

    /// Builds the network from validated weights (for the f32 reference forward).
    pub fn from_weights(weights: &ModelWeights, device: &Device) -> Result<Self> {
        let mut map = HashMap::new();
        for spec in &TENSORS {
            let t = Tensor::from_slice(weights.tensor(spec), spec.shape(), device)?;
            map.insert(spec.name.to_string(), t);
        }
        Self::new(VarBuilder::from_tensors(map, DType::F32, device))
    }

    /// One step on a batch of feature vectors `x` (`[B, 42]`, the newest frame): returns band gains `[B, 22]`
    /// (pre-sigmoid logits if `logits`), VAD `[B, 1]` (likewise) and the next state.
    pub fn step(
        &self,
        x: &Tensor,
        state: &NetState,
        logits: bool,
    ) -> Result<(Tensor, Tensor, NetState)> {
        let context = Tensor::cat(&[&state.past, x], D::Minus1)?;
        let t = self.input_conv.forward(&context)?.tanh()?;
        let past = context.narrow(D::Minus1, INPUTS, CONV_INPUTS - INPUTS)?;
        let vad = self.vad_gru.step(&t, &state.vad)?;
        let noise = self
            .noise_gru
            .step(&Tensor::cat(&[&t, &vad, x], D::Minus1)?, &state.noise)?;
        let denoise = self
            .denoise_gru
            .step(&Tensor::cat(&[&t, &noise, x], D::Minus1)?, &state.denoise)?;
        let denoise2 = self.denoise2_gru.step(
            &Tensor::cat(&[&t, &denoise, x], D::Minus1)?,
            &state.denoise2,
        )?;
        let mut gains = self
            .denoise_output
            .forward(&Tensor::cat(&[&denoise, &denoise2], D::Minus1)?)?;
        let mut vad_out = self.vad_output.forward(&vad)?;
        if !logits {
            gains = ops::sigmoid(&gains)?;
            vad_out = ops::sigmoid(&vad_out)?;
        }
        Ok((
            gains,
            vad_out,
            NetState {
                past,
                vad,
                noise,
                denoise,
                denoise2,
            },
        ))
    }
}

/// Reads the trained variables of `varmap` back into validated weights. Allocates.
pub fn weights_from_varmap(
    varmap: &VarMap,
    metadata: ModelMetadata,
) -> std::result::Result<ModelWeights, String> {
    let data = varmap.data().lock().map_err(|e| e.to_string())?;
    let mut tensors = Vec::with_capacity(TENSORS.len());
    for spec in &TENSORS {
        let var = data
            .get(spec.name)
            .ok_or_else(|| format!("variable {} missing", spec.name))?;
        let v: Vec<f32> = var
            .as_tensor()
            .flatten_all()
            .and_then(|t| t.to_vec1())
            .map_err(|e| e.to_string())?;
        tensors.push(v);
    }
    ModelWeights::from_vectors(tensors, metadata).map_err(|e| e.to_string())
}
