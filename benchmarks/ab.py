#!/usr/bin/env python3
"""A Markdown table of an A/B run in one fork (benchmarks/README.md, "Comparing two variants in
one fork"): a JMH result file (-rf json) of a run with -Dskymesh.bench.alternate=<class>#<field>,
whose measured iterations alternate variant A (the field true) and variant B (false).

    python3 benchmarks/ab.py fork-1.json fork-2.json ... > ab.md

A run's first measured iteration must be an A one: an even number of warm-up iterations (-wi).
For each result and each of its forks, standard library only:

- the mean of A's iterations and of B's, for the score, the CPU time per operation
  (CpuTimeProfiler) and the bytes per operation (-prof gc) when the run measured them;
- B's CPU per operation over A's, iteration by iteration: each B iteration over the mean of the A
  iterations either side of it (so a drift of the machine during the fork cancels), as the median
  of those ratios and how many of them are below 1;
- for a sampled benchmark (Mode.SampleTime), the score is each iteration's mean, and a last
  column gives p50 and p99 of A's iterations merged and of B's, with B's over A's by neighbours;
- A's score over B's the same way, neighbour by neighbour: the median of each B iteration's A
  neighbours over it. In a head-to-head run (run.sh --head-to-head) A is the side that went first
  (the parameter `first`, Skymesh unless it says rsocket); a last table gives Skymesh over RSocket
  for every fork, whichever went first, and the median of them all.
"""

import json
import statistics
import sys


def split(values):
    return values[0::2], values[1::2]


def neighbour_ratios(values):
    a, b = split(values)
    ratios = []
    for k, value in enumerate(b):
        around = [a[k]] + ([a[k + 1]] if k + 1 < len(a) else [])
        ratios.append(value / statistics.mean(around))
    return ratios


def forks(metric):
    """Per fork, the score of each iteration: a sampled benchmark's is its samples' mean."""
    if "rawData" in metric:
        return metric["rawData"]
    return [[sum(v * n for v, n in it) / sum(n for _, n in it) for it in fork]
            for fork in metric["rawDataHistogram"]]


def percentile(histogram, p):
    """The p-th percentile of samples given as [value, count] pairs, in any order."""
    pairs = sorted(histogram)
    rank = p / 100 * sum(n for _, n in pairs)
    seen = 0
    for value, count in pairs:
        seen += count
        if seen >= rank:
            return value
    return pairs[-1][0]


def percentiles(fork):
    """A sampled fork's p50 and p99, A's and B's iterations merged, and B's over A's by
    neighbours: each B iteration's percentile over the mean of the A iterations either side."""
    a, b = split(fork)
    cells = []
    for p in (50, 99):
        merged_a = [pair for it in a for pair in it]
        merged_b = [pair for it in b for pair in it]
        ratios = neighbour_ratios([percentile(it, p) for it in fork])
        cells.append(f"p{p} {percentile(merged_a, p):,.1f} / {percentile(merged_b, p):,.1f},"
                     f" B / A {statistics.median(ratios):.2f}")
    return "; ".join(cells)


def main(paths):
    print("| file | benchmark | parameters | fork | score A / B | score A / B: mean, median of"
          " neighbours | CPU per op A / B | B / A: mean, median of neighbours, below 1 | B/op A / B"
          " | sampled: A / B, B / A by neighbours |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    head_to_head = []
    for path in paths:
        with open(path) as f:
            results = json.load(f)
        for result in results:
            unit = result["primaryMetric"]["scoreUnit"]
            secondary = result.get("secondaryMetrics", {})
            for index, score in enumerate(forks(result["primaryMetric"])):
                if len(score) < 4 or len(score) % 2:
                    raise SystemExit(f"{path}: {len(score)} iterations in a fork; an A/B run"
                                     " needs an even number, 4 or more")
                score_a, score_b = split(score)
                row = [path, result["benchmark"].rsplit(".", 1)[-1],
                       ", ".join(f"{k}={v}" for k, v in result.get("params", {}).items()),
                       str(index + 1),
                       f"{statistics.mean(score_a):,.0f} / {statistics.mean(score_b):,.0f} {unit}",
                       f"{statistics.mean(score_a) / statistics.mean(score_b):.3f},"
                       f" {statistics.median(1 / r for r in neighbour_ratios(score)):.3f}"]
                if "cpu.time.norm" in secondary:
                    cpu = forks(secondary["cpu.time.norm"])[index]
                    cpu_a, cpu_b = split(cpu)
                    ratios = neighbour_ratios(cpu)
                    below = sum(r < 1 for r in ratios)
                    row += [f"{statistics.mean(cpu_a):,.0f} / {statistics.mean(cpu_b):,.0f} ns",
                            f"{statistics.mean(cpu_b) / statistics.mean(cpu_a):.3f},"
                            f" {statistics.median(ratios):.3f}, {below} of {len(ratios)}"]
                else:
                    row += ["", ""]
                if "gc.alloc.rate.norm" in secondary:
                    alloc_a, alloc_b = split(forks(secondary["gc.alloc.rate.norm"])[index])
                    row.append(
                        f"{statistics.mean(alloc_a):,.0f} / {statistics.mean(alloc_b):,.0f}")
                else:
                    row.append("")
                histograms = result["primaryMetric"].get("rawDataHistogram")
                row.append(percentiles(histograms[index]) if histograms else "")
                print("| " + " | ".join(row) + " |")
                if result["benchmark"].endswith("HeadToHead"):
                    head_to_head.append((result, score))
    if head_to_head:
        print_head_to_head(head_to_head)


def print_head_to_head(forks_run):
    """Skymesh over RSocket for every head-to-head fork, whichever went first, and their median:
    rates for a throughput benchmark, mean round trips (RSocket's over Skymesh's) for a sampled
    one, so that higher is better for Skymesh in both."""
    by_params = {}
    for result, score in forks_run:
        params = dict(result.get("params", {}))
        first = params.pop("first", "skymesh")
        a, b = split(score)
        skymesh, rsocket = (a, b) if first == "skymesh" else (b, a)
        ratio = statistics.mean(skymesh) / statistics.mean(rsocket)
        if "rawDataHistogram" in result["primaryMetric"]:
            ratio = 1 / ratio  # times: RSocket's over Skymesh's
        key = (result["benchmark"].rsplit(".", 1)[-1],
               ", ".join(f"{k}={v}" for k, v in params.items()))
        by_params.setdefault(key, []).append((first, ratio))
    print()
    print("Head to head, Skymesh against RSocket (rate over rate, or RSocket's mean round trip"
          " over Skymesh's; higher is better for Skymesh), every fork, by which went first:")
    print()
    print("| benchmark | parameters | Skymesh first | RSocket first | median of all |")
    print("| --- | --- | --- | --- | ---: |")
    for (benchmark, params), ratios in by_params.items():
        cells = [", ".join(f"{r:.3f}" for f, r in ratios if f == first) or "none"
                 for first in ("skymesh", "rsocket")]
        median = statistics.median(r for _, r in ratios)
        print(f"| {benchmark} | {params} | {cells[0]} | {cells[1]} | {median:.3f} |")

if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(sys.argv[1:])
