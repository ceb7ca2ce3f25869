#!/usr/bin/python3
"""Are LibTorch's oneDNN int8 convolutions exact on low-bit grids?

Usage: bench/quant/requant_probe.py
For random 4-bit activation codes and 4-bit weights (the grids of a w4a4
student), runs quantized::conv2d_relu on the oneDNN engine and compares its
output codes with exact float64 arithmetic, and does the same for the float32
fake-quant computation (F.conv2d on the dequantized values, then
fake_quantize_per_tensor_affine). Prints, per shape and bias scale, the share
of codes that differ and how far from a rounding midpoint the differing
values are (in grid steps). Needs only python3-torch.
"""
import torch
import torch.nn.functional as F


def probe(n, c, size, k, out, stride, pad, bias_scale, bits=4):
    top = 2**bits - 1
    s_in, zp_in = 0.31, 7
    codes = torch.randint(0, top + 1, (n, c, size, size))
    x = torch._make_per_tensor_quantized_tensor(codes.to(torch.uint8), s_in, zp_in)
    x = x.contiguous(memory_format=torch.channels_last)
    w_int = torch.randint(-(top // 2), top // 2 + 1, (out, c, k, k))
    s_w = (torch.rand(out) * 0.02 + 0.005).double()
    w = torch._make_per_channel_quantized_tensor(
        w_int.to(torch.int8), s_w, torch.zeros(out, dtype=torch.long), 0)
    bias = torch.randn(out) * bias_scale
    packed = torch.ops.quantized.conv2d_prepack(w, bias, [stride] * 2, [pad] * 2, [1, 1], 1)
    acc = F.conv2d((codes - zp_in).double(), w_int.double(), stride=stride, padding=pad)
    exact = (acc * (s_in * s_w.view(1, -1, 1, 1)) + bias.double().view(1, -1, 1, 1)).relu()
    s_out = float(exact.max() / top)
    kernel = torch.ops.quantized.conv2d_relu(x, packed, s_out, 0).int_repr().long().clamp(max=top)
    x_fake = (codes - zp_in).float() * s_in
    w_fake = w_int.float() * s_w.float().view(-1, 1, 1, 1)
    y_fake = F.conv2d(x_fake, w_fake, bias, stride=stride, padding=pad).relu()
    fake = torch.round(torch.fake_quantize_per_tensor_affine(y_fake, s_out, 0, 0, top) / s_out).long()
    steps = exact / s_out
    reference = torch.clamp(torch.round(steps), 0, top).long()
    midpoint_distance = (steps - torch.floor(steps) - 0.5).abs()
    total = reference.numel()
    line = f"{c:4d}->{out:<4d} k{k} bias x{bias_scale:<5g} {total:9d} values:"
    for name, codes_out in (("oneDNN", kernel), ("fake32", fake)):
        differ = codes_out != reference
        share = differ.sum().item() / total
        far = midpoint_distance[differ].max().item() if differ.any() else 0.0
        line += f"  {name} differs {share:.1e} (max {far:.1e} steps from a midpoint)"
    print(line)


def main():
    torch.backends.quantized.engine = "onednn"
    torch.manual_seed(0)
    torch.set_num_threads(2)
    for bias_scale in (1.0, 30.0):
        probe(32, 3, 150, 7, 32, 2, 3, bias_scale)
        probe(32, 32, 36, 3, 32, 1, 1, bias_scale)
        probe(8, 128, 18, 3, 128, 1, 1, bias_scale)
        probe(8, 256, 9, 3, 256, 1, 1, bias_scale)


if __name__ == "__main__":
    main()
