//! Streaming output: WAV (switching to RF64 past 4 GiB, or a streaming header on a pipe) and FLAC (flacenc,
//! one frame at a time), with clipping counts and seeded TPDF dither for short integer words.

use anyhow::{bail, Context, Result};
use flacenc::component::{BitRepr, StreamInfo};
use flacenc::error::Verify;
use flacenc::source::{Fill, FrameBuf};
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

/// The output container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// WAV (RF64 past 4 GiB).
    Wav,
    /// FLAC.
    Flac,
}

/// The output sample format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutSample {
    /// Integer PCM of 8, 16, 24 or 32 bits (FLAC: 8 to 24).
    Int(u32),
    /// 32-bit IEEE float (WAV only; never clips).
    Float32,
}

/// Everything that decides the output's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputFormat {
    /// WAV or FLAC.
    pub container: Container,
    /// Sample format.
    pub sample: OutSample,
    /// Add TPDF dither before rounding (integer output only).
    pub dither: bool,
}

impl OutputFormat {
    /// A description for messages, e.g. "FLAC 24-bit".
    pub fn describe(&self) -> String {
        let c = match self.container {
            Container::Wav => "WAV",
            Container::Flac => "FLAC",
        };
        match self.sample {
            OutSample::Int(b) => {
                format!("{c} {b}-bit{}", if self.dither { " dithered" } else { "" })
            }
            OutSample::Float32 => format!("{c} 32-bit float"),
        }
    }
}

/// Where an output goes.
pub enum Target {
    /// A new file at this path (created or truncated).
    File(std::path::PathBuf),
    /// Standard output (WAV only).
    Stdout,
}

/// Counters every sink keeps.
#[derive(Debug, Default, Clone, Copy)]
pub struct SinkStats {
    /// Samples limited to full scale (integer output only).
    pub clipped: u64,
    /// Largest absolute sample value seen, linear.
    pub peak: f32,
}

/// A streaming writer of interleaved samples (linear, full scale ±1).
pub trait Sink: Send {
    /// Appends whole frames. May allocate to grow internal buffers.
    fn write(&mut self, interleaved: &[f32]) -> Result<()>;
    /// The counters so far.
    fn stats(&self) -> SinkStats;
    /// Completes the file (sizes, RF64 conversion, FLAC stream info) and syncs it to disk.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// Creates a sink for `channels` at `sample_rate` Hz. `metadata` (WAV chunks) is written to WAV outputs only.
/// Allocates.
pub fn create(
    target: &Target,
    format: OutputFormat,
    sample_rate: u32,
    channels: usize,
    metadata: &[([u8; 4], Vec<u8>)],
    seed: u64,
) -> Result<Box<dyn Sink>> {
    let quantizer = Quantizer::new(format, seed);
    match (format.container, target) {
        (Container::Wav, _) => Ok(Box::new(WavSink::create(
            target,
            format,
            sample_rate,
            channels,
            metadata,
            quantizer,
        )?)),
        (Container::Flac, Target::File(path)) => Ok(Box::new(FlacSink::create(
            path,
            format,
            sample_rate,
            channels,
            quantizer,
        )?)),
        (Container::Flac, Target::Stdout) => bail!("standard output takes WAV only"),
    }
}

/// Scales, dithers, rounds and clips floats to integers, counting what it clips.
struct Quantizer {
    full: f64,
    dither: bool,
    state: u64,
    stats: SinkStats,
}

impl Quantizer {
    fn new(format: OutputFormat, seed: u64) -> Self {
        let bits = match format.sample {
            OutSample::Int(b) => b,
            OutSample::Float32 => 32,
        };
        Quantizer {
            full: (1u64 << (bits - 1)) as f64,
            dither: format.dither && matches!(format.sample, OutSample::Int(_)),
            state: seed ^ 0x9E37_79B9_7F4A_7C15,
            stats: SinkStats::default(),
        }
    }

    /// A uniform value in [-0.5, 0.5) (xorshift64*).
    fn uniform(&mut self) -> f64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let r = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (r >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    }

