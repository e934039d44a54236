//! The weights file: safetensors with metadata, read and validated with the `safetensors` crate alone (no
//! tensor library in the plugin or the command line).
//!
//! Metadata keys: `quell.format_version` ([`FORMAT_VERSION`]), `quell.topology` ([`TOPOLOGY`]),
//! `quell.feature_layout` ([`FEATURE_LAYOUT`]) and `quell.training` (free text: data, epochs, figures).
//! Every tensor of [`TENSORS`] must be present with its exact shape, as f32, with finite values; nothing else
//! may be in the file. Any deviation is a typed [`ModelError`] that names the problem.
//!
//! Files of the earlier topologies load too, as the same network ([`ModelWeights::from_bytes`]):
//! - [`GRU3_TOPOLOGY`] (a narrower second denoise GRU): the units it lacks have zero rows, the other units' recurrent
//!   columns for them are zeros, and so are the gain layer's columns for them;
//! - [`CONV3_TOPOLOGY`] (no second denoise GRU): its tensors are zeros, and the gain layer's columns for its state
//!   are zeros;
//! - [`LEGACY_TOPOLOGY`] (also `input_dense` of 24 × 42 in place of `input_conv`): the dense layer becomes the
//!   convolution's columns for the current frame, zeros elsewhere, and the second denoise GRU is added as above.

use super::topology::{
    index_of, TensorSpec, CONTEXT, CONV3_TOPOLOGY, DENOISE_HIDDEN, DENSE, FEATURE_LAYOUT,
    FORMAT_VERSION, GRU3_DENOISE2_HIDDEN, GRU3_TOPOLOGY, INPUTS, LEGACY_TOPOLOGY, OUTPUTS, TENSORS,
    TOPOLOGY,
};
use crate::rng::Rng;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

/// A tensor of shape `spec` holding `stored`, a matrix of `blocks` stacked blocks of `block_rows` rows and `cols`
/// columns each: block `b`'s rows go to the first rows of the `b`-th of `blocks` equal blocks of `spec`'s rows, in
/// their first `cols` columns; everything else is zero. Allocates.
fn widen(
    stored: &[f32],
    blocks: usize,
    block_rows: usize,
    cols: usize,
    spec: &TensorSpec,
) -> Vec<f32> {
    let mut out = vec![0.0; spec.values()];
    let rows_per_block = spec.rows / blocks;
    for (r, row) in stored.chunks_exact(cols).enumerate() {
        let target = (r / block_rows) * rows_per_block + r % block_rows;
        out[target * spec.cols..][..cols].copy_from_slice(row);
    }
    out
}

/// Why a weights file was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelError {
    /// The file could not be read.
    Io(String),
    /// Not a readable safetensors file (damaged, truncated or another format).
    Format(String),
    /// A required metadata key is missing.
    MissingMetadata(&'static str),
    /// The format version is not the one this build reads.
    FormatVersion {
        /// Version found in the file.
        found: String,
    },
    /// The file describes another network.
    Topology {
        /// Topology found in the file.
        found: String,
    },
    /// The weights were trained on another feature layout.
    FeatureLayout {
        /// Layout found in the file.
        found: String,
    },
    /// A tensor the network needs is absent.
    MissingTensor(&'static str),
    /// The file holds a tensor the network does not have.
    UnexpectedTensor(String),
    /// A tensor has the wrong shape.
    Shape {
        /// Tensor name.
        name: &'static str,
        /// Shape the network needs.
        expected: Vec<usize>,
        /// Shape in the file.
        found: Vec<usize>,
    },
    /// A tensor is not stored as f32.
    DType {
        /// Tensor name.
        name: &'static str,
        /// Type found.
        found: String,
    },
    /// A tensor holds NaN or infinite values.
    NonFinite {
        /// Tensor name.
        name: &'static str,
    },
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::Io(e) => write!(f, "cannot read the model file: {e}"),
            ModelError::Format(e) => write!(f, "not a valid Quell model file (safetensors): {e}"),
            ModelError::MissingMetadata(k) => {
                write!(f, "model file has no '{k}' metadata (not a Quell model?)")
            }
            ModelError::FormatVersion { found } => {
                write!(f, "model file format version {found} is not supported (this build reads {FORMAT_VERSION})")
            }
            ModelError::Topology { found } => {
                write!(
                    f,
                    "model is for network '{found}', this build runs '{TOPOLOGY}'"
                )
            }
            ModelError::FeatureLayout { found } => {
                write!(f, "model was trained on features '{found}', this build computes '{FEATURE_LAYOUT}'")
            }
            ModelError::MissingTensor(n) => write!(f, "model file lacks tensor '{n}'"),
            ModelError::UnexpectedTensor(n) => {
                write!(f, "model file has an unexpected tensor '{n}'")
            }
            ModelError::Shape {
                name,
                expected,
                found,
            } => {
                write!(
                    f,
                    "tensor '{name}' has shape {found:?}, expected {expected:?}"
                )
            }
            ModelError::DType { name, found } => {
                write!(f, "tensor '{name}' is {found}, expected f32")
            }
            ModelError::NonFinite { name } => {
                write!(f, "tensor '{name}' contains NaN or infinite values")
            }
        }
    }
}

