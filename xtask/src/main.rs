//! `cargo xtask`: Quell's project tasks.

mod audio;
mod data;
mod dataset;
mod demo;
mod eval;
mod mix;
mod pairs;
mod stoi;
mod train;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask", about = "Quell's project tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train the neural mask on ../shared/data (see docs/model.md).
    Train(train::TrainArgs),
    /// Write the held-out evaluation pairs (clean/, noisy/) from the validation split of ../shared/data.
    Pairs(pairs::PairsArgs),
    /// Compare Quell (neural, classic) and nnnoiseless on clean/noisy pairs: PESQ-WB, STOI, SI-SDR, speed.
    Eval(eval::EvalArgs),
    /// Make assets/demo/noisy.wav from espeak-ng speech and generated noise.
    DemoClip(demo::DemoArgs),
}

fn main() -> Result<()> {
    // candle re-reads /proc/cpuinfo on every matmul unless this is set; one thread trains, one makes data.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    match Cli::parse().command {
        Command::Train(args) => train::run(&args),
        Command::Pairs(args) => pairs::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::DemoClip(args) => demo::run(&args),
    }
}
