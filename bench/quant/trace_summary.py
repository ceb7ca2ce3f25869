#!/usr/bin/python3
"""Sums a chrome://tracing profile from `quant_bench speed --trace` by op.

Usage: bench/quant/trace_summary.py TRACE.json [TRACE.json ...]
Prints, per file, each top-level op's total milliseconds, call count and share
of the pass (ops nested in another op count only in their parent), sorted by
time. Standard library only.
"""
import collections
import json
import sys


def summarize(path):
    with open(path) as f:
        events = json.load(f)
    if isinstance(events, dict):
        events = events.get("traceEvents", [])
    # Complete events ("X") with a duration, or begin/end pairs ("B"/"E").
    spans = []
    open_spans = collections.defaultdict(list)
    for e in events:
        ph = e.get("ph")
        if ph == "X":
            spans.append((float(e["ts"]), float(e["ts"]) + float(e.get("dur", 0)), e["name"]))
        elif ph == "B":
            open_spans[(e.get("tid"), e["name"])].append(float(e["ts"]))
        elif ph == "E":
            stack = open_spans[(e.get("tid"), e["name"])]
            if stack:
                spans.append((stack.pop(), float(e["ts"]), e["name"]))
    spans.sort(key=lambda s: (s[0], -s[1]))
    totals = collections.defaultdict(float)
    counts = collections.Counter()
    end_of_parent = -1.0
    for start, end, name in spans:
        if start < end_of_parent:
            continue  # Nested in a counted op.
        totals[name] += end - start
        counts[name] += 1
        end_of_parent = end
    whole = sum(totals.values())
    print(f"{path}: {whole / 1000:.1f} ms in top-level ops")
    for name, us in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {us / 1000:9.2f} ms {counts[name]:5d} x  {100 * us / whole:5.1f} %  {name}")


if __name__ == "__main__":
    for trace in sys.argv[1:]:
        summarize(trace)
