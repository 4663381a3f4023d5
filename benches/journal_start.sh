#!/usr/bin/env bash
# First frame of the dashboard with a long journal, beside an empty one.
#
#   bash benches/journal_start.sh            # 1,000,000 events
#   SB_JS_EVENTS=200000 bash benches/journal_start.sh
#
# A repository with 4 slices (agent `sleep 600`, never started) and its
# worktrees. Two cases, SB_JS_ROUNDS rounds each (default 5), alternating:
# the journal as `up` left it (a few events), and the same plus
# SB_JS_EVENTS synthetic events (`progress` lines for the slices, ~150
# bytes each) written into `events.jsonl` as an older sliceboard, which
# never rotated, would have left it. Each round starts with no supervisor:
# `sliceboard` in a new tmux session (160x45) starts one and attaches; the
# time runs from just before `tmux new-session` until the pane shows the
# board (the title's "4 slices" and the key hints), polled every 5 ms.
# Then `sliceboard stop`. One tmux server on a private socket holds a
# placeholder session for the whole run.
#
# SB_BIN is the binary (default target/release/sliceboard: `cargo build
# --release` first). Everything lives in a temporary folder, removed on
# exit, the tmux server killed.
set -euo pipefail

cd "$(dirname "$0")/.."
bin=$(realpath "${SB_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/sliceboard}")
events=${SB_JS_EVENTS:-1000000}
rounds=${SB_JS_ROUNDS:-5}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sliceboard-journal.XXXXXX")
socket=sbjs-$$
cleanup() {
    "$bin" -C "$tmp/shop" stop >/dev/null 2>&1 || true
    tmux -L "$socket" kill-server 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/home"
export HOME=$tmp/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.com
export TERM=xterm-256color
unset TMUX

root=$tmp/shop
mkdir -p "$root/models"
git -C "$root" init -q -b main
{
    printf 'base = "main"\n\n[agent]\ncommand = "sleep 600"\n'
    for k in 0 1 2 3; do
        mkdir -p "$root/models/s$k"
        echo "select $k" >"$root/models/s$k/m.sql"
        printf '\n[[slice]]\nname = "s%d"\nowns = ["models/s%d/**"]\n' "$k" "$k"
    done
} >"$root/sliceboard.toml"
git -C "$root" add -A
git -C "$root" commit -q -m bench
"$bin" -C "$root" up >/dev/null 2>&1
journal=$root/.git/sliceboard/events.jsonl
cp "$journal" "$tmp/empty.jsonl"
python3 - "$tmp/empty.jsonl" "$tmp/long.jsonl" "$events" <<'PY'
import shutil, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
shutil.copy(src, dst)
with open(dst, "a") as out:
    for i in range(n):
        out.write('{"at":"2026-11-30T12:00:00Z","actor":"sliceboard","pid":1,'
                  '"event":"progress","slice":"s%d","message":"step %d of a long history"}\n' % (i % 4, i))
PY
echo "journal: empty $(stat -c %s "$tmp/empty.jsonl") bytes, long $(stat -c %s "$tmp/long.jsonl") bytes ($events events)"

t() { tmux -L "$socket" -f /dev/null "$@"; }
now_us() { local x=${EPOCHREALTIME/./}; echo "$((10#$x))"; }
t new-session -d -s hold "sleep 100000"

round() {
    local name=$1 start end screen
    start=$(now_us)
    t new-session -d -s "$name" -x 160 -y 45 -c "$root" "'$bin'; sleep 600"
    while :; do
        screen=$(t capture-pane -p -t "$name")
        if [[ $screen == *"4 slices"* && $screen == *"q detach"* ]]; then
            end=$(now_us)
            break
        fi
        if (($(now_us) - start > 120000000)); then
            echo "no board after 120 s:" >&2
            echo "$screen" >&2
            exit 1
        fi
        read -r -t 0.005 _ <> <(:) || true
    done
    t kill-session -t "$name"
    "$bin" -C "$root" stop >/dev/null 2>&1 || true
    echo $((end - start))
}

declare -a empty long
for ((r = 1; r <= rounds; r++)); do
    cp "$tmp/empty.jsonl" "$journal"
    empty+=("$(round "e$r")")
    cp "$tmp/long.jsonl" "$journal"
    long+=("$(round "l$r")")
done
stats() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "min %.1f / median %.1f / max %.1f ms", v[1]/1000, m/1000, v[NR]/1000}'; }
echo "first frame, empty journal:      $(stats "${empty[@]}")"
echo "first frame, $events events: $(stats "${long[@]}")"
