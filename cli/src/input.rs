//! Streaming audio input: the RIFF family (WAV, RF64, W64) through [`crate::riff`], everything else through
//! symphonia (FLAC, MP3, AAC and ALAC in MP4/M4A, ADTS AAC, Ogg Vorbis, AIFF, CAF). Files of any length are
//! read in constant memory; damage is reported as a [`Damage`] error so that the caller can salvage what was
//! read before it.

use anyhow::{bail, Context, Result};
use std::cell::Cell;
use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{Decoder, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// The most channels any input may declare (the engine takes fewer; this only bounds memory).
const MAX_DECLARED_CHANNELS: usize = 256;
/// The most frames a decoder may return per packet before the stream is taken as damaged.
const MAX_PACKET_FRAMES: usize = 1 << 20;

/// How many frames a symphonia stream may fall short of its declared length before it is taken as truncated.
const LENGTH_SLACK_FRAMES: u64 = 4096;

/// How the input's samples are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleKind {
    /// Integer PCM with this many significant bits (e.g. 24 for 24-in-32-bit WAV).
    Int(u32),
    /// Floating point of this many bits.
    Float(u32),
    /// A lossy codec (its decoder produces floats).
    Lossy,
}

/// Which family the input belongs to, for the choice of the default output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// WAV, RF64 or W64.
    Wav,
    /// FLAC.
    Flac,
    /// Any other format (AIFF, CAF, ALAC, lossy codecs): written as WAV by default.
    Other,
}

/// What an input holds.
#[derive(Debug, Clone)]
pub struct InputInfo {
    /// Sample rate, Hz.
    pub sample_rate: u32,
    /// Interleaved channels.
    pub channels: usize,
    /// Length in frames (samples per channel) when the header states it.
    pub frames: Option<u64>,
    /// Human-readable format, e.g. "WAV 24-bit integer in 32-bit containers".
    pub format: String,
    /// Short container name for messages, e.g. "WAV", "FLAC", "MP3".
    pub container: &'static str,
    /// The family, for the default output format.
    pub kind: InputKind,
    /// The sample format.
    pub sample: SampleKind,
    /// Broadcast-WAV metadata chunks (`bext`, `iXML`, `LIST`) as read, id and body, to copy to a WAV output.
    pub metadata: Vec<([u8; 4], Vec<u8>)>,
}

/// A source of interleaved samples, linear, full scale ±1.
pub trait SampleSource {
    /// The stream's format.
    fn info(&self) -> &InputInfo;
    /// Replaces `out` with the next interleaved samples (any whole number of frames); an empty `out` means the
    /// end of the stream. An error carrying a [`Damage`] means the data is damaged from here on (what was
    /// returned before is good). Allocates only to grow `out`.
    fn next_chunk(&mut self, out: &mut Vec<f32>) -> Result<()>;
}

/// The input's data is damaged (truncated or corrupt) at the point reached; the samples returned before are
/// good.
#[derive(Debug)]
pub struct Damage(pub String);

