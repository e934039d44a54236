//! The worst host callback at high rates and small buffers: all of a hop's work (analysis, network, synthesis)
//! lands in the one callback that completes the hop, so at 192 kHz with 32-sample buffers one callback in 60
//! carries a whole frame. This measures that callback against the buffer's own duration.
//!
//! `cargo bench -p quell-dsp --bench callbacks`
//!
//! Stereo, neural mode with the shipped model (a seeded random network of the same shape when the build has
//! none), voice in noise, 20 s per case, every callback timed. Printed per rate and buffer size: the buffer's
//! duration, the mean callback, the 99.9th percentile and worst callback, and the worst as a share of the
//! buffer. Not a criterion benchmark: what matters is the distribution of single calls, not a mean.

use quell_dsp::neural::{shipped_weights, ModelWeights, NeuralMask};
use quell_dsp::synth::{self, Rng, Voice};
use quell_dsp::{Engine, EngineConfig, MaskMode};
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let weights = match shipped_weights() {
        Some(Ok(w)) => w,
        _ => ModelWeights::seeded_random(1),
    };
    let mask = NeuralMask::new(&weights);
    println!("rate Hz  buffer  buffer µs  mean µs  p99.9 µs  worst µs  worst/buffer");
    for rate in [48_000.0f32, 96_000.0, 192_000.0] {
        let seconds = 20.0;
        let voice = synth::voice(rate, seconds, &Voice::default());
        let mut rng = Rng::new(3);
        let left: Vec<f32> = voice
            .iter()
            .zip(synth::pink(&mut rng, voice.len(), -35.0))
            .map(|(a, b)| a + b)
            .collect();
        let right: Vec<f32> = voice
            .iter()
            .zip(synth::pink(&mut rng, voice.len(), -35.0))
            .map(|(a, b)| a + b)
            .collect();
        for buffer in [32usize, 64, 512] {
            let mut engine = Engine::new(EngineConfig {
                sample_rate: rate,
                channels: 2,
            })
            .expect("engine");
            engine.set_model(Some(mask.clone()));
            engine.set_mode(MaskMode::Neural);
            let (mut l, mut r) = (vec![0.0f32; buffer], vec![0.0f32; buffer]);
            let mut times = Vec::with_capacity(left.len() / buffer);
            for (a, b) in left.chunks_exact(buffer).zip(right.chunks_exact(buffer)) {
                l.copy_from_slice(a);
                r.copy_from_slice(b);
                let t = Instant::now();
                engine.process(black_box(&mut [&mut l[..], &mut r[..]]));
                times.push(t.elapsed().as_secs_f64() * 1e6);
            }
            let mean = times.iter().sum::<f64>() / times.len() as f64;
            times.sort_by(f64::total_cmp);
            let p999 = times[(times.len() as f64 * 0.999) as usize];
            let worst = times[times.len() - 1];
            let duration = buffer as f64 / f64::from(rate) * 1e6;
            println!(
                "{rate:>7} {buffer:>7} {duration:>10.1} {mean:>8.2} {p999:>9.1} {worst:>9.1} {:>12.2}",
                worst / duration
            );
        }
    }
}
