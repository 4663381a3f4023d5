#!/usr/bin/env bash
# The tmux reference for benches/pty_drain.rs: `cat` of the same 50 MiB of
# colored text in a detached 200x50 tmux session with 10,000 lines of
# history, timed from new-session until the command signals `wait-for`.
#
#   SB_BENCH_FILE=/tmp/sbbench/colored.txt bash benches/tmux_drain.sh
#
# The input is written by the Rust bench (SB_BENCH_ONLY=generate) when
# SB_BENCH_FILE does not exist yet. SB_BENCH_RUNS sets the runs (default 5).
set -euo pipefail

cd "$(dirname "$0")/.."
input=${SB_BENCH_FILE:-/tmp/sbbench/colored.txt}
runs=${SB_BENCH_RUNS:-5}
socket=sbbench
bytes=$((50 * 1024 * 1024))

if [[ ! -f $input || $(stat -c %s "$input") -ne $bytes ]]; then
    mkdir -p "$(dirname "$input")"
    SB_BENCH_FILE=$input SB_BENCH_ONLY=generate cargo bench --bench pty_drain >&2
fi

conf=$(mktemp)
trap 'tmux -L "$socket" kill-server 2>/dev/null || true; rm -f "$conf"' EXIT
printf 'set -g history-limit 10000\nset -g default-size 200x50\n' >"$conf"

tmux -L "$socket" kill-server 2>/dev/null || true
echo "$(tmux -V), input $input ($bytes bytes), 200x50, history-limit 10000"

times=()
for ((run = 1; run <= runs; run++)); do
    start=$EPOCHREALTIME
    tmux -L "$socket" -f "$conf" new-session -d -s drain -x 200 -y 50 \
        "cat '$input'; tmux -L $socket wait-for -S done"
    tmux -L "$socket" wait-for done
    end=$EPOCHREALTIME
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
    echo "  tmux, run $run: $secs s"
    times+=("$secs")
    tmux -L "$socket" kill-server 2>/dev/null || true
done

printf '%s\n' "${times[@]}" | sort -n | awk -v bytes="$bytes" '
    { t[NR] = $1 }
    END {
        median = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
        printf "tmux: min %.3f s, median %.3f s, max %.3f s (%.1f / %.1f / %.1f MB/s)\n",
            t[1], median, t[NR], bytes / 1e6 / t[1], bytes / 1e6 / median, bytes / 1e6 / t[NR]
    }'
