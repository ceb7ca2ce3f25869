#!/usr/bin/python3
"""Reference data for the PyTorch state_dict importer tests (a CTest fixture).

Builds MobileFaceNet and iResNet in plain PyTorch with the layout (module
names, shapes, order of operations) of InsightFace's arcface_torch backbones,
gives them random weights and random BatchNorm running statistics from fixed
seeds, and writes into --out:

  mobilefacenet.pt, iresnet18.pt   state_dicts, exactly as torch.save(model.state_dict(), f)
  mobilefacenet_dataparallel.pt    the same MobileFaceNet through nn.DataParallel ("module." names)
  mobilefacenet_protocol4.pt       the same, pickled with protocol 4 instead of torch.save's 2
  mobilefacenet_fp16.pt            the same MobileFaceNet weights in float16
  mobilefacenet_broken.pt          one tensor missing, one unexpected, one mis-shaped
  legacy.pt                        the pre-1.6 (non-zip) torch.save format
  whole_model.pt                   torch.save(model): a pickled nn.Module, not a state_dict
  torchscript.pt                   a TorchScript archive (torch.jit.save)
  mobilefacenet_data.pkl           the raw pickle inside mobilefacenet.pt
  reference.pt                     {"input": N x 3 x 112 x 112, "<model>": eval-mode outputs}
  shapes.json                      every architecture's state_dict names, shapes and
                                   parameter count (iResNet-34/50/100 built on the meta
                                   device: shapes only, no weights, no forward pass)

Run with Debian's /usr/bin/python3 (python3-torch 1.13), not a pyenv python.
"""

import argparse
import json
import os
import zipfile

import torch
from torch import nn

# ----------------------------------------------------------------------------
# MobileFaceNet, arcface_torch layout. Every block is a module whose single
# child is an nn.Sequential called "layers".


class Blocks(nn.Module):
    def __init__(self, *modules, residual=False):
        super().__init__()
        self.layers = nn.Sequential(*modules)
        self.residual = residual

    def forward(self, x):
        y = self.layers(x)
        return x + y if self.residual else y


def conv_block(cin, cout, kernel=1, stride=1, padding=0, groups=1, device=None):
    return Blocks(
        nn.Conv2d(cin, cout, kernel, stride, padding, groups=groups, bias=False, device=device),
        nn.BatchNorm2d(cout, device=device),
        nn.PReLU(cout, device=device))


def linear_block(cin, cout, kernel=1, stride=1, padding=0, groups=1, device=None):
    return Blocks(
        nn.Conv2d(cin, cout, kernel, stride, padding, groups=groups, bias=False, device=device),
        nn.BatchNorm2d(cout, device=device))


def depth_wise(cin, cout, residual, stride, groups, device=None):
    return Blocks(
        conv_block(cin, groups, device=device),
        conv_block(groups, groups, 3, stride, 1, groups=groups, device=device),
        linear_block(groups, cout, device=device),
        residual=residual)


def residual_stack(channels, count, groups, device=None):
    return Blocks(*[depth_wise(channels, channels, True, 1, groups, device) for _ in range(count)])


class MobileFaceNet(nn.Module):
    def __init__(self, embedding_dim=512, blocks=(1, 4, 6, 2), scale=2, device=None):
        super().__init__()
        narrow, wide = 64 * scale, 128 * scale
        stem2 = (conv_block(narrow, narrow, 3, 1, 1, groups=64, device=device) if blocks[0] == 1
                 else residual_stack(narrow, blocks[0], 128, device))
        self.layers = nn.ModuleList([
            conv_block(3, narrow, 3, 2, 1, device=device),
            stem2,
            depth_wise(narrow, narrow, False, 2, 128, device),
            residual_stack(narrow, blocks[1], 128, device),
            depth_wise(narrow, wide, False, 2, 256, device),
            residual_stack(wide, blocks[2], 256, device),
            depth_wise(wide, wide, False, 2, 512, device),
            residual_stack(wide, blocks[3], 256, device),
        ])
        self.conv_sep = conv_block(wide, 512, device=device)
        self.features = Blocks(
            linear_block(512, 512, 7, 1, 0, groups=512, device=device),
            nn.Flatten(),
            nn.Linear(512, embedding_dim, bias=False, device=device),
            nn.BatchNorm1d(embedding_dim, device=device))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.features(self.conv_sep(x))


# ----------------------------------------------------------------------------
# iResNet, arcface_torch layout.


class IBasicBlock(nn.Module):
    def __init__(self, cin, planes, stride, device=None):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin, eps=1e-5, device=device)
        self.conv1 = nn.Conv2d(cin, planes, 3, 1, 1, bias=False, device=device)
        self.bn2 = nn.BatchNorm2d(planes, eps=1e-5, device=device)
        self.prelu = nn.PReLU(planes, device=device)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False, device=device)
        self.bn3 = nn.BatchNorm2d(planes, eps=1e-5, device=device)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, planes, 1, stride, bias=False, device=device),
                nn.BatchNorm2d(planes, eps=1e-5, device=device))

    def forward(self, x):
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (x if self.downsample is None else self.downsample(x))


