//! The neural runtime on the audio thread: no allocation, no thread, state reset. One test in this binary so
//! that the thread count is not disturbed by other tests.

mod common;
use common::alloc::allocations_during;
use common::*;
use quell_dsp::neural::topology::{INPUTS, OUTPUTS};
use quell_dsp::neural::{ModelWeights, NeuralMask, NeuralState};
use quell_dsp::synth::{self, Rng, Voice};
use quell_dsp::MaskMode;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn neural_steps_and_engine_frames_allocate_nothing_and_spawn_no_thread() {
    let weights = ModelWeights::seeded_random(7);
    let mask = NeuralMask::new(&weights);
    let mut state = NeuralState::new();
    let mut rng = Rng::new(1);
    let frames: Vec<[f32; INPUTS]> = (0..64)
        .map(|_| std::array::from_fn(|_| (rng.gaussian() * 2.0) as f32))
        .collect();
    let threads_before = threads();
    let mut gains = [0.0; OUTPUTS];
    let mut first = [0.0; OUTPUTS];
    let count = allocations_during(|| {
        for i in 0..10_000 {
            mask.step(&mut state, &frames[i % frames.len()], &mut gains);
            if i == 0 {
                first = gains;
            }
        }
    });
    assert_eq!(count, 0, "{count} allocations in 10,000 steps");
    assert_eq!(threads(), threads_before, "a thread was created");
    // reset() returns the network to its initial state.
    state.reset();
    mask.step(&mut state, &frames[0], &mut gains);
    assert_eq!(gains, first);

    // The whole engine in neural mode, with the VAD gate on, over awkward block sizes.
    for rate in [44_100.0, 48_000.0] {
        for channels in [1usize, 2] {
            let mut e = engine(rate, channels, MaskMode::Neural);
            assert!(e.set_model(Some(mask.clone())).is_none());
            e.set_vad_gate(quell_dsp::VadGate {
                enabled: true,
                threshold: 0.6,
                hold_ms: 100.0,
            });
            let len = rate as usize;
            let v = synth::voice(rate, 1.0, &Voice::default());
            let n = synth::white(&mut rng, len, -30.0);
            let mut bufs: Vec<Vec<f32>> = (0..channels)
                .map(|_| v.iter().zip(&n).map(|(a, b)| a + b).collect())
                .collect();
            let count = allocations_during(|| {
                let mut pos = 0;
                for step in [1usize, 7, 480, 4096, 333].iter().cycle() {
                    if pos >= len {
                        break;
                    }
                    let step = (*step).min(len - pos);
                    let mut slices: [&mut [f32]; 2] = Default::default();
                    for (s, b) in slices.iter_mut().zip(bufs.iter_mut()) {
                        *s = &mut b[pos..pos + step];
                    }
                    e.process(&mut slices[..channels]);
                    pos += step;
                }
            });
            assert_eq!(
                count, 0,
                "engine, rate {rate}, {channels} channels: {count} allocations"
            );
            assert_eq!(e.effective_mode(), MaskMode::Neural);
            assert!(bufs.iter().flatten().all(|x| x.is_finite()));
        }
    }
    assert_eq!(threads(), threads_before, "a thread was created");
}
