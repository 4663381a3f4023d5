#!/usr/bin/env bash
# Notification latency: from an agent's transition to the operator's call.
#
#   bash benches/notify_latency.sh          # 8 slices
#   SB_NL_SLICES=16 bash benches/notify_latency.sh
#
# Builds a repository in a temporary folder (git CLI, no user or system
# config) with SB_NL_SLICES slices whose agents run `sleep 600`, and a
# plan whose `[notify] command` appends the time it runs (`date +%s%N`)
# and the call to a file. Starts the supervisor (no dashboard attached, so
# calls go to the command) and every agent from a dashboard in tmux that
# then detaches. Then, for each slice: the
# time just before `sliceboard signal waiting --slice S`, and the time the
# command wrote for that call (a "waiting" call); then `signal busy` and
# `signal idle` (a "done" call, timed from just before `signal idle`).
# Every call has a slice and reason of its own, so none is debounced.
# The latency is the command's time minus the time before the signal:
# the signal's process start and round trip, the hub's transition, the
# thread that runs `sh -c` and `date` starting. The floor printed beside
# it is `sh -c 'date +%s%N'` alone, timed the same way.
#
# SB_BIN is the binary (default: $CARGO_TARGET_DIR/release/sliceboard,
# else target/release/sliceboard; build it first with
# `cargo build --release`).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${SB_BIN:-${CARGO_TARGET_DIR:-$here/target}/release/sliceboard}
[ -x "$bin" ] || { echo "no binary at $bin: cargo build --release first" >&2; exit 1; }
slices=${SB_NL_SLICES:-8}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sb-notify.XXXXXX")
export HOME=$tmp/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.com
mkdir -p "$HOME"
repo=$tmp/repo
calls=$tmp/calls
cleanup() {
  "$bin" -C "$repo" stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$repo" && git -C "$repo" init -q -b main
{
  printf 'base = "main"\nmax_running = %d\n\n[agent]\ncommand = "sleep 600"\n\n' "$slices"
  printf '[notify]\ncommand = "echo $(date +%%s%%N) $SLICEBOARD_NOTIFY_SLICE $SLICEBOARD_NOTIFY_REASON >> %s"\n' "$calls"
  for k in $(seq 1 "$slices"); do
    mkdir -p "$repo/models/s$k" && echo "select $k" > "$repo/models/s$k/m.sql"
    printf '\n[[slice]]\nname = "s%d"\nowns = ["models/s%d/**"]\n' "$k" "$k"
  done
} > "$repo/sliceboard.toml"
git -C "$repo" add -A && git -C "$repo" commit -q -m bench
"$bin" -C "$repo" up >/dev/null 2>&1
# The agents are started from a dashboard (s on each slice), which then
# detaches (q): with no dashboard attached, calls go to the command.
tmux="tmux -L sb-notify-$$ -f /dev/null"
$tmux new-session -d -x 160 -y 45 -c "$repo" "$bin; sleep 600"
trap '$tmux kill-server 2>/dev/null; cleanup' EXIT
for _ in $(seq 200); do $tmux capture-pane -p | grep -q "q detach" && break; sleep 0.05; done
for _ in $(seq 1 "$slices"); do $tmux send-keys s; sleep 0.3; $tmux send-keys j; sleep 0.1; done
for _ in $(seq 200); do $tmux capture-pane -p | grep -q "$slices running" && break; sleep 0.05; done
$tmux send-keys q
for _ in $(seq 200); do $tmux capture-pane -p | grep -q "detached" && break; sleep 0.05; done
sleep 1

now() { date +%s%N; }
wait_line() { # SLICE REASON -> the time the command wrote
  for _ in $(seq 2000); do
    line=$(grep " $1 $2\$" "$calls" 2>/dev/null | head -n 1 || true)
    [ -n "$line" ] && { echo "${line%% *}"; return; }
    sleep 0.001
  done
  echo "no $2 call for $1" >&2; exit 1
}
lat=()
for k in $(seq 1 "$slices"); do
  t0=$(now); "$bin" -C "$repo" signal waiting --slice "s$k" >/dev/null
  t1=$(wait_line "s$k" waiting); lat+=($(( (t1 - t0) / 1000 )))
  "$bin" -C "$repo" signal busy --slice "s$k" >/dev/null
  t0=$(now); "$bin" -C "$repo" signal idle --slice "s$k" >/dev/null
  t1=$(wait_line "s$k" done); lat+=($(( (t1 - t0) / 1000 )))
done
floor=()
for _ in $(seq 1 $(( slices * 2 ))); do
  t0=$(now); t1=$(sh -c 'date +%s%N'); floor+=($(( (t1 - t0) / 1000 )))
done
stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "median %.1f ms  p90 %.1f ms  max %.1f ms  (n=%d)\n", a[int((NR+1)/2)]/1000, a[int(NR*0.9+0.5)]/1000, a[NR]/1000, NR}'; }
echo "transition -> [notify] command: $(stats "${lat[@]}")"
echo "floor (sh -c date):             $(stats "${floor[@]}")"
