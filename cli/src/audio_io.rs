//! Streaming audio file input (WAV, FLAC) and WAV output, so that files of any length are processed in
//! constant memory.

use anyhow::{bail, Context, Result};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read};
use std::path::Path;

/// What an input file holds.
#[derive(Debug, Clone)]
pub struct InputInfo {
    /// Sample rate, Hz.
    pub sample_rate: u32,
    /// Interleaved channels.
    pub channels: usize,
    /// Length in frames (samples per channel) when the header states it.
    pub frames: Option<u64>,
    /// Human-readable format, e.g. "WAV 24-bit integer".
    pub format: String,
}

/// A source of interleaved samples, linear, full scale ±1.
pub trait SampleSource {
    /// The stream's format.
    fn info(&self) -> &InputInfo;
    /// Replaces `out` with the next interleaved samples (any whole number of frames); an empty `out` means the
    /// end of the stream. Allocates only to grow `out`.
    fn next_chunk(&mut self, out: &mut Vec<f32>) -> Result<()>;
}

/// Frames read per chunk from WAV files.
const WAV_CHUNK_FRAMES: usize = 8192;

struct WavSource {
    reader: hound::WavReader<BufReader<File>>,
    info: InputInfo,
    float: bool,
    scale: f32,
}

impl SampleSource for WavSource {
    fn info(&self) -> &InputInfo {
        &self.info
    }

    fn next_chunk(&mut self, out: &mut Vec<f32>) -> Result<()> {
        out.clear();
        let n = WAV_CHUNK_FRAMES * self.info.channels;
        if self.float {
            for s in self.reader.samples::<f32>().take(n) {
                out.push(s.context("damaged WAV data")?);
            }
        } else {
            for s in self.reader.samples::<i32>().take(n) {
                out.push(s.context("damaged WAV data")? as f32 * self.scale);
            }
        }
        if out.len() % self.info.channels != 0 {
            bail!("the WAV data ends in the middle of a frame (truncated file)");
        }
        Ok(())
    }
}

struct FlacSource {
    reader: claxon::FlacReader<File>,
    info: InputInfo,
    scale: f32,
    buffer: Vec<i32>,
}

impl SampleSource for FlacSource {
    fn info(&self) -> &InputInfo {
        &self.info
    }

    fn next_chunk(&mut self, out: &mut Vec<f32>) -> Result<()> {
        out.clear();
        let buffer = std::mem::take(&mut self.buffer);
        let block = self
            .reader
            .blocks()
            .read_next_or_eof(buffer)
            .context("damaged FLAC data")?;
        if let Some(block) = block {
            let channels = block.channels() as usize;
            if channels != self.info.channels {
                bail!(
                    "a FLAC frame has {channels} channels, the stream {}",
                    self.info.channels
                );
            }
            let frames = block.duration() as usize;
            out.reserve(frames * channels);
            for i in 0..frames {
                for c in 0..channels {
                    out.push(block.sample(c as u32, i as u32) as f32 * self.scale);
                }
            }
            self.buffer = block.into_buffer();
        }
        Ok(())
    }
}

/// Opens `path` as WAV or FLAC, recognised by its content (not its extension). Allocates.
pub fn open(path: &Path) -> Result<Box<dyn SampleSource + Send>> {
    let mut magic = [0u8; 12];
    let mut file = File::open(path).context("cannot open the file")?;
    let got = read_up_to(&mut file, &mut magic).context("cannot read the file")?;
    if got == 0 {
        bail!("the file is empty (0 bytes)");
    }
    drop(file);
    if got >= 12 && &magic[0..4] == b"RIFF" && &magic[8..12] == b"WAVE" {
        open_wav(path)
    } else if got >= 4 && &magic[0..4] == b"fLaC" {
        open_flac(path)
    } else if got >= 4
        && (&magic[0..4] == b"RF64" || &magic[0..4] == b"riff" || &magic[0..4] == b"FORM")
    {
        bail!("unsupported format (RF64, Wave64 and AIFF are not read); convert to WAV or FLAC")
    } else {
        bail!("unsupported format: not a WAV or FLAC file")
    }
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

fn open_wav(path: &Path) -> Result<Box<dyn SampleSource + Send>> {
    let reader = hound::WavReader::open(path).context("damaged or unsupported WAV file")?;
    let spec = reader.spec();
    let float = spec.sample_format == hound::SampleFormat::Float;
    match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) | (hound::SampleFormat::Int, 8 | 16 | 24 | 32) => {}
        (format, bits) => bail!("unsupported WAV sample format: {bits}-bit {format:?}"),
    }
    if spec.channels == 0 {
        bail!("the WAV header declares 0 channels");
    }
    let info = InputInfo {
        sample_rate: spec.sample_rate,
        channels: spec.channels as usize,
        frames: Some(u64::from(reader.duration())),
        format: format!(
            "WAV {}-bit {}",
            spec.bits_per_sample,
            if float { "float" } else { "integer" }
        ),
    };
    Ok(Box::new(WavSource {
        reader,
        info,
        float,
        scale: if float {
            1.0
        } else {
            1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32
        },
    }))
}

