#!/usr/bin/python3
"""Paired comparison of `quant_bench all-pairs` reports against a reference.

Usage: bench/eval/all_pairs_compare.py REFERENCE.json MODEL.json [MODEL.json ...]

For each model and FAR target it prints the pooled TAR, its difference from
the reference's, and that difference's standard error over LFW's ten
person-disjoint folds: the sample standard deviation of the per-fold
differences (each fold's TAR at the model's own pooled threshold) over
sqrt(folds). Paired, because both models score the same images: the people
that make one fold hard make it hard for both, so the difference is known
far better than either TAR alone. Standard library only.
"""
import json
import math
import sys


def load(path):
    with open(path) as f:
        report = json.load(f)
    pairs = report["all_pairs"]
    return report.get("model", path), pairs


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    ref_name, ref = load(argv[1])
    fars = [point["far_target"] for point in ref["tar_at_far"]]
    header = "model".ljust(40) + "".join(f"  TAR@{far:.0e} (diff +- se)".ljust(30) for far in fars)
    print(header)
    rows = [(ref_name, ref)] + [load(path) for path in argv[2:]]
    for name, pairs in rows:
        if pairs["groups"] != ref["groups"]:
            print(f"{name}: other folds than the reference; not comparable", file=sys.stderr)
            return 1
        cells = []
        for i, far in enumerate(fars):
            point = pairs["tar_at_far"][i]
            base = ref["tar_at_far"][i]
            if point["far_target"] != far or not point["measurable"]:
                cells.append("n/a")
                continue
            diffs = [a - b for a, b in zip(point["group_tar"], base["group_tar"])]
            mean = sum(diffs) / len(diffs)
            sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1))
            se = sd / math.sqrt(len(diffs))
            delta = point["tar"] - base["tar"]
            cells.append(f"{100 * point['tar']:6.2f} ({100 * delta:+5.2f} +- {100 * se:4.2f})")
        print(name[-40:].ljust(40) + "".join(f"  {c}".ljust(30) for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