class IResNet(nn.Module):
    def __init__(self, layers, embedding_dim=512, device=None):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False, device=device)
        self.bn1 = nn.BatchNorm2d(64, eps=1e-5, device=device)
        self.prelu = nn.PReLU(64, device=device)
        cin = 64
        for i, count in enumerate(layers):
            planes = 64 << i
            blocks = [IBasicBlock(cin, planes, 2, device)]
            blocks += [IBasicBlock(planes, planes, 1, device) for _ in range(count - 1)]
            setattr(self, 'layer%d' % (i + 1), nn.Sequential(*blocks))
            cin = planes
        self.bn2 = nn.BatchNorm2d(512, eps=1e-5, device=device)
        self.dropout = nn.Dropout(p=0.0)
        self.fc = nn.Linear(512 * 7 * 7, embedding_dim, device=device)
        self.features = nn.BatchNorm1d(embedding_dim, eps=1e-5, device=device)

    def forward(self, x):
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.dropout(torch.flatten(self.bn2(x), 1))
        return self.features(self.fc(x))


IRESNET_LAYERS = {
    'iresnet18': (2, 2, 2, 2),
    'iresnet34': (3, 4, 6, 3),
    'iresnet50': (3, 4, 14, 3),
    'iresnet100': (3, 13, 30, 3),
}


def build(name, device=None):
    if name == 'mobilefacenet':
        return MobileFaceNet(device=device)
    return IResNet(IRESNET_LAYERS[name], device=device)


# ----------------------------------------------------------------------------


@torch.no_grad()
def randomize(model, seed):
    """Random weights and BN statistics that keep activations of order 1, so
    an absolute 1e-4 tolerance means the same thing in every layer."""
    gen = torch.Generator().manual_seed(seed)

    def uniform(t, lo, hi):
        t.copy_(torch.rand(t.shape, generator=gen) * (hi - lo) + lo)

    def normal(t, std):
        t.copy_(torch.randn(t.shape, generator=gen) * std)

    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            normal(m.weight, (1.0 / fan_in) ** 0.5)
            if m.bias is not None:
                normal(m.bias, 0.1)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            uniform(m.weight, 0.5, 1.5)
            normal(m.bias, 0.1)
            normal(m.running_mean, 0.2)
            uniform(m.running_var, 0.5, 2.0)
            m.num_batches_tracked.fill_(int(torch.randint(1, 10000, (1,), generator=gen)))
        elif isinstance(m, nn.PReLU):
            uniform(m.weight, 0.05, 0.4)


def shape_table(name):
    model = build(name, device='meta')
    return {
        'num_parameters': sum(p.numel() for p in model.parameters()),
        'tensors': [[k, list(v.shape), str(v.dtype).replace('torch.', '')]
                    for k, v in model.state_dict().items()],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    out = lambda name: os.path.join(args.out, name)
    torch.set_num_threads(2)

    gen = torch.Generator().manual_seed(20220821)
    x = torch.rand((3, 3, 112, 112), generator=gen) * 2 - 1  # (p - 127.5) / 127.5 range.
    reference = {'input': x}

    for seed, name in enumerate(['mobilefacenet', 'iresnet18']):
        model = build(name)
        randomize(model, seed + 1)
        model.eval()
        with torch.no_grad():
            reference[name] = model(x)
        torch.save(model.state_dict(), out(name + '.pt'))
        if name != 'mobilefacenet':
            continue
        torch.save(nn.DataParallel(model).state_dict(), out('mobilefacenet_dataparallel.pt'))
        # Protocol 4 brings FRAME, MEMOIZE, STACK_GLOBAL and SHORT_BINUNICODE.
        torch.save(model.state_dict(), out('mobilefacenet_protocol4.pt'), pickle_protocol=4)
        half = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
        torch.save(half, out('mobilefacenet_fp16.pt'))
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in half.items()})
        with torch.no_grad():
            reference['mobilefacenet_fp16'] = model(x)
        torch.save(model.state_dict(), out('legacy.pt'), _use_new_zipfile_serialization=False)
        torch.save(model, out('whole_model.pt'))
        broken = model.state_dict()
        del broken['conv_sep.layers.0.weight']
        broken['head.weight'] = torch.zeros(4)
        broken['features.layers.2.weight'] = torch.zeros(256, 512)
        torch.save(broken, out('mobilefacenet_broken.pt'))
        with zipfile.ZipFile(out('mobilefacenet.pt')) as archive:
            pickle = [n for n in archive.namelist() if n.endswith('/data.pkl')][0]
            with open(out('mobilefacenet_data.pkl'), 'wb') as f:
                f.write(archive.read(pickle))
    for name, value in reference.items():
        print('%s: shape %s, max |value| %.3f' % (name, list(value.shape), value.abs().max()))
    torch.save(reference, out('reference.pt'))

    torch.jit.save(torch.jit.script(nn.Linear(2, 2)), out('torchscript.pt'))

    shapes = {name: shape_table(name)
              for name in ['mobilefacenet', 'iresnet18', 'iresnet34', 'iresnet50', 'iresnet100']}
    with open(out('shapes.json'), 'w') as f:
        json.dump(shapes, f, indent=1)


if __name__ == '__main__':
    main()
