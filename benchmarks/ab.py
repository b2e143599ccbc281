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
  of those ratios and how many of them are below 1.
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
    return metric["rawData"]


def main(paths):
    print("| file | benchmark | parameters | fork | score A / B | CPU per op A / B | B / A: mean,"
          " median of neighbours, below 1 | B/op A / B |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
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
                       f"{statistics.mean(score_a):,.0f} / {statistics.mean(score_b):,.0f} {unit}"]
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
                print("| " + " | ".join(row) + " |")

if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(sys.argv[1:])
