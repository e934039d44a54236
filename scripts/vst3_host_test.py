#!/usr/bin/env python3
"""Quell in a real VST3 host: Spotify's pedalboard (JUCE's VST3 hosting) loads the bundle as a DAW would.

Usage: vst3_host_test.py [path/to/Quell.vst3]   (default: target/bundled/Quell.vst3)

pedalboard compensates the latency a plugin reports: it delays its own timeline by
`reported_latency_samples`. So when the reported latency equals the plugin's true delay, an impulse comes out
exactly where it went in and a 0 % mix returns the input itself, sample for sample. Signals are generated and
seeded here; no audio file is read. Exits non-zero on the first failed check.
"""

import sys
from pathlib import Path

import numpy as np
import pedalboard

BUNDLE = Path(sys.argv[1] if len(sys.argv) > 1 else "target/bundled/Quell.vst3")
# Every rate hosts use, from 8 to 384 kHz.
RATES = (8_000, 11_025, 22_050, 44_100, 48_000, 88_200, 96_000, 176_400, 192_000, 384_000)
# Host block sizes from 32 to 4096 samples, including sizes that are not a divisor of the hop.
BLOCKS = (32, 480, 1000, 4096)

failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        failures.append(what)


def load():
    return pedalboard.load_plugin(str(BUNDLE))


def noise(seed, channels, n):
    """Pink-ish noise about -30 dBFS: white noise through a one-pole low-pass plus a little white."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((channels, n))
    pink = np.empty_like(w)
    state = np.zeros(channels)
    for i in range(n):
        state = 0.98 * state + 0.02 * w[:, i]
        pink[:, i] = state
    x = pink / np.std(pink) * 0.03 + w * 0.003
    return x.astype(np.float32)


def energy(x):
    return float(np.sum(np.asarray(x, dtype=np.float64) ** 2))


def set_defaults(p):
    p.reduction_db = 40.0
    p.mix = 100.0 if p.parameters["mix"].max_value > 1.0 else 1.0
    p.mode = "Neural"


def main():
    check(BUNDLE.exists(), f"bundle exists: {BUNDLE}")
    if failures:
        return 1
    p = load()
    names = sorted(p.parameters.keys())
    print("parameters:", ", ".join(f"{k}={p.parameters[k].string_value!r}" for k in names))
    expected = {"reduction_db", "mode", "mix", "voice_gate", "gate_threshold", "gate_hold_ms", "bypass"}
    check(expected <= set(names), "reduction, mode, gate, mix and bypass are exposed")
    mix_max = p.parameters["mix"].max_value

    case = 0
    for rate in RATES:
        for channels in (1, 2):
            block = BLOCKS[case % len(BLOCKS)]
            case += 1
            what = f"{rate} Hz, {channels} ch, block {block}"
            p = load()
            mix_max = p.parameters["mix"].max_value
            set_defaults(p)
            n = int(rate * 2.5)
            x = noise(case, channels, n)
            y = p.process(x, rate, buffer_size=block, reset=True)
            latency = p.reported_latency_samples
            # One 20 ms window, an even number of samples (442 at 22.05 kHz); the impulse below proves it is the
            # true delay.
            check(latency == 2 * int(rate * 0.01 + 0.5), f"{what}: reported latency {latency} is one window")
            if rate == 22_050:
                check(latency == 442, f"{what}: reported latency {latency} = 442")
            check(y.shape == x.shape, f"{what}: output shape {y.shape}")
            check(bool(np.all(np.isfinite(y))), f"{what}: output finite")
            tail = slice(n - rate, n)
            for c in range(channels):
                drop = 10 * np.log10(energy(y[c, tail]) / energy(x[c, tail]))
                check(drop < -6.0, f"{what}: channel {c} noise {drop:.1f} dB")

            # An impulse at reduction 0 comes out where it went in: the host's compensation by the reported
            # latency cancels the plugin's true delay exactly.
            p.reduction_db = 0.0
            imp = np.zeros((channels, int(rate * 0.2)), dtype=np.float32)
            imp[:, 1000] = 0.5
            y = p.process(imp, rate, buffer_size=block, reset=True)
            for c in range(channels):
                k = int(np.argmax(np.abs(y[c])))
                check(k == 1000 and abs(y[c, k] - 0.5) < 1e-3,
                      f"{what}: impulse at {k} (level {y[c, k]:.4f}), measured delay = reported latency")

            # Mix 0 %: the input itself, sample for sample, after the host's compensation.
            p.reduction_db = 30.0
            p.mix = 0.0
            y = p.process(x, rate, buffer_size=block, reset=True)
            err = float(np.max(np.abs(y - x)))
            check(err <= 1e-6, f"{what}: mix 0 % equals the input (max error {err:.2e})")

            # The host's bypass at full mix: the input itself too.
            p.mix = mix_max
            p.bypass = True
            y = p.process(x, rate, buffer_size=block, reset=True)
            err = float(np.max(np.abs(y - x)))
            check(err <= 1e-6, f"{what}: bypass equals the input (max error {err:.2e})")

    # A parameter change takes effect: more reduction removes more noise.
    rate = 48_000
    x = noise(99, 2, rate * 2)
    p = load()
    set_defaults(p)
    p.reduction_db = 6.0
    weak = p.process(x, rate, buffer_size=512, reset=True)
    p.reduction_db = 60.0
    strong = p.process(x, rate, buffer_size=512, reset=True)
    ratio = 10 * np.log10(energy(strong[:, rate:]) / energy(weak[:, rate:]))
    check(ratio < -3.0, f"reduction 60 dB vs 6 dB: {ratio:.1f} dB less noise")

    # State: save after changes, restore into a fresh instance, get the same output bit for bit.
    p.reduction_db = 42.0
    p.mode = "Classic"
    p.mix = 0.8 * mix_max
    before = p.process(x, rate, buffer_size=512, reset=True)
    state = p.raw_state
    q = load()
    q.raw_state = state
    check(abs(q.reduction_db - 42.0) < 1e-3 and str(q.mode) == "Classic",
          f"restored parameters: reduction {q.reduction_db}, mode {q.mode}, mix {q.mix}")
    after = q.process(x, rate, buffer_size=512, reset=True)
    check(np.array_equal(before, after), "state round trip reproduces the output exactly")

    # The host's bypass: the input itself (the dry path is delayed by the latency the host compensates).
    q.bypass = True
    y = q.process(x, rate, buffer_size=512, reset=True)
    err = float(np.max(np.abs(y - x)))
    check(err <= 1e-6, f"bypass equals the input (max error {err:.2e})")

    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
