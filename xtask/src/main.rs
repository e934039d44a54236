//! `cargo xtask`: Quell's project tasks.

mod audio;
mod average;
mod compare;
mod data;
mod dataset;
mod demo;
mod eval;
mod halves;
mod mix;
mod pairs;
mod peers;
mod room;
mod stats;
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
    /// Write clean/noisy evaluation pairs of one half (tuning or report) of ../shared/data, with pairs.csv.
    Pairs(pairs::PairsArgs),
    /// Compare Quell (neural, classic), nnnoiseless, RNNoise 0.2 and DeepFilterNet 3 on clean/noisy pairs.
    Eval(eval::EvalArgs),
    /// Average several checkpoints of one training run into one weights file (see docs/model.md).
    Average(average::AverageArgs),
    /// Paired per-file differences between two eval runs' CSVs, overall and per category, SNR, room and voice.
    Compare(compare::CompareArgs),
    /// Make assets/demo/noisy.wav from espeak-ng speech and generated noise.
    DemoClip(demo::DemoArgs),
    /// Build the plugin and bundle it: `cargo xtask bundle quell [--release]` writes target/bundled/Quell.clap
    /// and target/bundled/Quell.vst3 (names from bundler.toml). Other `cargo build` options are passed on.
    #[command(disable_help_flag = true)]
    Bundle {
        /// `quell` (the plugin package, `quell-plugin`, by its short name), then `cargo build` options.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// The package that holds the plugin, and the short name `cargo xtask bundle` also accepts for it.
const PLUGIN_PACKAGE: &str = "quell-plugin";
const PLUGIN_SHORT_NAME: &str = "quell";

/// Hands `bundle` to nice-plug's bundler with the plugin's short name mapped to its package.
fn bundle(args: Vec<String>) -> Result<()> {
    let args = args.into_iter().map(|a| {
        if a == PLUGIN_SHORT_NAME {
            PLUGIN_PACKAGE.to_owned()
        } else {
            a
        }
    });
    nice_plug_xtask::main_with_args(
        "cargo xtask",
        std::iter::once("bundle".to_owned()).chain(args),
    )
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
        Command::Compare(args) => compare::run(&args),
        Command::Average(args) => average::run(&args),
        Command::DemoClip(args) => demo::run(&args),
        Command::Bundle { args } => bundle(args),
    }
}
