//! The `quell` command-line tool's library: streaming audio input in many formats, WAV/FLAC output, and the
//! per-file processing job. The binary (`src/main.rs`) adds argument parsing, planning and the batch runner.

/// Opening inputs of every format as streams of samples; damage reports.
pub mod input;
/// Ctrl-C and termination signals as a polled flag.
pub mod interrupt;
/// One file through the engine, with salvage and the removed part.
pub mod job;
/// The structural check of MP4/M4A files before they are demuxed.
pub mod mp4check;
/// WAV (RF64) and FLAC writers with dither and clip counts.
pub mod output;
/// The WAV, RF64 and W64 reader.
pub mod riff;
