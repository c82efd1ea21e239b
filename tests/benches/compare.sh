#!/usr/bin/env bash
# Compares two commits' one-hop throughput, CPU per message and idle memory on this machine,
# in the same run: builds the `one_hop` bench and the `liaison` binary of each commit (the old
# one in a git worktree beside the repository, with a target dir of its own), then runs one
# round of each, alternately, ROUNDS times, and prints every round and the medians of the
# per-pair ratios new/old. On a shared, noisy host only such interleaved ratios compare.
#
#   tests/benches/compare.sh <old-commit> [<new-commit>=HEAD] [rounds=6]
#
# Environment: LIAISON_BENCH_N (messages per round, default the bench's 20 000),
# COMPARE_DIR (where the old commit is checked out and built; default ../liaison-compare).
# NATS is left out (LIAISON_BENCH_NO_NATS=1): the comparison is Liaison against itself, each
# round normalised by the crypto bound measured around it.
set -euo pipefail
cd "$(dirname "$0")/../.."

# Resolved here: in the worktrees below, HEAD and branch names would mean something else.
old=$(git rev-parse --verify "${1:?usage: tests/benches/compare.sh <old-commit> [<new-commit>] [rounds]}^{commit}")
new=$(git rev-parse --verify "${2:-HEAD}^{commit}")
rounds=${3:-6}
work=${COMPARE_DIR:-$(realpath ..)/liaison-compare}

build() { # <commit> <dir> → prints "bench-binary liaison-binary"
  local commit=$1 dir=$2
  if [[ ! -d $dir ]]; then
    git worktree add --detach "$dir" "$commit" >&2
  else
    git -C "$dir" checkout --quiet --detach "$commit" >&2
  fi
  (cd "$dir" && cargo build --release --locked --bin liaison >&2)
  local bench
  bench=$(cd "$dir" && cargo bench --locked -p liaison-tests --bench one_hop --no-run \
    --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "one_hop" and m.get("executable"):
        print(m["executable"])')
  echo "$bench $dir/target/release/liaison"
}

read -r old_bench old_bin < <(build "$old" "$work/old")
read -r new_bench new_bin < <(build "$new" "$work/new")

run() { # <bench> <liaison> → "rate bound_ratio cpu_us idle_mib"
  LIAISON_BENCH_NO_NATS=1 LIAISON_BENCH_ROUNDS=1 LIAISON_BIN=$2 "$1" --bench 2>&1 |
    python3 -c '
import re, sys
text = sys.stdin.read()
m = re.search(r"liaison ([0-9.]+) ?(k?)/s \(([0-9.]+) of bound; ([0-9.]+) µs CPU/msg", text)
i = re.search(r"\| idle [^|]*\| ([0-9.]+) MiB", text)
if not m or not i:
    sys.exit("unexpected bench output:\n" + text[-2000:])
rate = float(m.group(1)) * (1000 if m.group(2) == "k" else 1)
print(rate, m.group(3), m.group(4), i.group(1))'
}

echo "old $old, new $new"
echo "round | old msgs/s | new msgs/s | old of bound | new of bound | old µs CPU/msg | new µs CPU/msg | old idle MiB | new idle MiB"
results=()
for r in $(seq 1 "$rounds"); do
  # Alternate which goes first, so neither always gets the cooler (or hotter) machine.
  if ((r % 2)); then
    read -r o_rate o_b o_cpu o_mem < <(run "$old_bench" "$old_bin")
    read -r n_rate n_b n_cpu n_mem < <(run "$new_bench" "$new_bin")
  else
    read -r n_rate n_b n_cpu n_mem < <(run "$new_bench" "$new_bin")
    read -r o_rate o_b o_cpu o_mem < <(run "$old_bench" "$old_bin")
  fi
  echo "$r | $o_rate | $n_rate | $o_b | $n_b | $o_cpu | $n_cpu | $o_mem | $n_mem"
  results+=("$o_rate $n_rate $o_b $n_b $o_cpu $n_cpu $o_mem $n_mem")
done
printf '%s\n' "${results[@]}" | python3 -c '
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
med = lambda xs: statistics.median(xs)
print()
print("median of per-round ratios new/old:")
print("  msgs/s            %.3f" % med([r[1] / r[0] for r in rows]))
print("  share of bound    %.3f" % med([r[3] / r[2] for r in rows]))
print("  CPU per message   %.3f  (old/new: above 1 means the new one spends less)" % med([r[4] / r[5] for r in rows]))
print("  idle memory       %.3f  (old/new)" % med([r[6] / r[7] for r in rows]))'
