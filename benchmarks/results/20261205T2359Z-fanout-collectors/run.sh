#!/usr/bin/env bash
cd /work/main
for r in 1 2; do
  for gc in default zgc parallel; do
    case $gc in
      default) opts="" ;;
      zgc) opts="-XX:+UseZGC" ;;
      parallel) opts="-XX:+UseParallelGC" ;;
    esac
    JAVA_TOOL_OPTIONS="$opts" benchmarks/run.sh --no-build --out /tmp/gcexp/$gc-r$r MembershipFanOut > /tmp/gcexp/$gc-r$r.log 2>&1
  done
done
echo done > /tmp/gcexp/finished
