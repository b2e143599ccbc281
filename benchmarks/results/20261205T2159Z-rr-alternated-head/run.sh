#!/usr/bin/env bash
set -euo pipefail
cd /work/main
mvn -B -q -o -pl benchmarks -am -DskipTests -Dspotless.check.skip=true -Djacoco.skip=true package >/tmp/rrab/build.log 2>&1
for round in 1 2 3; do
  for size in 64 1024; do
    if [[ $round -eq 1 ]]; then re='RequestResponseBenchmark.throughput'; else re='RequestResponseBenchmark.throughput(Skymesh|RSocket)'; fi
    MVN_FLAGS=-o benchmarks/run.sh --no-build --forks 1 --out /tmp/rrab/r$round-$size "$re" -- -p inFlight=256 -p observability=off -p transport=plain -p payloadSize=$size > /tmp/rrab/r$round-$size.log 2>&1
  done
done
echo ALLDONE