impl Damage {
    /// A damage report with a short reason. Allocates.
    pub fn new(why: impl Into<String>) -> Self {
        Damage(why.into())
    }
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Damage {}

/// Where an input comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputPath<'a> {
    /// A file.
    File(&'a Path),
    /// Standard input (a WAV stream).
    Stdin,
}

/// What the first bytes of a file say it is.
#[derive(Debug, PartialEq, Eq)]
pub enum Sniffed {
    /// RIFF/RF64/W64: read by [`crate::riff`].
    Riff,
    /// FLAC.
    Flac,
    /// Some other format symphonia may read; the name is for messages.
    Symphonia(&'static str),
    /// A format that is not read, named.
    Unsupported(String),
}

/// Recognises a format from the first bytes of a file (64 are enough). Allocates only for the message.
pub fn sniff(magic: &[u8]) -> Sniffed {
    let at = |offset: usize, pat: &[u8]| {
        magic.len() >= offset + pat.len() && &magic[offset..offset + pat.len()] == pat
    };
    let unsupported = |what: &str| Sniffed::Unsupported(format!("unsupported format: {what}"));
    if at(0, b"RIFF") {
        if at(8, b"WAVE") {
            return Sniffed::Riff;
        }
        if at(8, b"AVI ") {
            return unsupported("an AVI video file");
        }
        return unsupported("a RIFF file that is not WAVE audio");
    }
    if at(0, b"RF64") || at(0, b"BW64") || at(0, &crate::riff::W64_RIFF) {
        return Sniffed::Riff;
    }
    if at(0, b"RIFX") {
        return unsupported("a big-endian RIFX WAV file");
    }
    if at(0, b"fLaC") {
        return Sniffed::Flac;
    }
    if at(0, b"FORM") && (at(8, b"AIFF") || at(8, b"AIFC")) {
        return Sniffed::Symphonia("AIFF");
    }
    if at(0, b"caff") {
        return Sniffed::Symphonia("CAF");
    }
    if at(4, b"ftyp") {
        return Sniffed::Symphonia("MP4/M4A");
    }
    if at(0, b"OggS") {
        let page = &magic[..magic.len().min(64)];
        if page.windows(8).any(|w| w == b"OpusHead") {
            return unsupported(
                "Ogg Opus (Opus decoding is not available; convert to FLAC or WAV)",
            );
        }
        if page.windows(4).any(|w| w == b"FLAC") {
            return unsupported("Ogg FLAC (convert to plain FLAC)");
        }
        if page.windows(8).any(|w| w == b"Speex   ") {
            return unsupported("Ogg Speex");
        }
        return Sniffed::Symphonia("Ogg");
    }
    if at(0, b"ID3") {
        return Sniffed::Symphonia("MP3");
    }
    if magic.len() >= 2 && magic[0] == 0xFF && magic[1] & 0xE0 == 0xE0 {
        // MPEG audio frame sync: layer bits 00 mean ADTS AAC.
        return if magic[1] & 0x06 == 0 {
            Sniffed::Symphonia("AAC (ADTS)")
        } else {
            Sniffed::Symphonia("MP3")
        };
    }
    let named: &[(usize, &[u8], &str)] = &[
        (0, &[0x1A, 0x45, 0xDF, 0xA3], "Matroska/WebM"),
        (0, &[0x30, 0x26, 0xB2, 0x75], "ASF/Windows Media Audio"),
        (0, b"MAC ", "Monkey's Audio (APE)"),
        (0, b"wvpk", "WavPack"),
        (0, b".snd", "Sun/NeXT AU"),
        (0, b"MThd", "MIDI (notes, not audio)"),
        (0, b"DSD ", "DSD (DSF)"),
        (0, b"FRM8", "DSD (DFF)"),
        (0, b"TTA1", "True Audio (TTA)"),
        (0, b"MPCK", "Musepack"),
        (0, b"MP+", "Musepack"),
        (0, b"#!AMR", "AMR"),
        (0, b"ajkg", "Shorten"),
        (0, &[0x0B, 0x77], "AC-3"),
        (0, &[0x7F, 0xFE, 0x80, 0x01], "DTS"),
        (0, b"PK\x03\x04", "a ZIP archive"),
        (0, &[0x1F, 0x8B], "a gzip archive"),
        (0, b"%PDF", "a PDF document"),
        (0, &[0x89, b'P', b'N', b'G'], "a PNG image"),
        (0, &[0xFF, 0xD8, 0xFF], "a JPEG image"),
        (0, &[0x7F, b'E', b'L', b'F'], "an executable"),
    ];
    for (offset, pat, name) in named {
        if at(*offset, pat) {
            return unsupported(name);
        }
    }
    let text = !magic.is_empty()
        && std::str::from_utf8(magic)
            .is_ok_and(|s| s.chars().all(|c| !c.is_control() || c.is_whitespace()));
    if text {
        return unsupported("not an audio file (it holds text)");
    }
    let hex: Vec<String> = magic.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Sniffed::Unsupported(format!(
        "unsupported format: not an audio file quell recognises (it starts with bytes {})",
        hex.join(" ")
    ))
}

/// The formats that are read, for messages.
pub const READ_FORMATS: &str = "WAV, RF64, W64, FLAC, AIFF, CAF, MP3, AAC/M4A, ALAC, Ogg Vorbis";

/// Reads up to `buf.len()` bytes; returns how many.
fn read_up_to(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// Sniffs the file at `path` (reads its first 64 bytes).
pub fn sniff_file(path: &Path) -> Result<Sniffed> {
    let mut file = File::open(path).context("cannot open the file")?;
    let mut magic = [0u8; 64];
    let got = read_up_to(&mut file, &mut magic).context("cannot read the file")?;
    if got == 0 {
        bail!("the file is empty (0 bytes)");
    }
    Ok(sniff(&magic[..got]))
}

/// Opens an input, recognised by its content (not its extension). Allocates.
pub fn open(input: &InputPath) -> Result<Box<dyn SampleSource + Send>> {
    match input {
        InputPath::Stdin => {
            let stdin = std::io::stdin();
            let reader = Box::new(std::io::BufReader::with_capacity(1 << 16, stdin));
            let source = crate::riff::open(reader, true).map_err(|e| {
                if e.to_string().contains("not a WAV") {
                    e.context("standard input must be a WAV stream (e.g. ffmpeg ... -f wav -)")
                } else {
                    e
                }
            })?;
            Ok(Box::new(source))
        }
        InputPath::File(path) => match sniff_file(path)? {
            Sniffed::Riff => {
                let file = File::open(path).context("cannot open the file")?;
                let reader = Box::new(std::io::BufReader::with_capacity(1 << 16, file));
                let mut source = crate::riff::open(reader, false)?;
                source.add_trailing_metadata(path);
                Ok(Box::new(source))
            }
            Sniffed::Flac => open_symphonia(path, "FLAC"),
            Sniffed::Symphonia("MP3") => {
                let tag = check_id3(path)?;
                guarded(|| open_symphonia_inner(path, "MP3", tag))
            }
            Sniffed::Symphonia(name) => {
                if name == "MP4/M4A" {
                    crate::mp4check::check(path)?;
                }
                open_symphonia(path, name)
            }
            Sniffed::Unsupported(why) => bail!("{why}; quell reads {READ_FORMATS}"),
        },
    }
}

/// The length of an ID3v2 tag at the start of the file (0 without one), which is skipped rather than parsed
/// (a damaged frame size inside it could make the tag reader reserve 256 MiB). Refuses a tag that claims more
/// bytes than the file holds.
fn check_id3(path: &Path) -> Result<u64> {
    let mut file = File::open(path).context("cannot open the file")?;
    let mut h = [0u8; 10];
    if read_up_to(&mut file, &mut h)? < 10 || &h[..3] != b"ID3" {
        return Ok(0);
    }
    let size = h[6..10]
        .iter()
        .fold(0u64, |acc, &b| (acc << 7) | u64::from(b & 0x7F));
    let len = file.metadata()?.len();
    if size + 10 > len || h[6..10].iter().any(|b| b & 0x80 != 0) {
        bail!("damaged MP3 file: its ID3 tag claims {size} bytes, more than the file's {len}");
    }
    // A footer (flag 0x10) adds 10 bytes.
    Ok(10 + size + if h[5] & 0x10 != 0 { 10 } else { 0 })
}

thread_local! {
    static IN_DECODER: Cell<bool> = const { Cell::new(false) };
}

/// Installs a panic hook that keeps quiet about panics inside a decoder (they are caught and reported as
/// damaged data) and reports all others as before. Call once, early.
pub fn quiet_decoder_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !IN_DECODER.with(Cell::get) {
            previous(info);
        }
    }));
}

