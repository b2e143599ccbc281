#!/usr/bin/env python3
"""Markdown tables for benchmarks/README.md from a JMH result file (-rf json).

    python3 benchmarks/table.py jmh-result.json > table.md
    python3 benchmarks/table.py round-1/jmh-result.json round-2/jmh-result.json ... > table.md

Two tables, standard library only:

1. Every result: benchmark, parameters, score with JMH's 99.9% error, and for sampled results
   (Mode.SampleTime) p50 / p99; the bytes allocated per operation when the run had -prof gc; the
   CPU time per operation and the CPUs kept busy when it had CpuTimeProfiler (run.sh adds it).
2. Skymesh beside its peers: results whose method names differ only by the peer's name at the end
   (throughputSkymesh / throughputRSocket / throughputGrpc, decodeSkymesh / decodeNetty) with the
   same parameters share a row, with Skymesh's ratio to each peer (a rate: Skymesh / peer, higher
   is better for Skymesh; a time: peer / Skymesh, so higher is better for Skymesh too), and, with
   CpuTimeProfiler, each one's CPU per operation and busy CPUs.

Given several files, the rounds of one `run.sh --rounds N` run, it prints both tables for each round
and then Skymesh's ratio to each peer round by round, with the median of the rounds, and the same
for the CPU per operation (peer / Skymesh) when the rounds measured it.
"""

import json
import re
import statistics
import sys

PEERS = ["Skymesh", "RSocket", "Grpc", "Netty"]
PEER_NAMES = {"Skymesh": "Skymesh", "RSocket": "RSocket", "Grpc": "gRPC", "Netty": "Netty"}
PEER_SUFFIX = re.compile(r"^(.*?)(" + "|".join(PEERS) + r")$")


def human(value):
    """A figure with a thousands separator or an M suffix, three significant digits or more."""
    if value >= 10_000_000:
        return f"{value / 1e6:,.1f} M"
    if value >= 1_000_000:
        return f"{value / 1e6:,.2f} M"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:,.1f}"
    return f"{value:.3g}"


def short_unit(unit):
    return {"ops/s": "ops/s", "us/op": "µs/op", "ns/op": "ns/op", "ms/op": "ms/op"}.get(unit, unit)


def params_of(result):
    params = result.get("params") or {}
    return ", ".join(f"{k}={v}" for k, v in params.items())


def alloc_of(result):
    norm = (result.get("secondaryMetrics") or {}).get("gc.alloc.rate.norm")
    return None if norm is None else norm["score"]


def cpu_of(result):
    """(CPU ns per operation, CPUs busy) from CpuTimeProfiler, each None when not measured."""
    metrics = result.get("secondaryMetrics") or {}
    norm, busy = metrics.get("cpu.time.norm"), metrics.get("cpu.busy")
    return (None if norm is None else norm["score"], None if busy is None else busy["score"])


def cpu_cell(result):
    """CPU µs per operation and busy CPUs, as `3.91 µs, 1.56`; empty when not measured."""
    norm, busy = cpu_of(result)
    if norm is None:
        return ""
    return f"{norm / 1000:,.2f} µs, {busy:.2f}"


def is_time(result):
    return result["mode"] in ("sample", "avgt", "ss")


def percentiles_of(result):
    percentiles = result["primaryMetric"].get("scorePercentiles") or {}
    return percentiles.get("50.0"), percentiles.get("99.0")


def score_cell(result):
    metric = result["primaryMetric"]
    score, error, unit = metric["score"], metric.get("scoreError"), short_unit(metric["scoreUnit"])
    if not isinstance(error, (int, float)) or error != error:  # "NaN" after one iteration
        return f"{human(score)} {unit}"
    return f"{human(score)} ± {human(error)} {unit}"


