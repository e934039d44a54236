//! `cargo xtask average`: the mean of several checkpoints' weights, tensor by tensor.
//!
//! The checkpoints of one run at a small learning rate sit in one basin and differ mostly by the noise of their
//! last batches; their mean is often better than any one of them (stochastic weight averaging). Files of the
//! older topologies load grown, as everywhere ([`quell_dsp::neural::ModelWeights::from_bytes`]), so only
//! checkpoints of one run should be averaged: two networks trained apart do not share their hidden units.

use anyhow::{bail, Context, Result};
use quell_dsp::neural::topology::TENSORS;
use quell_dsp::neural::{ModelMetadata, ModelWeights};
use std::path::PathBuf;

/// Options of `cargo xtask average`.
#[derive(Debug, Clone, clap::Args)]
pub struct AverageArgs {
    /// Weights file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Training text stored in the file's metadata (default: the first checkpoint's, with the list of averaged
    /// files appended).
    #[arg(long)]
    pub training: Option<String>,
    /// Checkpoints to average (at least two).
    #[arg(required = true, num_args = 2..)]
    pub checkpoints: Vec<PathBuf>,
}

/// The element-wise mean of `models`' tensors (f64 sums). Allocates.
pub fn mean(models: &[ModelWeights], metadata: ModelMetadata) -> Result<ModelWeights> {
    if models.is_empty() {
        bail!("nothing to average");
    }
    let n = models.len() as f64;
    let tensors = TENSORS
        .iter()
        .map(|spec| {
            let mut sum = vec![0.0f64; spec.values()];
            for m in models {
                for (s, v) in sum.iter_mut().zip(m.tensor(spec)) {
                    *s += f64::from(*v);
                }
            }
            sum.into_iter().map(|s| (s / n) as f32).collect()
        })
        .collect();
    ModelWeights::from_vectors(tensors, metadata).context("averaged weights")
}

/// Runs `cargo xtask average`.
pub fn run(args: &AverageArgs) -> Result<()> {
    let models = args
        .checkpoints
        .iter()
        .map(|p| ModelWeights::from_file(p).with_context(|| format!("loading {}", p.display())))
        .collect::<Result<Vec<_>>>()?;
    let names: Vec<String> = args
        .checkpoints
        .iter()
        .map(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let training = args.training.clone().unwrap_or_else(|| {
        format!(
            "{} Mean of {} checkpoints: {}.",
            models[0].metadata.training,
            models.len(),
            names.join(", ")
        )
    });
    let averaged = mean(&models, ModelMetadata { training })?;
    averaged
        .save(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "wrote the mean of {} checkpoints to {}",
        models.len(),
        args.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_of_two_models_is_their_midpoint_and_of_one_model_itself() {
        let (a, b) = (
            ModelWeights::seeded_random(1),
            ModelWeights::seeded_random(2),
        );
        let m = mean(&[a.clone(), b.clone()], ModelMetadata::default()).unwrap();
        for spec in &TENSORS {
            for ((x, y), z) in a
                .tensor(spec)
                .iter()
                .zip(b.tensor(spec))
                .zip(m.tensor(spec))
            {
                assert!((z - (x + y) / 2.0).abs() <= 1e-7, "{}", spec.name);
            }
        }
        let same = mean(std::slice::from_ref(&a), a.metadata.clone()).unwrap();
        assert_eq!(same, a);
        assert!(mean(&[], ModelMetadata::default()).is_err());
    }
}