impl std::error::Error for ModelError {}

/// Descriptive metadata of a model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelMetadata {
    /// Free text: what the model was trained on, how long, with which figures.
    pub training: String,
}

/// The f32 weights of the network, validated against [`TENSORS`]. Loading and building allocate; use them off
/// the audio thread, then build a [`super::NeuralMask`] from them.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelWeights {
    /// One row-major vector per entry of [`TENSORS`], in that order.
    tensors: Vec<Vec<f32>>,
    /// Metadata.
    pub metadata: ModelMetadata,
}

const KEY_VERSION: &str = "quell.format_version";
const KEY_TOPOLOGY: &str = "quell.topology";
const KEY_FEATURES: &str = "quell.feature_layout";
const KEY_TRAINING: &str = "quell.training";

impl ModelWeights {
    /// Builds weights from one vector per tensor (in [`TENSORS`] order), validating lengths and values.
    pub fn from_vectors(
        tensors: Vec<Vec<f32>>,
        metadata: ModelMetadata,
    ) -> Result<Self, ModelError> {
        if tensors.len() != TENSORS.len() {
            return Err(ModelError::MissingTensor(
                TENSORS[tensors.len().min(TENSORS.len() - 1)].name,
            ));
        }
        for (spec, v) in TENSORS.iter().zip(&tensors) {
            if v.len() != spec.values() {
                return Err(ModelError::Shape {
                    name: spec.name,
                    expected: spec.shape(),
                    found: vec![v.len()],
                });
            }
            if v.iter().any(|x| !x.is_finite()) {
                return Err(ModelError::NonFinite { name: spec.name });
            }
        }
        Ok(ModelWeights { tensors, metadata })
    }

    /// Seeded random weights (uniform, Glorot-scaled; biases zero). For tests and as the trainer's starting
    /// point, never shipped as a model.
    pub fn seeded_random(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let tensors = TENSORS
            .iter()
            .map(|spec| {
                if spec.is_bias() {
                    vec![0.0; spec.values()]
                } else {
                    let limit = (6.0 / (spec.rows + spec.cols) as f64).sqrt();
                    (0..spec.values())
                        .map(|_| ((rng.uniform() * 2.0 - 1.0) * limit) as f32)
                        .collect()
                }
            })
            .collect();
        ModelWeights {
            tensors,
            metadata: ModelMetadata {
                training: format!("seeded random weights (seed {seed})"),
            },
        }
    }

    /// The values of tensor `spec` (row-major).
    pub fn tensor(&self, spec: &TensorSpec) -> &[f32] {
        &self.tensors[index_of(spec.name).expect("spec comes from TENSORS")]
    }

    /// The values of the tensor called `name`, if the network has one.
    pub fn get(&self, name: &str) -> Option<&[f32]> {
        index_of(name).map(|i| self.tensors[i].as_slice())
    }

    /// Loads and validates a weights file from memory (for example `include_bytes!`). A file of
    /// [`GRU3_TOPOLOGY`], [`CONV3_TOPOLOGY`] or [`LEGACY_TOPOLOGY`] is converted to [`TOPOLOGY`] (same outputs,
    /// see the module notes). Allocates.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let (_, header) = safetensors::SafeTensors::read_metadata(bytes)
            .map_err(|e| ModelError::Format(e.to_string()))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let get = |k: &'static str| meta.get(k).cloned().ok_or(ModelError::MissingMetadata(k));
        let version = get(KEY_VERSION)?;
        if version != FORMAT_VERSION {
            return Err(ModelError::FormatVersion { found: version });
        }
        let topology = get(KEY_TOPOLOGY)?;
        let legacy = topology == LEGACY_TOPOLOGY;
        // Units of the second denoise GRU in the file, where fewer than this build's: none in the two oldest
        // topologies, GRU3_DENOISE2_HIDDEN in the one shipped on 2026-12-07.
        let narrow = if legacy || topology == CONV3_TOPOLOGY {
            Some(0)
        } else if topology == GRU3_TOPOLOGY {
            Some(GRU3_DENOISE2_HIDDEN)
        } else if topology == TOPOLOGY {
            None
        } else {
            return Err(ModelError::Topology { found: topology });
        };
        // Where an older file differs: its input layer's name and shape (legacy), the second denoise GRU's width
        // and so the gain layer's. `None`: not in the file, filled with zeros.
        let stored = |spec: &TensorSpec| -> Option<TensorSpec> {
            match (legacy, narrow, spec.name) {
                (true, _, "input_conv.weight") => Some(TensorSpec {
                    name: "input_dense.weight",
                    rows: DENSE,
                    cols: INPUTS,
                }),
                (true, _, "input_conv.bias") => Some(TensorSpec {
                    name: "input_dense.bias",
                    rows: DENSE,
                    cols: 1,
                }),
                (_, Some(units), "denoise_output.weight") => Some(TensorSpec {
                    cols: DENOISE_HIDDEN + units,
                    ..*spec
                }),
                (_, Some(0), name) if name.starts_with("denoise2_gru.") => None,
                (_, Some(units), name) if name.starts_with("denoise2_gru.") => Some(TensorSpec {
                    rows: 3 * units,
                    cols: if name.ends_with("weight_hh") {
                        units
                    } else {
                        spec.cols
                    },
                    ..*spec
                }),
                _ => Some(*spec),
            }
        };
        let features = get(KEY_FEATURES)?;
        if features != FEATURE_LAYOUT {
            return Err(ModelError::FeatureLayout { found: features });
        }
        let training = meta.get(KEY_TRAINING).cloned().unwrap_or_default();