    fn peak(&mut self, x: f32) {
        self.stats.peak = self.stats.peak.max(x.abs());
    }

    fn int(&mut self, x: f32) -> i32 {
        self.peak(x);
        let mut v = f64::from(x) * self.full;
        if self.dither {
            v += self.uniform() + self.uniform();
        }
        let v = if v.is_finite() { v.round() } else { 0.0 };
        let (lo, hi) = (-self.full, self.full - 1.0);
        if v > hi || v < lo {
            self.stats.clipped += 1;
        }
        v.clamp(lo, hi) as i32
    }
}

/// The standard channel masks for 1 to 8 channels (0: no particular layout).
fn channel_mask(channels: usize) -> u32 {
    match channels {
        1 => 0x4,
        2 => 0x3,
        3 => 0x7,
        4 => 0x33,
        5 => 0x37,
        6 => 0x3F,
        7 => 0x13F,
        8 => 0x63F,
        _ => 0,
    }
}

/// A WAV writer. The header reserves a `JUNK` chunk the size of a `ds64` chunk; if the file passes 4 GiB it is
/// turned into RF64 at the end. On a pipe the sizes are written as 0xFFFFFFFF (unknown).
struct WavSink {
    out: BufWriter<File>,
    seekable: bool,
    is_file: bool,
    sample: OutSample,
    block_align: u64,
    riff_start: u64,
    data_size_at: u64,
    data_start: u64,
    data_bytes: u64,
    quantizer: Quantizer,
    bytes: Vec<u8>,
}

/// Bytes of a `ds64` chunk body without a table.
const DS64_BODY: u32 = 28;

impl WavSink {
    fn create(
        target: &Target,
        format: OutputFormat,
        sample_rate: u32,
        channels: usize,
        metadata: &[([u8; 4], Vec<u8>)],
        quantizer: Quantizer,
    ) -> Result<Self> {
        let (mut file, is_file) = match target {
            Target::File(path) => (
                File::create(path).context("cannot create the output file")?,
                true,
            ),
            Target::Stdout => {
                use std::os::fd::AsFd;
                let fd = std::io::stdout()
                    .as_fd()
                    .try_clone_to_owned()
                    .context("cannot use standard output")?;
                (File::from(fd), false)
            }
        };
        let seekable = crate::input::seekable(&mut file);
        let start = if seekable { file.stream_position()? } else { 0 };
        let (bits, tag): (u16, u16) = match format.sample {
            OutSample::Int(b) => (b as u16, 1),
            OutSample::Float32 => (32, 3),
        };
        let ch = u16::try_from(channels).context("too many channels for WAV")?;
        let block_align =
            u16::try_from(channels * usize::from(bits / 8)).context("too many channels for WAV")?;
        let extensible = channels > 2 || (tag == 1 && bits > 16);
        let mut h = Vec::new();
        h.extend(b"RIFF");
        h.extend(0xFFFF_FFFFu32.to_le_bytes());
        h.extend(b"WAVE");
        h.extend(b"JUNK");
        h.extend(DS64_BODY.to_le_bytes());
        h.extend([0u8; DS64_BODY as usize]);
        h.extend(b"fmt ");
        h.extend((if extensible { 40u32 } else { 18 }).to_le_bytes());
        h.extend((if extensible { 0xFFFEu16 } else { tag }).to_le_bytes());
        h.extend(ch.to_le_bytes());
        h.extend(sample_rate.to_le_bytes());
        h.extend((sample_rate * u32::from(block_align)).to_le_bytes());
        h.extend(block_align.to_le_bytes());
        h.extend(bits.to_le_bytes());
        if extensible {
            h.extend(22u16.to_le_bytes());
            h.extend(bits.to_le_bytes());
            h.extend(channel_mask(channels).to_le_bytes());
            h.extend(tag.to_le_bytes());
            h.extend([
                0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
            ]);
        } else {
            h.extend(0u16.to_le_bytes());
        }
        for (id, body) in metadata {
            let Ok(len) = u32::try_from(body.len()) else {
                continue;
            };
            h.extend(id);
            h.extend(len.to_le_bytes());
            h.extend(body);
            if body.len() % 2 == 1 {
                h.push(0);
            }
        }
        h.extend(b"data");
        let data_size_at = start + h.len() as u64;
        h.extend(0xFFFF_FFFFu32.to_le_bytes());
        let data_start = start + h.len() as u64;
        let mut out = BufWriter::with_capacity(1 << 16, file);
        out.write_all(&h).context("cannot write the output file")?;
        Ok(WavSink {
            out,
            seekable,
            is_file,
            sample: format.sample,
            block_align: u64::from(block_align),
            riff_start: start,
            data_size_at,
            data_start,
            data_bytes: 0,
            quantizer,
            bytes: Vec::new(),
        })
    }
}

impl Sink for WavSink {
    fn write(&mut self, interleaved: &[f32]) -> Result<()> {
        self.bytes.clear();
        match self.sample {
            OutSample::Float32 => {
                for &x in interleaved {
                    self.quantizer.peak(x);
                    self.bytes.extend(x.to_le_bytes());
                }
            }
            OutSample::Int(8) => {
                for &x in interleaved {
                    let v = self.quantizer.int(x);
                    self.bytes.push((v + 128) as u8);
                }
            }
            OutSample::Int(bits) => {
                let n = (bits / 8) as usize;
                for &x in interleaved {
                    let v = self.quantizer.int(x);
                    self.bytes.extend(&v.to_le_bytes()[..n]);
                }
            }
        }
        self.data_bytes += self.bytes.len() as u64;
        self.out
            .write_all(&self.bytes)
            .context("cannot write the output")
    }

