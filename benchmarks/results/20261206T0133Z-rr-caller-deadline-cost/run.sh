#!/usr/bin/env bash
cd /tmp/nodl
P="-f 1 -wi 3 -i 10 -w 3s -r 3s -prof io.skymesh.benchmarks.CpuTimeProfiler -prof gc -p payloadSize=1024 -p inFlight=256 -p observability=off -foe true"
for r in 1 2 3 4; do
  java -jar /tmp/exp-nodl.jar 'RequestResponseBenchmark.throughputSkymesh$' $P -jvmArgsAppend "-Dskymesh.bench.loops=own" -rf json -rff map-r$r.json > map-r$r.log 2>&1
  java -jar /tmp/exp-nodl.jar 'RequestResponseBenchmark.throughputSkymesh$' $P -jvmArgsAppend "-Dskymesh.bench.loops=own -Dskymesh.experiment.noCallerDeadline=true" -rf json -rff nodl-r$r.json > nodl-r$r.log 2>&1
done
echo done > finished