def all_results(results):
    lines = [
        "| benchmark | parameters | mode | score | p50 / p99 | B/op | CPU/op, CPUs busy |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        name = result["benchmark"].rsplit(".", 2)
        name = f"{name[-2]}.{name[-1]}" if len(name) >= 2 else result["benchmark"]
        p50, p99 = percentiles_of(result)
        sampled = f"{human(p50)} / {human(p99)}" if result["mode"] == "sample" and p50 else ""
        alloc = alloc_of(result)
        lines.append(
            f"| {name} | {params_of(result)} | {result['mode']} | {score_cell(result)} | "
            f"{sampled} | {'' if alloc is None else f'{alloc:,.1f}'} | {cpu_cell(result)} |"
        )
    return "\n".join(lines)


def figure(result):
    """The figure a peer row compares: the score of a rate, p50 / p99 of a sampled time."""
    p50, p99 = percentiles_of(result)
    if result["mode"] == "sample" and p50 is not None:
        return f"{human(p50)} / {human(p99)}"
    return human(result["primaryMetric"]["score"])


def ratio_values(ours, theirs):
    """Skymesh's advantage over a peer as numbers, > 1 when Skymesh does better: (rate or mean
    time,) or, for a sampled time, (p50, p99)."""
    if is_time(ours):
        p50, p99 = percentiles_of(ours)
        q50, q99 = percentiles_of(theirs)
        if ours["mode"] == "sample" and p50 and q50:
            return (q50 / p50, q99 / p99)
        return (theirs["primaryMetric"]["score"] / ours["primaryMetric"]["score"],)
    return (ours["primaryMetric"]["score"] / theirs["primaryMetric"]["score"],)


def ratio(ours, theirs):
    """Skymesh's advantage over a peer as the tables print it."""
    return " / ".join(f"{v:.2f}" for v in ratio_values(ours, theirs))


def peer_of(result):
    """(class, method stem, peer) when the method's name ends with a peer's name, else None."""
    cls, method = result["benchmark"].rsplit(".", 2)[-2:]
    match = PEER_SUFFIX.match(method)
    if not match or not match.group(1):
        return None
    return cls, match.group(1), match.group(2)


def peer_rows(results):
    """(class, method stem, Skymesh's result, {peer: result}) for each Skymesh result; a peer's
    result matches when its parameters are Skymesh's (Skymesh may have more, such as observability,
    that the peers do not have)."""
    named = [(peer_of(r), r) for r in results]
    named = [(n, r) for n, r in named if n is not None]
    rows = []
    for (cls, stem, peer), ours in named:
        if peer != "Skymesh":
            continue
        ours_params = ours.get("params") or {}
        row = {"Skymesh": ours}
        for (other_cls, other_stem, other_peer), theirs in named:
            if (other_cls, other_stem, other_peer == "Skymesh") != (cls, stem, False):
                continue
            if theirs["mode"] != ours["mode"] or other_peer in row:
                continue
            their_params = theirs.get("params") or {}
            if all(ours_params.get(k) == v for k, v in their_params.items()):
                row[other_peer] = theirs
        rows.append((cls, stem, ours, row))
    return rows


def peer_results(results):
    """One row per Skymesh result, beside its peers' results."""
    rows = peer_rows(results)
    present = [p for p in PEERS if any(p in row for _, _, _, row in rows)]
    others = [p for p in present if p != "Skymesh"]
    if not others:
        return None
    header = (
        "| work | parameters | unit | "
        + " | ".join(PEER_NAMES[p] for p in present)
        + " | "
        + " | ".join(f"Skymesh / {PEER_NAMES[p]}" for p in others)
        + " | B/op ("
        + ", ".join(PEER_NAMES[p] for p in present)
        + ") | CPU/op, CPUs busy ("
        + ", ".join(PEER_NAMES[p] for p in present)
        + ") |"
    )
    lines = [header, "| " + " | ".join(["---"] * 3 + ["---:"] * (2 * len(present) - 1 + 2)) + " |"]
    for cls, stem, ours, row in rows:
        unit = short_unit(ours["primaryMetric"]["scoreUnit"])
        if ours["mode"] == "sample":
            unit += ", p50 / p99"
        cells = [figure(row[p]) if p in row else "" for p in present]
        ratios = [ratio(ours, row[p]) if p in row else "" for p in others]
        allocs = [alloc_of(row[p]) if p in row else None for p in present]
        alloc = ", ".join("" if a is None else f"{a:,.0f}" for a in allocs)
        cpus = [cpu_cell(row[p]) if p in row else "" for p in present]
        lines.append(
            f"| {cls}.{stem} | {params_of(ours)} | {unit} | "
            + " | ".join(cells)
            + " | "
            + " | ".join(ratios)
            + f" | {alloc if any(a is not None for a in allocs) else ''}"
            + f" | {'; '.join(cpus) if any(cpus) else ''} |"
        )
    return "\n".join(lines)


def cpu_ratio_values(ours, theirs):
    """The peer's CPU per operation over Skymesh's, (> 1 when Skymesh spends less,), or None."""
    mine, their = cpu_of(ours)[0], cpu_of(theirs)[0]
    return None if not mine or their is None else (their / mine,)


def ratios_by_round(rounds, measure=ratio_values):
    """Skymesh's ratio to each peer in each round by `measure`, and the median over the rounds."""
    table = {}
    for index, results in enumerate(rounds):
        for cls, stem, ours, row in peer_rows(results):
            for peer, theirs in row.items():
                values = measure(ours, theirs) if peer != "Skymesh" else None
                if values is not None:
                    key = (f"{cls}.{stem}", params_of(ours), PEER_NAMES[peer])
                    table.setdefault(key, {})[index] = values
    if not table:
        return None
    header = (
        "| work | parameters | Skymesh / | "
        + " | ".join(f"round {i + 1}" for i in range(len(rounds)))
        + " | median |"
    )
    lines = [header, "| --- | --- | --- | " + " | ".join(["---:"] * (len(rounds) + 1)) + " |"]
    for (work, params, peer), by_round in table.items():
        cells = [
            " / ".join(f"{v:.2f}" for v in by_round[i]) if i in by_round else ""
            for i in range(len(rounds))
        ]
        columns = list(zip(*by_round.values()))
        median = " / ".join(f"{statistics.median(c):.2f}" for c in columns)
        lines.append(f"| {work} | {params} | {peer} | " + " | ".join(cells) + f" | {median} |")
    return "\n".join(lines)


def load(path):
    with open(path, encoding="utf-8") as f:
        results = json.load(f)
    if not results:
        sys.stderr.write(f"{path}: no results\n")
    return results


def main(argv):
    if len(argv) < 2:
        sys.stderr.write("usage: table.py JMH_RESULT.json [MORE_ROUNDS.json ...]\n")
        return 2
    rounds = [load(path) for path in argv[1:]]
    if not all(rounds):
        return 1
    for index, results in enumerate(rounds):
        if len(rounds) > 1:
            if index > 0:
                print()
            print(f"Round {index + 1} ({argv[index + 1]}):")
            print()
        print(all_results(results))
        peers = peer_results(results)
        if peers:
            print()
            print(peers)
    if len(rounds) > 1:
        for title, measure in (
            ("Skymesh's ratio to each peer", ratio_values),
            ("CPU per operation, each peer's over Skymesh's", cpu_ratio_values),
        ):
            table = ratios_by_round(rounds, measure)
            if table:
                print()
                print(f"{title}, round by round (higher is better for Skymesh):")
                print()
                print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
