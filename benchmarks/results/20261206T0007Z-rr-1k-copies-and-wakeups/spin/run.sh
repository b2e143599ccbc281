#!/usr/bin/env bash
cd /tmp/spin
P="-f 1 -wi 3 -i 10 -w 3s -r 3s -prof gc -p payloadSize=1024 -p inFlight=256 -p observability=off -foe true"
for r in 1 2 3; do
  for lib in Skymesh RSocket; do
    for spin in 0 50; do
      java -jar /tmp/exp-spin.jar "RequestResponseBenchmark.throughput$lib\$" $P -jvmArgsAppend "-Dskymesh.bench.loops=own -Dskymesh.experiment.spinMicros=$spin" -rf json -rff $lib-spin$spin-r$r.json > $lib-spin$spin-r$r.log 2>&1
    done
  done
done
echo done > finished
