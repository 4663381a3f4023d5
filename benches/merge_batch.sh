#!/usr/bin/env bash
# The merge queue's throughput: 20 approved slices in a repository of
# 20,000 files, one of them the culprit, a check that takes SB_MB_CHECK
# seconds (a sleep, then a grep that fails when the culprit's file is in
# the merge). Times `sliceboard merge --all` from its start until it
# returns (every good slice merged, the culprit named), and counts the
# checks, for each run in SB_MB_RUNS: `B` is `[merge] batch = B`, `pK`
# is `[merge] parallel = K` (speculative checks), `BpK` both (batches,
# a failing one bisected with K checks at once).
#
#   bash benches/merge_batch.sh                        # serial, batch 5, parallel 4; 10 s check
#   SB_MB_CHECK=2 SB_MB_RUNS="1 5 10 p2 p4 5p4" bash benches/merge_batch.sh
#
# SB_MB_CULPRIT is the culprit's place in the queue (default 7);
# SB_MB_KEEP=1 keeps the temporary folder (the journals and logs).
# SB_BIN is the binary (default: $CARGO_TARGET_DIR/release/sliceboard,
# else target/release/sliceboard; `cargo build --release` first). Each run
# builds its repository (git CLI, no user or system config) in a
# temporary folder and stops its supervisor at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${SB_BIN:-${CARGO_TARGET_DIR:-$here/target}/release/sliceboard}
[ -x "$bin" ] || { echo "no binary at $bin: cargo build --release first" >&2; exit 1; }
check_secs=${SB_MB_CHECK:-10}
runs=${SB_MB_RUNS:-${SB_MB_BATCHES:-"1 5 p4"}}
culprit=${SB_MB_CULPRIT:-7}
slices=20
files_per_slice=1000
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sb-merge-batch.XXXXXX")
export HOME=$tmp/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.com
mkdir -p "$HOME"
repos=()
cleanup() {
  for repo in "${repos[@]}"; do "$bin" -C "$repo" stop >/dev/null 2>&1 || true; done
  if [ -n "${SB_MB_KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

echo "merge queue: $slices approved slices, $((slices * files_per_slice)) files, check ${check_secs} s, culprit #$culprit"
echo "$(nproc) cores, $(uname -sr), $("$bin" --version 2>/dev/null || echo sliceboard)"
for run in $runs; do
  case $run in
    p*) batch=1 parallel=${run#p} ;;
    *p*) batch=${run%p*} parallel=${run#*p} ;;
    *) batch=$run parallel=1 ;;
  esac
  repo=$tmp/repo-$run
  repos+=("$repo")
  mkdir -p "$repo" && git -C "$repo" init -q -b main
  {
    printf 'base = "main"\nintegration = "integration"\nmax_running = 1\n\n[agent]\ncommand = "sleep 600"\n\n'
    printf '[merge]\nbatch = %d\nparallel = %d\ncheck = "sleep %s; if grep -rlq CULPRIT models; then echo culprit found; exit 1; fi"\n' \
      "$batch" "$parallel" "$check_secs"
    for k in $(seq 1 "$slices"); do
      printf '\n[[slice]]\nname = "s%02d"\nowns = ["models/s%02d/**"]\n' "$k" "$k"
    done
  } > "$repo/sliceboard.toml"
  for k in $(seq 1 "$slices"); do
    d=$repo/models/s$(printf %02d "$k")
    mkdir -p "$d"
    for f in $(seq 1 "$files_per_slice"); do echo "select $f as id" > "$d/m$f.sql"; done
  done
  git -C "$repo" add -A && git -C "$repo" commit -q -m bench
  "$bin" -C "$repo" up >/dev/null 2>&1
  for k in $(seq 1 "$slices"); do
    name=s$(printf %02d "$k")
    wt=$("$bin" -C "$repo" status --json | python3 -c "import json,sys; print([s for s in json.load(sys.stdin)['slices'] if s['name']=='$name'][0]['worktree'])")
    body="select $k as changed"
    [ "$k" -eq "$culprit" ] && body="select 'CULPRIT' as changed"
    echo "$body" > "$wt/models/$name/m1.sql"
    git -C "$wt" commit -q -am "change $name"
    "$bin" -C "$repo" approve "$name" >/dev/null 2>&1
  done
  start=$(date +%s.%N)
  "$bin" -C "$repo" merge --all > "$tmp/out-$run" 2>&1 || true
  end=$(date +%s.%N)
  journal=$repo/.git/sliceboard/events.jsonl
  checks=$(grep -c '"event":"check_started"' "$journal" || true)
  merged=$(grep -c '"event":"merged"' "$journal" || true)
  blamed=$(grep '"event":"check_failed"' "$journal" | python3 -c "import json,sys; print(' '.join(sorted({json.loads(l)['slice'] for l in sys.stdin})))")
  printf 'batch %-3s parallel %-3s %7.1f s  %2d checks  %2d merged  failed: %s\n' \
    "$batch" "$parallel" "$(echo "$end - $start" | bc)" "$checks" "$merged" "${blamed:-none}"
  "$bin" -C "$repo" stop >/dev/null 2>&1 || true
done