fn open_flac(path: &Path) -> Result<Box<dyn SampleSource + Send>> {
    let reader = claxon::FlacReader::open(path).context("damaged or unsupported FLAC file")?;
    let si = reader.streaminfo();
    if si.channels == 0 || si.bits_per_sample == 0 || si.bits_per_sample > 32 {
        bail!("the FLAC header is invalid");
    }
    let info = InputInfo {
        sample_rate: si.sample_rate,
        channels: si.channels as usize,
        frames: si.samples,
        format: format!("FLAC {}-bit", si.bits_per_sample),
    };
    Ok(Box::new(FlacSource {
        reader,
        info,
        scale: 1.0 / (1u64 << (si.bits_per_sample - 1)) as f32,
        buffer: Vec::new(),
    }))
}

/// Sample format of the output WAV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputBits {
    /// 32-bit IEEE float (default; never clips).
    Float32,
    /// 16-bit integer.
    Int16,
    /// 24-bit integer.
    Int24,
}

/// A WAV writer that counts the samples it had to clip to full scale (integer formats only).
pub struct WavSink {
    writer: hound::WavWriter<BufWriter<File>>,
    bits: OutputBits,
    /// Samples limited to full scale so far.
    pub clipped: u64,
    /// Largest absolute sample value seen, linear.
    pub peak: f32,
}

impl WavSink {
    /// Creates `path` (which must not exist or is replaced) for `channels` at `sample_rate` Hz. Allocates.
    pub fn create(
        path: &Path,
        sample_rate: u32,
        channels: usize,
        bits: OutputBits,
    ) -> Result<Self> {
        let (bits_per_sample, sample_format) = match bits {
            OutputBits::Float32 => (32, hound::SampleFormat::Float),
            OutputBits::Int16 => (16, hound::SampleFormat::Int),
            OutputBits::Int24 => (24, hound::SampleFormat::Int),
        };
        let spec = hound::WavSpec {
            channels: u16::try_from(channels).context("too many channels for WAV")?,
            sample_rate,
            bits_per_sample,
            sample_format,
        };
        let writer =
            hound::WavWriter::create(path, spec).context("cannot create the output file")?;
        Ok(WavSink {
            writer,
            bits,
            clipped: 0,
            peak: 0.0,
        })
    }

    /// Appends interleaved samples (linear, full scale ±1).
    pub fn write(&mut self, interleaved: &[f32]) -> Result<()> {
        for &x in interleaved {
            self.peak = self.peak.max(x.abs());
            match self.bits {
                OutputBits::Float32 => self.writer.write_sample(x)?,
                OutputBits::Int16 => {
                    let v = self.quantize(x, 32768.0);
                    self.writer.write_sample(v as i16)?
                }
                OutputBits::Int24 => {
                    let v = self.quantize(x, 8_388_608.0);
                    self.writer.write_sample(v)?
                }
            }
        }
        Ok(())
    }

    fn quantize(&mut self, x: f32, full: f32) -> i32 {
        let v = (f64::from(x) * f64::from(full)).round();
        let (lo, hi) = (-f64::from(full), f64::from(full) - 1.0);
        if v > hi || v < lo {
            self.clipped += 1;
        }
        v.clamp(lo, hi) as i32
    }

    /// Writes the header and closes the file.
    pub fn finalize(self) -> Result<()> {
        self.writer
            .finalize()
            .context("cannot finish writing the output file")
    }
}
