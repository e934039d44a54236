//! The `quell` command-line tool's library: streaming audio input in many formats, WAV/FLAC output, and the
//! per-file processing job. The binary (`src/main.rs`) adds argument parsing, planning and the batch runner.

pub mod input;
pub mod interrupt;
pub mod job;
pub mod mp4check;
pub mod output;
pub mod riff;
