#!/usr/bin/python3
"""Writes synthetic texture images (no faces, no people) for calibration experiments.

Usage: bench/quant/texture_images.py spectral|leaves OUT_DIR COUNT SIZE

  spectral  coloured noise with a natural-image power spectrum: amplitude
            1/f^alpha, alpha drawn from [1, 2.5] per image, channels mixed
            towards a common luminance, random mean colour and contrast.
  leaves    "dead leaves": 300 opaque discs of random colour with radii drawn
            from a 1/r^3 law, the classic model of occlusion in natural scenes.

The images are 24-bit BMP files (written with the standard library, since
this machine's Python has no imaging package), seed 7, so a run is
reproducible. Feed them to `quant_bench quantize --source folder --folder
OUT_DIR --declare-synthetic` (docs/BENCHMARKS.md, session 5).
"""
import os
import struct
import sys

import torch


def save_bmp(path, rgb):
    """rgb: H x W x 3 uint8 tensor."""
    height, width, _ = rgb.shape
    row_bytes = (width * 3 + 3) & ~3
    pad = b"\0" * (row_bytes - width * 3)
    rows = [rgb[y].flip(-1).contiguous().numpy().tobytes() + pad for y in range(height - 1, -1, -1)]
    data = b"".join(rows)
    header = struct.pack("<2sIHHI", b"BM", 54 + len(data), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(data), 2835, 2835, 0, 0)
    with open(path, "wb") as f:
        f.write(header + info + data)


def spectral(size, gen):
    alpha = 1.0 + 1.5 * torch.rand(1, generator=gen).item()
    fy = torch.fft.fftfreq(size).reshape(-1, 1)
    fx = torch.fft.rfftfreq(size).reshape(1, -1)
    freq = torch.sqrt(fx * fx + fy * fy)
    freq[0, 0] = 1.0
    amplitude = freq.pow(-alpha)
    amplitude[0, 0] = 0.0
    shape = (3, size, size // 2 + 1)
    spectrum = torch.complex(torch.randn(shape, generator=gen), torch.randn(shape, generator=gen))
    x = torch.fft.irfft2(spectrum * amplitude, s=(size, size))
    mix = 0.6 + 0.4 * torch.rand(3, 3, generator=gen)
    x = torch.einsum("ij,jhw->ihw", mix / mix.sum(1, keepdim=True), x)
    x = (x - x.mean()) / (x.std() + 1e-8)
    contrast = 30 + 40 * torch.rand(1, generator=gen).item()
    mean = 70 + 110 * torch.rand(3, generator=gen)
    return (x * contrast + mean.reshape(3, 1, 1)).clamp(0, 255)


def dead_leaves(size, gen, discs=300):
    image = (torch.rand(3, 1, 1, generator=gen) * 255).expand(3, size, size).clone()
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    r_min, r_max = 2.0, size / 2
    for _ in range(discs):
        u = torch.rand(1, generator=gen).item()
        radius = (r_min ** -2 + u * (r_max ** -2 - r_min ** -2)) ** -0.5
        cy, cx = (torch.rand(2, generator=gen) * size).tolist()
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 < radius * radius
        image[:, inside] = (torch.rand(3, generator=gen) * 255).reshape(3, 1)
    return image


def main(kind, out_dir, count, size):
    if kind not in ("spectral", "leaves"):
        sys.exit(__doc__)
    os.makedirs(out_dir, exist_ok=True)
    gen = torch.Generator().manual_seed(7)
    for i in range(count):
        image = spectral(size, gen) if kind == "spectral" else dead_leaves(size, gen)
        save_bmp(os.path.join(out_dir, f"{i:05d}.bmp"), image.permute(1, 2, 0).round().byte())


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
