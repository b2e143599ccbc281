#!/usr/bin/env bash
# $1 = benchmark method, $2 = payload
cd /tmp/sysc
name=$1-$2-spin$3
java -jar /tmp/exp-spin.jar "RequestResponseBenchmark.$1\$" -f 1 -wi 3 -i 3 -w 3s -r 8s -p payloadSize=$2 -p inFlight=256 -p observability=off -jvmArgsAppend "-Dskymesh.bench.loops=own -Dskymesh.experiment.spinMicros=$3" > $name.log 2>&1 &
jmh=$!
sleep 25
pid=$(pgrep -f ForkedMain | head -1)
perf stat -e 'syscalls:sys_enter_writev,syscalls:sys_enter_write,syscalls:sys_enter_sendto,syscalls:sys_enter_read,syscalls:sys_enter_recvfrom,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_futex,context-switches,task-clock' -p $pid -- sleep 6 > $name.perf 2>&1
wait $jmh
