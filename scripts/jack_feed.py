#!/usr/bin/env python3
"""Plays a WAV file in a loop into JACK input ports (used by scripts/screenshot.sh to give the editor's meters
something to show). Usage: jack_feed.py FILE.wav PORT [PORT...]; runs until killed."""

import sys
import threading

import jack
import numpy as np
import soundfile as sf

path, ports = sys.argv[1], sys.argv[2:]
audio, rate = sf.read(path, dtype="float32", always_2d=True)
client = jack.Client("quell-feed", no_start_server=True)
if client.samplerate != rate:
    sys.exit(f"{path} is {rate} Hz, the JACK server runs at {client.samplerate} Hz")
outs = [client.outports.register(f"out_{i + 1}") for i in range(len(ports))]
pos = 0


@client.set_process_callback
def process(frames):
    global pos
    idx = (np.arange(frames) + pos) % len(audio)
    pos = (pos + frames) % len(audio)
    for i, port in enumerate(outs):
        port.get_array()[:] = audio[idx, min(i, audio.shape[1] - 1)]


with client:
    for port, target in zip(outs, ports):
        client.connect(port, target)
    threading.Event().wait()