/// Runs decoder code, turning a panic into a [`Damage`] error.
fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    IN_DECODER.with(|c| c.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    IN_DECODER.with(|c| c.set(false));
    match result {
        Ok(r) => r,
        Err(_) => Err(Damage::new("the decoder failed on damaged data").into()),
    }
}

struct SymphoniaSource {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track: u32,
    info: InputInfo,
    buffer: Option<SampleBuffer<f32>>,
    /// Samples decoded in `open` (to learn the stream's layout) and not yet returned.
    pending: Vec<f32>,
    /// Frames returned so far.
    frames_out: u64,
    /// Packet timestamps must follow each other (FLAC: a gap is a stretch that could not be read).
    check_gaps: bool,
    done: bool,
}

fn open_symphonia(path: &Path, name: &'static str) -> Result<Box<dyn SampleSource + Send>> {
    guarded(|| open_symphonia_inner(path, name, 0))
}

/// Opens `path` with symphonia, starting `skip` bytes into the file.
fn open_symphonia_inner(
    path: &Path,
    name: &'static str,
    skip: u64,
) -> Result<Box<dyn SampleSource + Send>> {
    let mut file = File::open(path).context("cannot open the file")?;
    if skip > 0 {
        file.seek(std::io::SeekFrom::Start(skip))
            .context("cannot read the file")?;
    }
    let mss = MediaSourceStream::new(Box::new(file), MediaSourceStreamOptions::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let format_options = FormatOptions {
        enable_gapless: true,
        ..FormatOptions::default()
    };
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &format_options, &MetadataOptions::default())
        .map_err(|e| anyhow::anyhow!("damaged or unsupported {name} file: {e}"))?;
    let format = probed.format;
    let Some(track) = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
    else {
        bail!("the {name} file has no audio track");
    };
    let params = track.codec_params.clone();
    let codec = symphonia::default::get_codecs().get_codec(params.codec);
    let codec_name = codec.map_or("unknown", |c| c.short_name);
    let Some(codec_desc) = codec else {
        bail!("unsupported codec in the {name} file (quell reads {READ_FORMATS})");
    };
    if let Some(n) = params.max_frames_per_packet {
        if n as usize > MAX_PACKET_FRAMES {
            bail!("damaged {name} file: it declares {n} frames per packet");
        }
    }
    if params
        .channels
        .is_some_and(|c| c.count() > MAX_DECLARED_CHANNELS)
    {
        bail!("damaged {name} file: too many channels");
    }
    let decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| anyhow::anyhow!("cannot decode the {name} file's {codec_name} audio: {e}"))?;
    let (kind, sample, container, description) = {
        let bits = params.bits_per_sample.unwrap_or(16);
        let long = codec_desc.long_name;
        match codec_name {
            "flac" => (
                InputKind::Flac,
                SampleKind::Int(bits),
                "FLAC",
                format!("FLAC {bits}-bit"),
            ),
            "alac" => (
                InputKind::Other,
                SampleKind::Int(bits),
                "ALAC",
                format!("ALAC {bits}-bit in {name}"),
            ),
            n if n.starts_with("pcm_f") => (
                InputKind::Other,
                SampleKind::Float(bits.max(32)),
                name,
                format!("{name} {}-bit float", bits.max(32)),
            ),
            n if n.starts_with("pcm_") => (
                InputKind::Other,
                SampleKind::Int(bits),
                name,
                format!("{name} {bits}-bit integer"),
            ),
            "mp3" => (
                InputKind::Other,
                SampleKind::Lossy,
                "MP3",
                "MP3 (lossy)".to_string(),
            ),
            "aac" => (
                InputKind::Other,
                SampleKind::Lossy,
                "AAC",
                format!("AAC in {name} (lossy)"),
            ),
            "vorbis" => (
                InputKind::Other,
                SampleKind::Lossy,
                "Ogg Vorbis",
                "Ogg Vorbis (lossy)".to_string(),
            ),
            _ => (
                InputKind::Other,
                SampleKind::Lossy,
                name,
                format!("{name} {long}"),
            ),
        }
    };
    let track_id = track.id;
    let mut source = SymphoniaSource {
        format,
        decoder,
        track: track_id,
        info: InputInfo {
            sample_rate: params.sample_rate.unwrap_or(0),
            channels: params.channels.map_or(0, |c| c.count()),
            frames: params.n_frames,
            format: description,
            container,
            kind,
            sample,
            metadata: Vec::new(),
        },
        buffer: None,
        pending: Vec::new(),
        frames_out: 0,
        check_gaps: codec_name == "flac",
        done: false,
    };
    // Decode the first packet to learn the layout for certain (some containers state it only there).
    let mut first = Vec::new();
    source.decode_next(&mut first)?;
    if source.info.channels == 0 || source.info.sample_rate == 0 {
        bail!("the {name} file holds no audio");
    }
    source.pending = first;
    Ok(Box::new(source))
}

