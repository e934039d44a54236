//! The dry path: a fixed multichannel delay line, so that dry and processed audio stay sample-aligned.
//!
//! The engine's output is its input delayed by exactly [`quell_dsp::Engine::latency_samples`]. Anything that
//! mixes the unprocessed signal back in (the dry/wet mix, the bypass crossfade) must delay it by the same amount,
//! or the sum comb-filters and the host's delay compensation is wrong.

/// A delay of a fixed number of samples for a fixed number of channels. Built (and allocated) once in
/// `activate`; [`DelayLine::process`] never allocates.
#[derive(Debug, Clone)]
pub struct DelayLine {
    /// One ring buffer per channel, each `delay` samples long.
    rings: Vec<Vec<f32>>,
    /// Next read/write position in every ring (they move together).
    pos: usize,
    delay: usize,
}

impl DelayLine {
    /// A delay of `delay` samples for `channels` channels, initially silent. Allocates.
    pub fn new(channels: usize, delay: usize) -> Self {
        DelayLine {
            rings: vec![vec![0.0; delay]; channels],
            pos: 0,
            delay,
        }
    }

    /// The delay, samples.
    pub fn delay(&self) -> usize {
        self.delay
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.rings.len()
    }

    /// Clears the history to silence. Does not allocate.
    pub fn reset(&mut self) {
        for ring in &mut self.rings {
            ring.fill(0.0);
        }
        self.pos = 0;
    }

    /// Replaces every sample of `audio` (one slice per channel, all of equal length) by the sample `delay`
    /// samples earlier. Channels beyond [`DelayLine::channels`] are left untouched; every channel present must
    /// have the same length. Does not allocate.
    pub fn process(&mut self, audio: &mut [&mut [f32]]) {
        if self.delay == 0 {
            return;
        }
        let len = audio.iter().map(|c| c.len()).min().unwrap_or(0);
        let start = self.pos;
        for (ring, io) in self.rings.iter_mut().zip(audio.iter_mut()) {
            let mut pos = start;
            for x in io[..len].iter_mut() {
                std::mem::swap(x, &mut ring[pos]);
                pos += 1;
                if pos == ring.len() {
                    pos = 0;
                }
            }
        }
        self.pos = (start + len) % self.delay;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_by_exactly_the_given_amount_for_any_block_sizes() {
        let input: Vec<f32> = (1..=500).map(|i| i as f32).collect();
        for delay in [0, 1, 7, 96] {
            let mut line = DelayLine::new(2, delay);
            let (mut l, mut r) = (input.clone(), input.clone());
            let mut pos = 0;
            for (i, size) in [1usize, 7, 13, 200, 3, 500].iter().cycle().enumerate() {
                if pos >= input.len() || i > 100 {
                    break;
                }
                let end = (pos + size).min(input.len());
                line.process(&mut [&mut l[pos..end], &mut r[pos..end]]);
                pos = end;
            }
            for i in 0..input.len() {
                let want = if i < delay { 0.0 } else { input[i - delay] };
                assert_eq!(l[i], want, "delay {delay} sample {i}");
                assert_eq!(r[i], want);
            }
        }
    }
}
