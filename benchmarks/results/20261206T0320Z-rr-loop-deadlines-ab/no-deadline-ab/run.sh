#!/usr/bin/env bash
# One fork, iterations alternating: even = no caller's deadline at all, odd = the caller's on its loop.
cd /tmp/exp6
for SIZE in 1024 1024 1024; do
  n=$((n+1))
  P="-f 1 -wi 4 -i 20 -w 2s -r 2s -prof io.skymesh.benchmarks.CpuTimeProfiler -prof gc -p payloadSize=$SIZE -p inFlight=256 -p observability=off -foe true"
  java -jar /tmp/exp-ab-nodl.jar 'RequestResponseBenchmark.throughputSkymesh$' $P -jvmArgsAppend "-Dskymesh.bench.loops=own -Dskymesh.experiment.alternate=true" -rf json -rff nodl-$SIZE-f$n.json > nodl-$SIZE-f$n.log 2>&1
done
echo done > finished
