#!/usr/bin/env bash
# What following agents' usage costs the supervisor: 8 agents each
# appending a Claude Code transcript line (an assistant message with its
# usage) every 100 ms to the transcript of the worktree it runs in, for
# SECS seconds; the supervisor's CPU ticks and voluntary context switches
# over that window, for this binary and, with OLD=path, another one (one
# that reads no transcripts gives the floor). Uses the perf kit's helpers
# (../shared/perf-kit/env.sh, PERF_DIR set).
# usage: PERF_DIR=/tmp/perfk OLD=/path/to/old bash benches/usage_follow.sh [SECS]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
kit="${KIT:-$here/../shared/perf-kit}"
. "$kit/env.sh"
secs="${1:-30}"
run() {
  local bin=$1 label=$2 R=$W/rusage
  SB=$bin
  rm -rf "$PERF_DIR/home/.claude/projects"
  cat > "$W/usage-agent.sh" <<'AGENT'
d=$HOME/.claude/projects/$(pwd -P | sed 's/[^a-zA-Z0-9]/-/g'); mkdir -p "$d"; i=0
while :; do
  i=$((i + 1))
  printf '{"type":"assistant","message":{"id":"m%s","model":"claude-sonnet-4-5","usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":50000,"output_tokens":300}}}\n' "$i" >> "$d/s.jsonl"
  sleep 0.1
done
AGENT
  mkrepo $R 8 "sh $W/usage-agent.sh"
  # The agents start from the dashboard, which then detaches.
  $T new-session -d -s udash -x 200 -y 50 -c $R "$SB; sleep 600"
  for _ in $(seq 100); do $T capture-pane -p -t udash | grep -q "q detach" && break; sleep 0.1; done
  for _ in 1 2 3 4 5 6 7 8; do $T send-keys -t udash s; sleep 0.4; $T send-keys -t udash j; sleep 0.3; done
  $T send-keys -t udash q; sleep 5; $T kill-session -t udash
  local S; S=$(sup_pid $R)
  vctx() { cat /proc/$1/task/*/status 2>/dev/null | awk '/^voluntary/{s+=$2} END{print s}'; }
  local t0 c0 t1 c1
  t0=$(cpu_ticks $S); c0=$(vctx $S); sleep "$secs"; t1=$(cpu_ticks $S); c1=$(vctx $S)
  echo "$label: supervisor ticks $((t1 - t0)) (1/$(getconf CLK_TCK) s) over ${secs}s, wakeups $((c1 - c0)), load $(load)"
  $SB -C $R status | tail -1
  $SB -C $R stop >/dev/null 2>&1 || true
}
run "$W/bin/sliceboard" new
if [ -n "${OLD:-}" ]; then run "$OLD" old; fi
