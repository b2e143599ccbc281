#!/bin/bash
# usage: run.sh NAME BENCHREGEX [jmh args]
name=$1; shift; regex=$1; shift
cd /work/main
java -jar benchmarks/target/benchmarks.jar "$regex" -f 1 -wi 3 -i 10 -w 3s -r 3s -jvmArgsAppend "-Dskymesh.bench.loops=own" "$@" > /tmp/sys/$name.log 2>&1 &
jp=$!
for i in $(seq 60); do pid=$(pgrep -f 'jmh.runner.ForkedMain' | head -1); [ -n "$pid" ] && break; sleep 0.5; done
perf stat -I 1000 -x, -e syscalls:sys_enter_sendto,syscalls:sys_enter_recvfrom,syscalls:sys_enter_writev,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_write,syscalls:sys_enter_read,context-switches -p $pid -o /tmp/sys/$name.perf 2>/dev/null &
pp=$!
wait $jp
kill -INT $pp 2>/dev/null; wait $pp 2>/dev/null
