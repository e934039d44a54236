#!/usr/bin/env python3
"""Where a suppressor leaves typing: speech kept and noise left, in click frames and between them.

Usage (after `cargo xtask eval --pairs DIR --save SAVED` and an eval run with the peers):
    .venv-peers/bin/python scripts/click_frames.py --pairs DIR --saved SAVED [--peers target/eval/peers] FILE...

FILE are pair names (`nb-000-typing-dry-snr+05.wav`) or paths ending in them. For every system (Quell neural from
the saved 16 kHz outputs, RNNoise 0.2 and DeepFilterNet 3 from the peers' outputs) it takes 20 ms STFT frames
(10 ms hop) of the clean speech S, the noise N = noisy - clean and the output Y, between 100 Hz and 8 kHz, and
sorts frames into click frames (noise energy 10 dB over the file's median noise frame, with speech), other
speech frames, and pauses (speech more than 40 dB under its loudest frame). It then prints, per frame kind:
  - speech kept: 10 log10(sum |Y|^2 / sum |S|^2) over the cells where speech is 10 dB over the noise;
  - noise left:  10 log10(sum |Y|^2 / sum |X|^2) over the cells where noise is 10 dB over the speech.
Both in dB, summed over all files. The peers' outputs are aligned to the clean speech by cross-correlation.

With --timeline, it instead prints, for each FILE, 100 ms windows in which the speech is more than 25 dB under
the noise (keys in a pause): the window's start, the speech and noise levels (dB re the file's loudest speech
window) and, per system, how far the output's error (output minus the scaled clean speech) lies under the noise
there, in dB (the cut).
"""

import argparse
import os

import numpy as np
import soundfile as sf
from scipy.signal import stft


def load(path):
    x, sr = sf.read(path, dtype="float32")
    if x.ndim > 1:
        x = x[:, 0]
    return x, sr


def align(ref, y, max_lag=2000):
    """Shifts y so that it lines up with ref (cross-correlation peak within ±max_lag samples)."""
    n = min(len(ref), len(y))
    c = np.fft.irfft(np.fft.rfft(ref[:n], 2 * n) * np.conj(np.fft.rfft(y[:n], 2 * n)))
    lag = int(np.argmax(np.r_[c[-max_lag:], c[: max_lag + 1]])) - max_lag
    y = y[-lag:] if lag < 0 else np.r_[np.zeros(lag, dtype=y.dtype), y]
    if len(y) < len(ref):
        y = np.r_[y, np.zeros(len(ref) - len(y), dtype=y.dtype)]
    return y[: len(ref)]


def signals(system, base, args):
    saved = {"Quell neural": "quellneural", "RNNoise 0.2": "rnnoise02", "DeepFilterNet 3": "dfn3"}[system]
    if os.path.exists(f"{args.saved}/{base}.{saved}.wav"):
        # The eval's own delay-compensated 16 kHz outputs (every system when it ran with the peers).
        s, sr = load(f"{args.saved}/{base}.clean.wav")
        x, _ = load(f"{args.saved}/{base}.noisy.wav")
        y, _ = load(f"{args.saved}/{base}.{saved}.wav")
        return s, x, y[: len(s)], sr
    s, sr = load(f"{args.pairs}/clean/{base}.wav")
    x, _ = load(f"{args.pairs}/noisy/{base}.wav")
    sub = {"RNNoise 0.2": "rnnoise02", "DeepFilterNet 3": "dfn3"}[system]
    path = f"{args.peers}/{sub}/noisy/{base}.wav"
    y, rate = load(path)
    # The peers' folder holds the outputs of the last eval run that used it, whatever pairs those were: a file of
    # another rate or length (for example from a run on the 8 kHz pairs) belongs to other pairs.
    if rate != sr or abs(len(y) - len(x)) > 0.01 * len(x):
        raise SystemExit(
            f"{path} ({len(y)} samples at {rate} Hz) is not the output for {args.pairs}/noisy/{base}.wav "
            f"({len(x)} samples at {sr} Hz): run `cargo xtask eval --pairs {args.pairs}` with the peers, "
            "or pass --saved from a run that saved them"
        )
    m = min(len(s), len(x))
    return s[:m], x[:m], align(s[:m], y), sr


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", required=True)
    p.add_argument("--saved", required=True)
    p.add_argument("--peers", default="target/eval/peers")
    p.add_argument("--systems", default="Quell neural,RNNoise 0.2,DeepFilterNet 3",
                   help="comma-separated systems to score (default: all three)")
    p.add_argument("--timeline", action="store_true",
                   help="per file, the cut of each system in 100 ms windows of keys in pauses")
    p.add_argument("files", nargs="+")
    args = p.parse_args()
    if args.timeline:
        return timeline(args)
    for system in args.systems.split(","):
        acc = {}
        for f in args.files:
            base = os.path.basename(f).removesuffix(".wav")
            s, x, y, sr = signals(system, base, args)
            n = x - s
            nper = int(sr * 0.02)
            spec = lambda v: np.abs(stft(v, sr, nperseg=nper, noverlap=nper // 2)[2]) ** 2
            freqs = np.fft.rfftfreq(nper, 1 / sr)
            band = (freqs > 100) & (freqs < 8000)
            S, N, Y = spec(s)[band], spec(n)[band], spec(y)[band]
            noise_e, speech_e = N.sum(0), S.sum(0)
            click = noise_e > np.median(noise_e) * 10
            speech = speech_e > speech_e.max() * 1e-4
            speech_cells, noise_cells = S > N * 10, N > S * 10
            for kind, frames in [("click frames", click & speech), ("other speech frames", ~click & speech),
                                 ("pauses", ~speech)]:
                a = acc.setdefault(kind, np.zeros(5))
                cs, cn = speech_cells & frames[None, :], noise_cells & frames[None, :]
                a += [Y[cs].sum(), S[cs].sum(), Y[cn].sum(), (N[cn] + S[cn]).sum(), frames.sum()]
        for kind, a in acc.items():
            db = lambda num, den: 10 * np.log10(max(num, 1e-20) / max(den, 1e-20))
            print(f"{system:16s} {kind:20s} {int(a[4]):5d} frames  speech kept {db(a[0], a[1]):6.2f} dB"
                  f"  noise left {db(a[2], a[3]):7.2f} dB")


def timeline(args):
    systems = args.systems.split(",")
    for f in args.files:
        base = os.path.basename(f).removesuffix(".wav")
        print(base)
        cuts, levels = [], None
        for system in systems:
            s, x, y, sr = signals(system, base, args)
            w = int(sr * 0.1)
            k = min(len(s), len(y)) // w
            energy = lambda v: (v[: k * w].astype(np.float64).reshape(k, w) ** 2).sum(1) + 1e-20
            scale = float(np.dot(y[: k * w], s[: k * w]) / max(np.dot(s[: k * w], s[: k * w]), 1e-20))
            es, en, ee = energy(s), energy(x - s), energy(y[: len(s)] - scale * s)
            if levels is None:
                ref = es.max()
                levels = (10 * np.log10(es / ref), 10 * np.log10(en / ref))
            cuts.append(10 * np.log10(en / ee))
        speech_db, noise_db = levels
        n = min(len(speech_db), *(len(c) for c in cuts))
        for i in range(n):
            if noise_db[i] - speech_db[i] > 25 and noise_db[i] > -30:
                per = "  ".join(f"{sy} cut {c[i]:5.1f} dB" for sy, c in zip(systems, cuts))
                print(f"  {i * 0.1:5.1f} s  speech {speech_db[i]:6.1f} dB  noise {noise_db[i]:6.1f} dB  {per}")


if __name__ == "__main__":
    main()
