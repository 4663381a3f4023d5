#!/usr/bin/env bash
# `sliceboard up` of every slice of a large repository (the perf kit's
# big20: 20 slices, 20,000 files) in DIR, against a loop of
# `git worktree add` and, with OLD=path, another sliceboard (one that makes
# worktrees one after another), interleaved, ROUNDS rounds. On tmpfs
# (DIR=/dev/shm/...) the disk is out of it and the numbers are steady; on
# a disk they say what a user waits for, `sync` included.
# usage: SRC=/tmp/perfk/big20 OLD=/path/to/old bash benches/up_at_once.sh DIR [ROUNDS]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
src="${SRC:-${PERF_DIR:-/tmp/perfk}/big20}"
dir="$1"; rounds="${2:-3}"
new="${NEW:-$here/target/release/sliceboard}"
mkdir -p "$dir"
now_ms() { echo $(( $(date +%s%6N) / 1000 )); }
sides="new git${OLD:+ old}"
for r in $(seq "$rounds"); do
  for side in $sides; do
    x="$dir/r-$side"; rm -rf "$x" "$x.slices"
    git clone -q --no-hardlinks "$src" "$x"; git -C "$x" branch -q -f main origin/main 2>/dev/null || true
    sync; sleep 2
    t0=$(now_ms)
    case $side in
      new) "$new" -C "$x" up > /dev/null 2>&1 ;;
      old) "$OLD" -C "$x" up > /dev/null 2>&1 ;;
      git) for s in $(grep '^name = ' "$x/sliceboard.toml" | cut -d'"' -f2); do
             git -C "$x" worktree add -q -b "slice/$s" "$x.slices/$s" main
           done ;;
    esac
    sync
    echo "round $r $side up_ms $(( $(now_ms) - t0 )) worktrees $(git -C "$x" worktree list | wc -l)"
  done
done
rm -rf "$dir"
