#!/usr/bin/env bash
# Runs Skymesh's JMH benchmarks with the protocol of benchmarks/README.md ("Protocol") and writes
# the JSON, the run's log, a note of the machine and the README tables into one directory.
#
#   benchmarks/run.sh [options] [JMH benchmark regex ...]
#
#   --out DIR     where the results go (default benchmarks/results/<UTC date and time>)
#   --forks N     JMH forks per benchmark (default 1; 2 or more doubles the time, and tells a
#                 fork's luck from the code's)
#   --rounds N    run the benchmarks N times over (default 1), each round's JSON and log in
#                 round-K/: JMH runs every fork of one benchmark before the next, so a peer's forks
#                 follow Skymesh's by minutes; rounds alternate them, and table.md gives the
#                 ratios round by round with their median (name one parameter set per run to keep
#                 the peers' forks next to each other)
#   --no-gc       without -prof gc (the bytes per operation column stays empty)
#   --no-build    use the benchmarks.jar already built
#   --io-uring    build with Netty's io_uring transport, which Reactor Netty then prefers to epoll
#                 for Skymesh and RSocket alike (gRPC keeps its shaded epoll); machine.txt says
#                 which transport the jar carries
#   --quick       -wi 0 -i 1 -w 1s -r 1s: checks that the benchmarks run, figures meaningless
#   --shared-loops  each library's shared event loops instead of one loop thread per side of every
#                 pair (-Dskymesh.bench.loops=shared; see EventLoops.java)
#   --alternate CLASS#FIELD  an A/B run in one fork: the static boolean FIELD (added to the code
#                 under test in an uncommitted tree) is true in even iterations and false in odd
#                 ones (Alternation.java); -wi 4 -i 20 -w 2s -r 2s, and ab.md compares the two
#                 (ab.py). Name benchmarks whose state calls Alternation (RequestResponse,
#                 MeshSend)
#   --head-to-head  the same protocol and ab.md for a benchmark whose sides take turns in one fork
#                 (RequestResponseBenchmark.*HeadToHead: A is the side that goes first, Skymesh
#                 unless -p first=rsocket; pass -p first=skymesh,rsocket for both orders)
#   --            everything after it goes to JMH unchanged (e.g. -- -p payloadSize=1024)
#   MVN_FLAGS     extra flags for the build, e.g. MVN_FLAGS=-o to build offline
#
# Without a regex it runs the whole suite, which takes hours at this protocol: name the
# benchmarks of a change (RequestResponse, MeshSend, RouterBenchmark, MembershipFanOut ...).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

out=""
forks=1
rounds=1
gc=1
build=1
quick=0
loops=own
alternate=""
head_to_head=0
profiles=()
regexes=()
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --forks) forks="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --no-gc) gc=0; shift ;;
    --no-build) build=0; shift ;;
    --io-uring) profiles=(-P io-uring); shift ;;
    --quick) quick=1; shift ;;
    --shared-loops) loops=shared; shift ;;
    --alternate) alternate="$2"; shift 2 ;;
    --head-to-head) head_to_head=1; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) regexes+=("$1"); shift ;;
  esac
done

for count in "$forks" "$rounds"; do
  if ! [[ $count =~ ^[1-9][0-9]*$ ]]; then
    echo "run.sh: --forks and --rounds take a whole number of at least 1, not '$count'" >&2
    exit 2
  fi
done

if [[ -z "$out" ]]; then
  out="benchmarks/results/$(date -u +%Y%m%dT%H%M%SZ)"
fi
mkdir -p "$out"
jar="$root/benchmarks/target/benchmarks.jar"

if [[ $build -eq 1 ]]; then
  # The reactor build, not install: nothing goes into ~/.m2.
  # shellcheck disable=SC2086 # MVN_FLAGS is a list of flags, e.g. MVN_FLAGS=-o (offline)
  mvn -B -q ${MVN_FLAGS:-} ${profiles[*]:-} -pl benchmarks -am -DskipTests package
