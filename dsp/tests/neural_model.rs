//! The weights file: round trips, and every kind of bad file gives a clear, typed error (never a panic).

use quell_dsp::neural::topology::{
    CONTEXT, CONV3_TOPOLOGY, DENOISE2_HIDDEN, DENOISE_HIDDEN, DENSE, FEATURE_LAYOUT,
    FORMAT_VERSION, GRU3_DENOISE2_HIDDEN, GRU3_TOPOLOGY, INPUTS, LEGACY_TOPOLOGY, OUTPUTS,
    OUTPUT_INPUTS, TENSORS, TOPOLOGY,
};
use quell_dsp::neural::{ModelError, ModelWeights};
use std::collections::HashMap;

/// Writes a safetensors file by hand: `tensors` as (name, shape, values), with `meta`.
fn handmade(tensors: &[(&str, Vec<usize>, Vec<f32>)], meta: &[(&str, &str)]) -> Vec<u8> {
    let raw: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views: Vec<(&str, safetensors::tensor::TensorView)> = tensors
        .iter()
        .zip(&raw)
        .map(|((n, s, _), b)| {
            (
                *n,
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                    .unwrap(),
            )
        })
        .collect();
    let meta: HashMap<String, String> = meta
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    safetensors::tensor::serialize(views, Some(meta)).unwrap()
}

fn good_meta() -> Vec<(&'static str, &'static str)> {
    vec![
        ("quell.format_version", FORMAT_VERSION),
        ("quell.topology", TOPOLOGY),
        ("quell.feature_layout", FEATURE_LAYOUT),
        ("quell.training", "test"),
    ]
}

fn good_tensors() -> Vec<(&'static str, Vec<usize>, Vec<f32>)> {
    let w = ModelWeights::seeded_random(3);
    TENSORS
        .iter()
        .map(|s| (s.name, s.shape(), w.tensor(s).to_vec()))
        .collect()
}

