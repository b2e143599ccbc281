#!/usr/bin/env bash
cd /tmp/nocopy
P="-f 1 -wi 3 -i 10 -w 3s -r 3s -prof gc -p payloadSize=1024 -p inFlight=256 -p observability=off -jvmArgsAppend -Dskymesh.bench.loops=own -foe true"
for r in 1 2 3; do
  java -jar /tmp/exp-nocopy.jar 'RequestResponseBenchmark.throughputSkymesh' $P -rf json -rff base-r$r.json > base-r$r.log 2>&1
  java -jar /tmp/exp-nocopy.jar 'RequestResponseBenchmark.throughputSkymesh' $P -jvmArgsAppend -Dskymesh.experiment.nocopy=true -rf json -rff nocopy-r$r.json > nocopy-r$r.log 2>&1
  java -jar /tmp/exp-nocopy.jar 'RequestResponseBenchmark.throughputRSocket' $P -rf json -rff rsocket-r$r.json > rsocket-r$r.log 2>&1
done
echo done > finished