fi
if [[ ! -f "$jar" ]]; then
  echo "run.sh: $jar is missing; build it (without --no-build)" >&2
  exit 1
fi

if [[ $quick -eq 1 ]]; then
  protocol=(-f "$forks" -wi 0 -i 1 -w 1s -r 1s)
elif [[ -n $alternate || $head_to_head -eq 1 ]]; then
  # An even number of warm-ups, so that the first measured iteration is an A one (ab.py).
  protocol=(-f "$forks" -wi 4 -i 20 -w 2s -r 2s)
else
  # Three warm-up and ten measured iterations of 3 s each: gRPC needs the warm-up, and ten
  # iterations narrow the error bars enough on 2 vCPUs to read ratios from one run.
  protocol=(-f "$forks" -wi 3 -i 10 -w 3s -r 3s)
fi
jvm_args="-Dskymesh.bench.loops=$loops"
if [[ -n $alternate ]]; then
  jvm_args+=" -Dskymesh.bench.alternate=$alternate"
fi
protocol+=(-jvmArgsAppend "$jvm_args")
# CPU time per operation and CPUs kept busy (CpuTimeProfiler.java): cheap, so always on.
profilers=(-prof io.skymesh.benchmarks.CpuTimeProfiler)
if [[ $gc -eq 1 ]]; then
  profilers+=(-prof gc)
fi

# Where round $1's JSON and log go: $out itself for a single round, round-$1/ for several.
round_dir() {
  if [[ $rounds -eq 1 ]]; then echo "$out"; else echo "$out/round-$1"; fi
}

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "cpus: $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
  echo "memory: $(free -g | awk '/^Mem:/ {print $2 " GB"}')"
  echo "java: $(java -version 2>&1 | head -1)"
  if unzip -l "$jar" | grep 'libnetty_transport_native_io_uring' > /dev/null; then
    echo "transport: io_uring where the kernel allows it (built with --io-uring; gRPC: epoll)"
  else
    echo "transport: epoll"
  fi
  if [[ $loops == own ]]; then
    echo "event loops: one thread per side of every pair, for all three protocols"
  else
    echo "event loops: each library's shared ones (--shared-loops)"
  fi
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  if [[ $rounds -gt 1 ]]; then
    echo "rounds: $rounds (the command below once per round, K = 1 to $rounds)"
  fi
  echo "command: java -jar benchmarks/target/benchmarks.jar ${regexes[*]:-} ${protocol[*]} ${profilers[*]:-} -foe true -rf json -rff $(round_dir K)/jmh-result.json ${extra[*]:-}"
} > "$out/machine.txt"

echo "run.sh: results in $out"
results=()
for ((round = 1; round <= rounds; round++)); do
  dir=$(round_dir "$round")
  mkdir -p "$dir"
  java -jar "$jar" "${regexes[@]}" "${protocol[@]}" "${profilers[@]}" -foe true \
    -rf json -rff "$dir/jmh-result.json" "${extra[@]}" 2>&1 | tee "$dir/jmh.log"
  results+=("$dir/jmh-result.json")
done

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.txt"
python3 benchmarks/table.py "${results[@]}" > "$out/table.md"
if [[ -n $alternate || $head_to_head -eq 1 ]]; then
  python3 benchmarks/ab.py "${results[@]}" > "$out/ab.md"
fi
if [[ -n $alternate ]]; then
  echo "alternate: $alternate (A: true, even iterations; B: false, odd ones)" >> "$out/machine.txt"
elif [[ $head_to_head -eq 1 ]]; then
  echo "head to head: A is the side that goes first (the parameter first), B the other" >> "$out/machine.txt"
fi
echo
cat "$out/machine.txt"
echo
cat "$out/table.md"
if [[ -f $out/ab.md ]]; then
  echo
  cat "$out/ab.md"
fi
