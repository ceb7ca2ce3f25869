#!/usr/bin/python3
"""Compares two packed model files (.qfp) blob by blob.

Usage: bench/quant/qfp_diff.py A.qfp B.qfp
Prints, per layer, how many bytes of its weight codes, scales, zero points and
bias differ, whether the activation ranges differ, and the total of differing
code bytes (8-bit codes: one byte each). Reads the layout documented in
core/quant/packed_model.h; standard library only.
"""
import json
import struct
import sys


def load(path):
    data = open(path, "rb").read()
    if data[:8] != b"QFPACKED":
        sys.exit(f"{path}: not a packed model")
    header_size = struct.unpack("<Q", data[12:20])[0]
    header = json.loads(data[20:20 + header_size])
    payload = data[20 + header_size:-64]  # The last 64 bytes: SHA-256 hex.
    return header, payload


def blob(payload, ref):
    return payload[ref["offset"]:ref["offset"] + ref["bytes"]]


def main(a_path, b_path):
    a, a_payload = load(a_path)
    b, b_payload = load(b_path)
    differing = total = 0
    for la, lb in zip(a["layers"], b["layers"]):
        if la["name"] != lb["name"]:
            sys.exit(f"layer order differs: {la['name']} vs {lb['name']}")
        for key in ("codes", "scale", "zero_point", "bias"):
            if key not in la or key not in lb:
                continue
            x, y = blob(a_payload, la[key]), blob(b_payload, lb[key])
            d = sum(p != q for p, q in zip(x, y)) + abs(len(x) - len(y))
            if key == "codes":
                differing += d
                total += len(x)
            if d:
                print(f"{la['name']}: {key} {d} of {len(x)} bytes differ")
        if la.get("input") != lb.get("input"):
            print(f"{la['name']}: input range differs")
    if a.get("add_operands") != b.get("add_operands"):
        print("add-operand ranges differ")
    print(f"code bytes differing: {differing} of {total}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