#[test]
fn weights_round_trip_through_the_file_format() {
    let w = ModelWeights::seeded_random(1);
    let bytes = w.to_bytes().unwrap();
    let back = ModelWeights::from_bytes(&bytes).unwrap();
    assert_eq!(back, w);
    let dir = std::env::temp_dir().join(format!("quell-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.safetensors");
    w.save(&path).unwrap();
    assert_eq!(ModelWeights::from_file(&path).unwrap(), w);
    std::fs::remove_dir_all(dir).ok();
    assert_eq!(quell_dsp::neural::topology::parameter_count(), 534_695);
}

#[test]
fn a_handmade_file_with_the_right_contents_loads() {
    assert!(ModelWeights::from_bytes(&handmade(&good_tensors(), &good_meta())).is_ok());
}

#[test]
fn damaged_and_truncated_files_are_refused() {
    let bytes = ModelWeights::seeded_random(1).to_bytes().unwrap();
    for cut in [0, 4, 8, 100, bytes.len() / 2, bytes.len() - 1] {
        let e = ModelWeights::from_bytes(&bytes[..cut]).unwrap_err();
        assert!(matches!(e, ModelError::Format(_)), "cut at {cut}: {e}");
    }
    let mut garbage = bytes.clone();
    garbage[3] ^= 0x5a;
    garbage[10] = b'{';
    assert!(ModelWeights::from_bytes(&garbage).is_err());
    assert!(matches!(
        ModelWeights::from_bytes(b"RIFF....WAVEfmt ").unwrap_err(),
        ModelError::Format(_)
    ));
    let e = ModelWeights::from_file(std::path::Path::new("/nonexistent/model.safetensors"))
        .unwrap_err();
    assert!(
        matches!(e, ModelError::Io(_)) && e.to_string().contains("/nonexistent/model.safetensors"),
        "{e}"
    );
}

#[test]
fn wrong_metadata_is_named() {
    let t = good_tensors();
    let mut meta = good_meta();
    meta[0].1 = "99";
    assert_eq!(
        ModelWeights::from_bytes(&handmade(&t, &meta)).unwrap_err(),
        ModelError::FormatVersion { found: "99".into() }
    );
    let mut meta = good_meta();
    meta[1].1 = "rnnoise-v1/42-24-24-48-128-22";
    assert!(matches!(
        ModelWeights::from_bytes(&handmade(&t, &meta)).unwrap_err(),
        ModelError::Topology { .. }
    ));
    let mut meta = good_meta();
    meta[2].1 = "rnnoise-int16";
    assert!(matches!(
        ModelWeights::from_bytes(&handmade(&t, &meta)).unwrap_err(),
        ModelError::FeatureLayout { .. }
    ));
    let meta = &good_meta()[1..];
    assert_eq!(
        ModelWeights::from_bytes(&handmade(&t, meta)).unwrap_err(),
        ModelError::MissingMetadata("quell.format_version")
    );
}

#[test]
fn wrong_tensors_are_named() {
    let mut t = good_tensors();
    t.remove(5);
    let e = ModelWeights::from_bytes(&handmade(&t, &good_meta())).unwrap_err();
    assert_eq!(e, ModelError::MissingTensor("vad_gru.bias_hh"));
    assert!(e.to_string().contains("vad_gru.bias_hh"));

    let mut t = good_tensors();
    t.push(("extra.weight", vec![2, 2], vec![0.0; 4]));
    assert_eq!(
        ModelWeights::from_bytes(&handmade(&t, &good_meta())).unwrap_err(),
        ModelError::UnexpectedTensor("extra.weight".into())
    );

    let mut t = good_tensors();
    t[0] = ("input_conv.weight", vec![126, 24], vec![0.0; 126 * 24]);
    let e = ModelWeights::from_bytes(&handmade(&t, &good_meta())).unwrap_err();
    assert!(
        matches!(
            e,
            ModelError::Shape {
                name: "input_conv.weight",
                ..
            }
        ),
        "{e}"
    );

    // A legacy file's dense layer under the new name, or the new layer in a legacy file: both refused.
    let mut t = good_tensors();
    t[0] = (
        "input_dense.weight",
        vec![DENSE, INPUTS],
        vec![0.0; DENSE * INPUTS],
    );
    assert_eq!(
        ModelWeights::from_bytes(&handmade(&t, &good_meta())).unwrap_err(),
        ModelError::UnexpectedTensor("input_dense.weight".into())
    );
    // A current file labelled with an older topology: the second denoise GRU is not expected there.
    for older in [LEGACY_TOPOLOGY, CONV3_TOPOLOGY] {
        let mut meta = good_meta();
        meta[1].1 = older;
        assert_eq!(
            ModelWeights::from_bytes(&handmade(&good_tensors(), &meta)).unwrap_err(),
            ModelError::UnexpectedTensor("denoise2_gru.bias_hh".into()),
            "{older}"
        );
    }
    // A current file labelled as the narrower three-GRU topology: the second denoise GRU is too wide for it.
    let mut meta = good_meta();
    meta[1].1 = GRU3_TOPOLOGY;
    assert!(matches!(
        ModelWeights::from_bytes(&handmade(&good_tensors(), &meta)).unwrap_err(),
        ModelError::Shape {
            name: "denoise2_gru.weight_ih",
            ..
        }
    ));
    // An older file with the current topology's label: the second denoise GRU is missing.
    let older: Vec<_> = good_tensors()
        .into_iter()
        .filter(|t| !t.0.starts_with("denoise2_gru."))
        .collect();
    assert_eq!(
        ModelWeights::from_bytes(&handmade(&older, &good_meta())).unwrap_err(),
        ModelError::MissingTensor("denoise2_gru.weight_ih")
    );

    let mut t = good_tensors();
    t[7].2[3] = f32::NAN;
    assert_eq!(
        ModelWeights::from_bytes(&handmade(&t, &good_meta())).unwrap_err(),
        ModelError::NonFinite {
            name: TENSORS[7].name
        }
    );
}

/// A file of an older topology, made from `w`: without the second denoise GRU, the gain layer reading the
/// denoise GRU alone, and (`legacy`) a dense layer on the current frame in place of the convolution.
fn older_file(w: &ModelWeights, legacy: bool) -> Vec<(&'static str, Vec<usize>, Vec<f32>)> {
    let mut t: Vec<_> = good_tensors_of(w)
        .into_iter()
        .filter(|t| !t.0.starts_with("denoise2_gru."))
        .collect();
    for (name, shape, values) in &mut t {
        if *name == "denoise_output.weight" {
            *shape = vec![OUTPUTS, DENOISE_HIDDEN];
            *values = values
                .chunks_exact(OUTPUT_INPUTS)
                .flat_map(|row| row[..DENOISE_HIDDEN].to_vec())
                .collect();
        }
    }
    if legacy {
        let dense: Vec<f32> = w
            .get("input_conv.weight")
            .unwrap()
            .chunks_exact(CONTEXT * INPUTS)
            .flat_map(|row| row[(CONTEXT - 1) * INPUTS..].to_vec())
            .collect();
        t[0] = ("input_dense.weight", vec![DENSE, INPUTS], dense);
        t[1].0 = "input_dense.bias";
    }
    t
}

/// Files of the topologies shipped until 2026-12-04 (a dense layer on the current frame, no second denoise GRU)
/// and until 2026-12-07 (no second denoise GRU) load as the same network: the dense layer in the convolution's
/// columns for the current frame and zeros for the older frames; the second denoise GRU all zeros and read
/// through zero columns of the gain layer, so that its state changes no gain.
#[test]
fn older_files_load_as_the_same_network() {
    let w = ModelWeights::seeded_random(4);
    for (topology, legacy) in [(LEGACY_TOPOLOGY, true), (CONV3_TOPOLOGY, false)] {
        let mut meta = good_meta();
        meta[1].1 = topology;
        let loaded = ModelWeights::from_bytes(&handmade(&older_file(&w, legacy), &meta)).unwrap();
        let conv = loaded.get("input_conv.weight").unwrap();
        for (r, row) in conv.chunks_exact(CONTEXT * INPUTS).enumerate() {
            let current =
                &w.get("input_conv.weight").unwrap()[r * CONTEXT * INPUTS..][..CONTEXT * INPUTS];
            if legacy {
                assert!(row[..(CONTEXT - 1) * INPUTS].iter().all(|v| *v == 0.0));
                assert_eq!(
                    &row[(CONTEXT - 1) * INPUTS..],
                    &current[(CONTEXT - 1) * INPUTS..]
                );
            } else {
                assert_eq!(row, current);
            }
        }
        for (row, original) in loaded
            .get("denoise_output.weight")
            .unwrap()
            .chunks_exact(OUTPUT_INPUTS)
            .zip(
                w.get("denoise_output.weight")
                    .unwrap()
                    .chunks_exact(OUTPUT_INPUTS),
            )
        {
            assert_eq!(&row[..DENOISE_HIDDEN], &original[..DENOISE_HIDDEN]);
            assert!(
                row[DENOISE_HIDDEN..].iter().all(|v| *v == 0.0),
                "{topology}"
            );
        }
        for spec in TENSORS.iter().skip(1) {
            if spec.name.starts_with("denoise2_gru.") {
                assert!(
                    loaded.tensor(spec).iter().all(|v| *v == 0.0),
                    "{}",
                    spec.name
                );
            } else if spec.name != "denoise_output.weight" {
                assert_eq!(
                    loaded.tensor(spec),
                    w.tensor(spec),
                    "{topology}: {}",
                    spec.name
                );
            }
        }
        // Saved again, it is a file of the current topology.
        let again = ModelWeights::from_bytes(&loaded.to_bytes().unwrap()).unwrap();
        assert_eq!(again, loaded);
    }
}

/// Keeps the first `units` of each gate block's rows (and, with `cols`, the first `cols` columns) of a
/// row-major matrix of `3 * DENOISE2_HIDDEN` rows.
fn narrow_gates(values: &[f32], units: usize, cols: usize, keep_cols: usize) -> Vec<f32> {
    values
        .chunks_exact(cols)
        .enumerate()
        .filter(|(r, _)| r % DENOISE2_HIDDEN < units)
        .flat_map(|(_, row)| row[..keep_cols].to_vec())
        .collect()
}

/// Files of the topology shipped on 2026-12-07 (a second denoise GRU of `GRU3_DENOISE2_HIDDEN` units) load with
/// those units in place, the missing units' rows zero, the old units' recurrent columns for them zero and the gain
/// layer's columns for them zero: the missing units stay at zero and the network computes what the file's did.
#[test]
fn files_with_a_narrower_second_denoise_gru_load_as_the_same_network() {
    let w = ModelWeights::seeded_random(5);
    let n = GRU3_DENOISE2_HIDDEN;
    let file: Vec<_> = good_tensors_of(&w)
        .into_iter()
        .map(|(name, shape, values)| match name {
            "denoise2_gru.weight_hh" => (
                name,
                vec![3 * n, n],
                narrow_gates(&values, n, DENOISE2_HIDDEN, n),
            ),
            "denoise_output.weight" => (
                name,
                vec![OUTPUTS, DENOISE_HIDDEN + n],
                values
                    .chunks_exact(OUTPUT_INPUTS)
                    .flat_map(|row| row[..DENOISE_HIDDEN + n].to_vec())
                    .collect(),
            ),
            _ if name.starts_with("denoise2_gru.") => {
                let cols = shape.get(1).copied().unwrap_or(1);
                let mut shape = shape;
                shape[0] = 3 * n;
                (name, shape, narrow_gates(&values, n, cols, cols))
            }
            _ => (name, shape, values),
        })
        .collect();
    let mut meta = good_meta();
    meta[1].1 = GRU3_TOPOLOGY;
    let loaded = ModelWeights::from_bytes(&handmade(&file, &meta)).unwrap();
    for spec in &TENSORS {
        let (got, want) = (loaded.tensor(spec), w.tensor(spec));
        for (r, (g, o)) in got
            .chunks_exact(spec.cols)
            .zip(want.chunks_exact(spec.cols))
            .enumerate()
        {
            // Which columns and rows came from the file.
            let (kept_cols, kept_row) = match spec.name {
                "denoise_output.weight" => (DENOISE_HIDDEN + n, true),
                "denoise2_gru.weight_hh" => (n, r % DENOISE2_HIDDEN < n),
                name if name.starts_with("denoise2_gru.") => (spec.cols, r % DENOISE2_HIDDEN < n),
                _ => (spec.cols, true),
            };
            if kept_row {
                assert_eq!(&g[..kept_cols], &o[..kept_cols], "{} row {r}", spec.name);
                assert!(
                    g[kept_cols..].iter().all(|v| *v == 0.0),
                    "{} row {r}",
                    spec.name
                );
            } else {
                assert!(g.iter().all(|v| *v == 0.0), "{} row {r}", spec.name);
            }
        }
    }
    // Saved again, it is a file of the current topology.
    let again = ModelWeights::from_bytes(&loaded.to_bytes().unwrap()).unwrap();
    assert_eq!(again, loaded);
}

fn good_tensors_of(w: &ModelWeights) -> Vec<(&'static str, Vec<usize>, Vec<f32>)> {
    TENSORS
        .iter()
        .map(|s| (s.name, s.shape(), w.tensor(s).to_vec()))
        .collect()
}