    fn stats(&self) -> SinkStats {
        self.quantizer.stats
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        if self.data_bytes % 2 == 1 {
            self.out
                .write_all(&[0])
                .context("cannot write the output")?;
        }
        self.out.flush().context("cannot write the output")?;
        if self.seekable {
            let riff_start = self.riff_start;
            let riff_size =
                self.data_start - riff_start - 8 + self.data_bytes + self.data_bytes % 2;
            let file = self.out.get_mut();
            if riff_size <= u64::from(u32::MAX) {
                file.seek(SeekFrom::Start(riff_start + 4))?;
                file.write_all(&(riff_size as u32).to_le_bytes())?;
                file.seek(SeekFrom::Start(self.data_size_at))?;
                file.write_all(&(self.data_bytes as u32).to_le_bytes())?;
            } else {
                file.seek(SeekFrom::Start(riff_start))?;
                let mut h = Vec::new();
                h.extend(b"RF64");
                h.extend(0xFFFF_FFFFu32.to_le_bytes());
                h.extend(b"WAVE");
                h.extend(b"ds64");
                h.extend(DS64_BODY.to_le_bytes());
                h.extend(riff_size.to_le_bytes());
                h.extend(self.data_bytes.to_le_bytes());
                h.extend((self.data_bytes / self.block_align).to_le_bytes());
                h.extend(0u32.to_le_bytes());
                file.write_all(&h)?;
                // The data chunk's 32-bit size stays 0xFFFFFFFF, as RF64 asks.
            }
            file.seek(SeekFrom::End(0))?;
        }
        if self.is_file {
            self.out
                .get_mut()
                .sync_all()
                .context("cannot sync the output to disk")?;
        }
        Ok(())
    }
}

/// Frames per FLAC block.
const FLAC_BLOCK: usize = 4096;

/// A FLAC writer: encodes one block at a time and fills in the stream info at the end.
struct FlacSink {
    out: BufWriter<File>,
    config: flacenc::error::Verified<flacenc::config::Encoder>,
    info: StreamInfo,
    frame: FrameBuf,
    pending: Vec<i32>,
    channels: usize,
    frame_number: usize,
    min_frame: usize,
    max_frame: usize,
    quantizer: Quantizer,
}

impl FlacSink {
    fn create(
        path: &Path,
        format: OutputFormat,
        sample_rate: u32,
        channels: usize,
        quantizer: Quantizer,
    ) -> Result<Self> {
        let OutSample::Int(bits) = format.sample else {
            bail!("FLAC holds integer samples only: use --bits 16 or 24");
        };
        if !(8..=24).contains(&bits) {
            bail!("FLAC output holds 8 to 24 bits, not {bits}; use --bits 24 or --format wav");
        }
        if !(1..=8).contains(&channels) {
            bail!("FLAC holds 1 to 8 channels, not {channels}; use --format wav");
        }
        let config = flacenc::config::Encoder::default()
            .into_verified()
            .map_err(|e| anyhow::anyhow!("FLAC encoder set-up failed: {e:?}"))?;
        let info = StreamInfo::new(sample_rate as usize, channels, bits as usize).map_err(|e| {
            anyhow::anyhow!("FLAC cannot hold this stream ({sample_rate} Hz): {e:?}")
        })?;
        let frame = FrameBuf::with_size(channels, FLAC_BLOCK)
            .map_err(|e| anyhow::anyhow!("FLAC encoder set-up failed: {e:?}"))?;
        let file = File::create(path).context("cannot create the output file")?;
        let mut sink = FlacSink {
            out: BufWriter::with_capacity(1 << 16, file),
            config,
            info,
            frame,
            pending: Vec::with_capacity(FLAC_BLOCK * channels),
            channels,
            frame_number: 0,
            min_frame: usize::MAX,
            max_frame: 0,
            quantizer,
        };
        sink.out.write_all(b"fLaC")?;
        sink.out.write_all(&[0x80, 0, 0, 34])?;
        let body = sink.info_bytes()?;
        sink.out.write_all(&body)?;
        Ok(sink)
    }

