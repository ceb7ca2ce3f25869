#!/usr/bin/env python3
"""How often the 95 % bootstrap interval of TAR@FAR holds the true TAR.

Simulates LFW-sized verification sets (3,000 same and 3,000 different
pairs) with Gaussian scores: same pairs N(separation, 1), different pairs
N(0, 1), so the true TAR at FAR f is Phi(separation - Phi^-1(1 - f)). For
each independent set it computes the stratified percentile bootstrap
interval the way core/eval/tar_bootstrap.cc does (conservative TAR: at most
floor(f * n) impostors accepted) and counts how often it holds the truth.
Also prints the spread of the point estimate over the sets, the sampling
uncertainty the interval tries to estimate.

Usage: /usr/bin/python3 bench/eval/tar_interval_coverage.py [sets] [resamples]
(standard library only; about a minute with the defaults 100 and 200).
"""
import bisect
import math
import random
import statistics
import sys
from statistics import NormalDist


def tar_at_far(same_sorted, different, far):
    d = sorted(different, reverse=True)
    allowed = int(math.floor(far * len(d) * (1 + 1e-9)))
    if allowed >= len(d):
        return 1.0
    threshold = d[allowed]  # Accept only scores above the (allowed+1)-th impostor.
    return (len(same_sorted) - bisect.bisect_right(same_sorted, threshold)) / len(same_sorted)


def quantile(values, q):
    values = sorted(values)
    pos = q * (len(values) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (pos - lo) * (values[hi] - values[lo])


def main():
    sets = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    resamples = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    n, separation = 3000, 4.5
    rng = random.Random(1)
    for far in (1e-2, 1e-3):
        truth = NormalDist().cdf(separation - NormalDist().inv_cdf(1 - far))
        covered, points, widths = 0, [], []
        for _ in range(sets):
            same = [separation + rng.gauss(0, 1) for _ in range(n)]
            different = [rng.gauss(0, 1) for _ in range(n)]
            points.append(tar_at_far(sorted(same), different, far))
            boot = []
            for _ in range(resamples):
                s = sorted(rng.choices(same, k=n))
                boot.append(tar_at_far(s, rng.choices(different, k=n), far))
            low, high = quantile(boot, 0.025), quantile(boot, 0.975)
            widths.append(high - low)
            covered += low <= truth <= high
        print(f"FAR {far:g}: true TAR {100 * truth:.2f} %, point estimate sd "
              f"{100 * statistics.pstdev(points):.2f} points, 95 % spread of the point estimate "
              f"{100 * (quantile(points, 0.975) - quantile(points, 0.025)):.2f}, median interval "
              f"width {100 * statistics.median(widths):.2f}, coverage {covered}/{sets}")


if __name__ == "__main__":
    main()