impl SymphoniaSource {
    /// Decodes packets until one gives samples or the stream ends.
    fn decode_next(&mut self, out: &mut Vec<f32>) -> Result<()> {
        out.clear();
        let name = self.info.container;
        while !self.done {
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    self.done = true;
                    if let Some(n) = self.info.frames {
                        // Containers state lengths a few frames off (symphonia counts AIFF's SSND
                        // header, MP3 encoder padding): only a clear shortfall is a truncation.
                        if self.frames_out + LENGTH_SLACK_FRAMES < n {
                            return Err(Damage::new(
                                "the stream ends before its declared length (truncated)",
                            )
                            .into());
                        }
                    }
                    break;
                }
                Err(SymError::IoError(e)) => {
                    return Err(anyhow::Error::new(e).context("cannot read the file"))
                }
                Err(SymError::ResetRequired) => {
                    self.done = true;
                    return Err(Damage::new(format!(
                        "the {name} stream changes its format midway"
                    ))
                    .into());
                }
                Err(e) => {
                    self.done = true;
                    return Err(Damage::new(format!("unreadable {name} data ({e})")).into());
                }
            };
            if packet.track_id() != self.track {
                continue;
            }
            if self.check_gaps && packet.ts() != self.frames_out {
                self.done = true;
                return Err(
                    Damage::new(format!("a stretch of the {name} data is unreadable")).into(),
                );
            }
            let decoded = match self.decoder.decode(&packet) {
                Ok(d) => d,
                Err(SymError::IoError(_))
                | Err(SymError::DecodeError(_))
                | Err(SymError::LimitError(_)) => {
                    self.done = true;
                    return Err(Damage::new(format!(
                        "a {name} packet cannot be decoded (corrupt data)"
                    ))
                    .into());
                }
                Err(e) => {
                    self.done = true;
                    return Err(Damage::new(format!("unreadable {name} data ({e})")).into());
                }
            };
            let spec = *decoded.spec();
            let frames = decoded.frames();
            if frames == 0 {
                continue;
            }
            let channels = spec.channels.count();
            if frames > MAX_PACKET_FRAMES || channels == 0 || channels > MAX_DECLARED_CHANNELS {
                self.done = true;
                return Err(Damage::new(format!("a {name} packet has an impossible size")).into());
            }
            if self.info.channels == 0 {
                self.info.channels = channels;
            }
            if self.info.sample_rate == 0 {
                self.info.sample_rate = spec.rate;
            }
            if channels != self.info.channels || spec.rate != self.info.sample_rate {
                self.done = true;
                return Err(Damage::new(format!(
                    "the {name} stream changes its channels or rate midway"
                ))
                .into());
            }
            let capacity = decoded.capacity() as u64;
            let buffer = match &mut self.buffer {
                Some(b) if b.capacity() as u64 >= capacity * channels as u64 => b,
                _ => self.buffer.insert(SampleBuffer::new(capacity, spec)),
            };
            buffer.copy_interleaved_ref(decoded);
            out.extend_from_slice(buffer.samples());
            self.frames_out += frames as u64;
            return Ok(());
        }
        Ok(())
    }
}

impl SampleSource for SymphoniaSource {
    fn info(&self) -> &InputInfo {
        &self.info
    }

    fn next_chunk(&mut self, out: &mut Vec<f32>) -> Result<()> {
        if !self.pending.is_empty() {
            out.clear();
            std::mem::swap(out, &mut self.pending);
            return Ok(());
        }
        guarded(|| self.decode_next(out))
    }
}

/// Whether a path names standard input/output.
pub fn is_dash(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Whether the file behind `file` can be repositioned (a regular file, not a pipe).
pub fn seekable(file: &mut File) -> bool {
    file.stream_position().is_ok() && file.metadata().is_ok_and(|m| m.is_file())
}
