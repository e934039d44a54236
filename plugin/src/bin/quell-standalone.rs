//! Quell without a DAW: the plugin with its editor, connected straight to JACK or ALSA (for streaming chains).
//!
//! `cargo run --release -p quell-plugin --features standalone --bin quell-standalone -- --help` lists the
//! options (backend, sample rate, period size, devices). `--backend dummy` opens the editor without audio.

fn main() {
    if !nice_plug::prelude::nice_export_standalone::<quell_plugin::Quell>() {
        std::process::exit(1);
    }
}