        let loaded = safetensors::SafeTensors::deserialize(bytes)
            .map_err(|e| ModelError::Format(e.to_string()))?;
        let mut names = loaded.names();
        names.sort();
        if let Some(extra) = names.iter().find(|n| {
            !TENSORS
                .iter()
                .filter_map(stored)
                .any(|spec| spec.name == **n)
        }) {
            return Err(ModelError::UnexpectedTensor((*extra).to_string()));
        }
        let mut tensors = Vec::with_capacity(TENSORS.len());
        for wanted in &TENSORS {
            let Some(spec) = stored(wanted) else {
                tensors.push(vec![0.0; wanted.values()]);
                continue;
            };
            let spec = &spec;
            let t = loaded
                .tensor(spec.name)
                .map_err(|_| ModelError::MissingTensor(spec.name))?;
            if t.shape() != spec.shape().as_slice() {
                return Err(ModelError::Shape {
                    name: spec.name,
                    expected: spec.shape(),
                    found: t.shape().to_vec(),
                });
            }
            if t.dtype() != safetensors::Dtype::F32 {
                return Err(ModelError::DType {
                    name: spec.name,
                    found: format!("{:?}", t.dtype()),
                });
            }
            // Little-endian f32, as the format defines; the data need not be aligned.
            let v: Vec<f32> = t
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            tensors.push(v);
        }
        if legacy {
            // The dense layer on frame t becomes the convolution's last block of columns.
            let i = index_of("input_conv.weight").expect("in TENSORS");
            let dense = std::mem::take(&mut tensors[i]);
            let mut conv = vec![0.0; DENSE * CONTEXT * INPUTS];
            for (row, w) in conv
                .chunks_exact_mut(CONTEXT * INPUTS)
                .zip(dense.chunks_exact(INPUTS))
            {
                row[(CONTEXT - 1) * INPUTS..].copy_from_slice(w);
            }
            tensors[i] = conv;
        }
        if let Some(units) = narrow {
            // The gain layer reads the second denoise GRU's missing units through zero columns, and those units
            // get zero rows (gates at one half, candidate zero), so they stay at zero and change nothing.
            for spec in &TENSORS {
                let i = index_of(spec.name).expect("in TENSORS");
                if spec.name == "denoise_output.weight" {
                    tensors[i] = widen(&tensors[i], 1, OUTPUTS, DENOISE_HIDDEN + units, spec);
                } else if units > 0 && spec.name.starts_with("denoise2_gru.") {
                    let cols = if spec.name.ends_with("weight_hh") {
                        units
                    } else {
                        spec.cols
                    };
                    tensors[i] = widen(&tensors[i], 3, units, cols, spec);
                }
            }
        }
        Self::from_vectors(tensors, ModelMetadata { training })
    }

    /// Loads and validates a weights file from disk. Allocates.
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let bytes =
            std::fs::read(path).map_err(|e| ModelError::Io(format!("{}: {e}", path.display())))?;
        Self::from_bytes(&bytes)
    }

    /// Serialises to the weights file format. Allocates.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        let raw: Vec<Vec<u8>> = self
            .tensors
            .iter()
            .map(|v| v.iter().flat_map(|x| x.to_le_bytes()).collect())
            .collect();
        let mut views = Vec::with_capacity(TENSORS.len());
        for (spec, bytes) in TENSORS.iter().zip(&raw) {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, spec.shape(), bytes)
                    .map_err(|e| ModelError::Format(e.to_string()))?;
            views.push((spec.name, view));
        }
        let meta: HashMap<String, String> = [
            (KEY_VERSION, FORMAT_VERSION.to_string()),
            (KEY_TOPOLOGY, TOPOLOGY.to_string()),
            (KEY_FEATURES, FEATURE_LAYOUT.to_string()),
            (KEY_TRAINING, self.metadata.training.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        safetensors::tensor::serialize(views, Some(meta))
            .map_err(|e| ModelError::Format(e.to_string()))
    }

    /// Writes the weights file to `path`. Allocates, does I/O.
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let bytes = self.to_bytes()?;
        std::fs::write(path, bytes).map_err(|e| ModelError::Io(format!("{}: {e}", path.display())))
    }
}
