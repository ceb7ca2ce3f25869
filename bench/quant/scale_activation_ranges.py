#!/usr/bin/python3
"""Diagnostic: a copy of a packed model (.qfp) with its activation ranges scaled.

Usage: bench/quant/scale_activation_ranges.py IN.qfp OUT.qfp FACTOR

Multiplies lo and hi of every layer input but the first (the image) and of
every add operand by FACTOR, and writes the file with a fresh checksum (the
layout of core/quant/packed_model.h). `quant_bench int8-lfw --model OUT.qfp`
then shows what uniformly narrower grids would do on LFW. This tunes on the
evaluation set, so it is a diagnostic only: it says whether clipping the
activation ranges is worth a real estimator (--activation-ranges mse), never
how a product model is made. Standard library only.
"""
import hashlib
import json
import struct
import sys


def main(src, dst, factor):
    data = open(src, "rb").read()
    if data[:8] != b"QFPACKED":
        sys.exit(f"{src}: not a packed model")
    header_size = struct.unpack("<Q", data[12:20])[0]
    header = json.loads(data[20:20 + header_size])
    payload = data[20 + header_size:-64]
    for layer in header["layers"][1:]:
        layer["input"]["lo"] *= factor
        layer["input"]["hi"] *= factor
    for operand in header["add_operands"].values():
        operand["lo"] *= factor
        operand["hi"] *= factor
    new_header = json.dumps(header).encode()
    body = data[:12] + struct.pack("<Q", len(new_header)) + new_header + payload
    with open(dst, "wb") as f:
        f.write(body + hashlib.sha256(body).hexdigest().encode())


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
