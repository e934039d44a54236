#!/usr/bin/env python3
"""Cross-checks `cargo xtask eval`'s PESQ-WB (Rust `pesq` crate) and STOI (xtask/src/stoi.rs) against the PyPI
`pesq` (ITU-T P.862.2 reference C code) and `pystoi` packages, on the 16 kHz files that
`cargo xtask eval --save DIR` wrote.

    .venv/bin/python scripts/crosscheck_metrics.py target/eval/saved target/eval/per-file.csv
"""
import csv
import os
import sys

import numpy as np
import soundfile as sf
from pesq import pesq
from pystoi import stoi

TAGS = {
    "unprocessed": "noisy",
    "Quell neural": "quellneural",
    "Quell classic": "quellclassic",
    "nnnoiseless (RNNoise v1)": "nnnoiseless",
}


def main():
    saved, per_file = sys.argv[1], sys.argv[2]
    rows = list(csv.DictReader(open(per_file)))
    dp, ds = [], []
    for row in rows:
        stem = row["file"].rsplit(".", 1)[0]
        ref, fs = sf.read(os.path.join(saved, f"{stem}.clean.wav"))
        deg, _ = sf.read(os.path.join(saved, f"{stem}.{TAGS[row['system']]}.wav"))
        n = min(len(ref), len(deg))
        ref16 = np.clip(np.round(ref[:n] * 32767), -32768, 32767).astype(np.int16)
        deg16 = np.clip(np.round(deg[:n] * 32767), -32768, 32767).astype(np.int16)
        if row["pesq_wb"]:
            p = pesq(fs, ref16, deg16, "wb")
            dp.append((float(row["pesq_wb"]), p))
        if row["stoi"]:
            s = stoi(ref[:n], deg[:n], fs, extended=False)
            ds.append((float(row["stoi"]), s))
    for name, pairs in (("PESQ-WB", dp), ("STOI", ds)):
        a = np.array(pairs)
        diff = np.abs(a[:, 0] - a[:, 1])
        corr = np.corrcoef(a[:, 0], a[:, 1])[0, 1]
        print(
            f"{name}: {len(a)} scores, mean |Rust - PyPI| {diff.mean():.4f}, max {diff.max():.4f}, "
            f"Pearson r {corr:.4f}, means {a[:, 0].mean():.3f} (Rust) vs {a[:, 1].mean():.3f} (PyPI)"
        )


if __name__ == "__main__":
    main()
