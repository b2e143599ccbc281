#!/usr/bin/env bash
# Alternated one-fork rounds: the wheel (ae804d3) against the caller's deadline on its loop.
cd /tmp/exp4
SIZE=${SIZE:-1024}
P="-f 1 -wi 3 -i 10 -w 3s -r 3s -prof io.skymesh.benchmarks.CpuTimeProfiler -prof gc -p payloadSize=$SIZE -p inFlight=256 -p observability=off -foe true"
for r in 1 2 3 4; do
  java -jar /tmp/exp-base.jar 'RequestResponseBenchmark.throughputSkymesh$' $P -jvmArgsAppend "-Dskymesh.bench.loops=own" -rf json -rff wheel-$SIZE-r$r.json > wheel-$SIZE-r$r.log 2>&1
  java -jar /tmp/exp-loop.jar 'RequestResponseBenchmark.throughputSkymesh$' $P -jvmArgsAppend "-Dskymesh.bench.loops=own" -rf json -rff loop-$SIZE-r$r.json > loop-$SIZE-r$r.log 2>&1
done
echo done > finished-$SIZE