    fn info_bytes(&self) -> Result<Vec<u8>> {
        let mut bits = flacenc::bitsink::ByteSink::new();
        self.info
            .write(&mut bits)
            .map_err(|e| anyhow::anyhow!("FLAC stream info: {e:?}"))?;
        Ok(bits.as_slice().to_vec())
    }

    fn encode_pending(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.frame
            .fill_interleaved(&self.pending)
            .map_err(|e| anyhow::anyhow!("FLAC encoder: {e:?}"))?;
        let frame = flacenc::encode_fixed_size_frame(
            &self.config,
            &self.frame,
            self.frame_number,
            &self.info,
        )
        .map_err(|e| anyhow::anyhow!("FLAC encoder: {e:?}"))?;
        let mut bits = flacenc::bitsink::ByteSink::new();
        frame
            .write(&mut bits)
            .map_err(|e| anyhow::anyhow!("FLAC encoder: {e:?}"))?;
        let bytes = bits.as_slice();
        self.min_frame = self.min_frame.min(bytes.len());
        self.max_frame = self.max_frame.max(bytes.len());
        self.out
            .write_all(bytes)
            .context("cannot write the output")?;
        self.info.update_frame_info(&frame);
        self.frame_number += 1;
        self.pending.clear();
        Ok(())
    }
}

impl Sink for FlacSink {
    fn write(&mut self, interleaved: &[f32]) -> Result<()> {
        for frame in interleaved.chunks_exact(self.channels) {
            for &x in frame {
                let v = self.quantizer.int(x);
                self.pending.push(v);
            }
            if self.pending.len() == FLAC_BLOCK * self.channels {
                self.encode_pending()?;
            }
        }
        Ok(())
    }

    fn stats(&self) -> SinkStats {
        self.quantizer.stats
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        self.encode_pending()?;
        self.info
            .set_block_sizes(FLAC_BLOCK, FLAC_BLOCK)
            .map_err(|e| anyhow::anyhow!("FLAC stream info: {e:?}"))?;
        if self.max_frame > 0 {
            self.info
                .set_frame_sizes(self.min_frame, self.max_frame)
                .map_err(|e| anyhow::anyhow!("FLAC stream info: {e:?}"))?;
        }
        let body = self.info_bytes()?;
        self.out.flush().context("cannot write the output")?;
        let file = self.out.get_mut();
        file.seek(SeekFrom::Start(8))?;
        file.write_all(&body).context("cannot write the output")?;
        file.sync_all().context("cannot sync the output to disk")?;
        Ok(())
    }
}
