#!/usr/bin/env bash
# Time to first frame of the dashboard, in a real terminal (tmux).
#
#   bash benches/first_frame.sh                 # 4:2000 10:2000 10:20000
#   bash benches/first_frame.sh 4:2000 10:20000 # SLICES:FILES per case
#
# For each case it builds a synthetic repository in a temporary folder
# (git CLI, no user or system config, fixed identity and dates, no
# signing): FILES files `models/area_K/sub_J/model_I.sql`, 50 a folder,
# spread over SLICES areas, and a plan with one slice per area
# (owns = ["models/area_K/**"], agent `sleep 600`, never started). It runs
# `sliceboard up`, then SB_FF_ROUNDS rounds (default 10), each of:
#
# - floor: `printf ready` in a new tmux session, timed from just before
#   `tmux new-session` until `capture-pane` shows "ready";
# - dashboard: `sliceboard` in a new tmux session (160x45), timed from
#   just before `tmux new-session` until the pane shows a whole frame (the
#   title says "SLICES slices" and the last line holds the key hints), and
#   until no slice's diff line says "diff: reading" any more (SLICES lines
#   say "no changes": the worktrees are clean). Then `q`, and the round
#   ends when the shell around it reports the exit.
#
# The pane is read with `tmux capture-pane -p` every SB_FF_POLL_MS
# (default 5) plus the time the capture itself takes. One tmux server on a
# private socket (`-L`, `-f /dev/null`) holds a placeholder session for the
# whole run, so no round pays for starting the server.
#
# SB_BIN is the binary (default: $CARGO_TARGET_DIR/release/sliceboard, else
# target/release/sliceboard; build it first with `cargo build --release`).
# SB_FF_TMP is where the temporary folder goes (default: $TMPDIR or /tmp).
# Everything is removed on exit, the tmux server killed.
set -euo pipefail

cd "$(dirname "$0")/.."
crate=$PWD
bin=${SB_BIN:-${CARGO_TARGET_DIR:-$crate/target}/release/sliceboard}
rounds=${SB_FF_ROUNDS:-10}
poll_ms=${SB_FF_POLL_MS:-5}
width=160
height=45
socket=sbff-$$
limit_secs=120

if [[ ! -x $bin ]]; then
    echo "no binary at $bin; build it: cargo build --release (or set SB_BIN)" >&2
    exit 1
fi
bin=$(realpath "$bin")
cases=("$@")
if ((${#cases[@]} == 0)); then
    cases=(4:2000 10:2000 10:20000)
fi
for case in "${cases[@]}"; do
    if [[ ! $case =~ ^[1-9][0-9]*:[1-9][0-9]*$ ]]; then
        echo "bad case '$case': want SLICES:FILES, e.g. 10:20000" >&2
        exit 1
    fi
done

tmp=$(mktemp -d "${SB_FF_TMP:-${TMPDIR:-/tmp}}/sliceboard-first-frame.XXXXXX")
socket_path=''
cleanup() {
    tmux -L "$socket" kill-server 2>/dev/null || true
    # tmux 3.3a leaves the socket file behind after kill-server.
    [[ -z $socket_path ]] || rm -f "$socket_path"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The fixed environment, for git, sliceboard and the tmux server alike.
mkdir -p "$tmp/home/.config"
export HOME=$tmp/home XDG_CONFIG_HOME=$tmp/home/.config
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME="Bench Author" GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME="Bench Author" GIT_COMMITTER_EMAIL=bench@example.com
export GIT_AUTHOR_DATE=2026-01-01T00:00:00Z GIT_COMMITTER_DATE=2026-01-01T00:00:00Z
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=commit.gpgsign GIT_CONFIG_VALUE_0=false
export TERM=xterm-256color
unset TMUX GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_COMMON_DIR SLICEBOARD_SLICE

# Sleeping without a fork: a read that times out on a FIFO nobody writes.
mkfifo "$tmp/sleep.fifo"
exec {sleep_fd}<>"$tmp/sleep.fifo"
printf -v poll_secs '%d.%03d' $((poll_ms / 1000)) $((poll_ms % 1000))
nap() { read -r -t "$poll_secs" -u "$sleep_fd" _ || true; }

t() { tmux -L "$socket" -f /dev/null "$@"; }

# Microseconds since the epoch, from bash's clock (no fork).
now_us() { local t=${EPOCHREALTIME/./}; echo "$((10#$t))"; }
ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }

# Writes the repository for one case into $1/shop.
make_repo() {
    local dir=$1 slices=$2 files=$3
    local root=$dir/shop k leaf n=0 folder i
    mkdir -p "$root"
    git -C "$root" init -q -b main
    printf 'target/\nlogs/\n' >"$root/.gitignore"
    printf 'name: shop\nprofile: shop\n' >"$root/dbt_project.yml"
    {
        printf 'base = "main"\n\n[agent]\ncommand = "sleep 600"\n'
        for ((k = 0; k < slices; k++)); do
            printf '\n[[slice]]\nname = "area_%02d"\nowns = ["models/area_%02d/**"]\n' "$k" "$k"
        done
    } >"$root/sliceboard.toml"
    for ((leaf = 0; n < files; leaf++)); do
        folder=$(printf '%s/models/area_%02d/sub_%03d' "$root" $((leaf % slices)) $((leaf / slices)))
        mkdir -p "$folder"
        for ((i = 0; i < 50 && n < files; i++, n++)); do
            printf "select\n    id,\n    value_%d\nfrom {{ ref('source_%d') }}\nwhere id > %d\n" \
                "$n" $((n % 97)) "$i" >"$folder/model_$n.sql"
        done
    done
    git -C "$root" add -A
    git -C "$root" commit -q -m "synthetic repository: $files models"
}

# Runs one command line in a new session named $1 and polls the pane.
# Prints "board_us diff_us" (diff_us = board_us when $3 is "floor").
time_session() {
    local name=$1 cwd=$2 kind=$3 slices=${4:-0}
    local start screen end board=0 diff=0 command deadline
    if [[ $kind == floor ]]; then
        command="printf ready; sleep 600"
    else
        command="'$bin'; echo SB-EXITED-\$?; sleep 600"
    fi
    deadline=$(($(now_us) + limit_secs * 1000000))
    start=$(now_us)
    t new-session -d -s "$name" -x "$width" -y "$height" -c "$cwd" "$command"
    while :; do
        screen=$(t capture-pane -p -t "$name")
        end=$(now_us)
        if [[ $kind == floor ]]; then
            if [[ $screen == *ready* ]]; then
                board=$((end - start)) diff=$board
                break
            fi
        else
            if [[ $screen == *SB-EXITED-* ]]; then
                echo "sliceboard exited before drawing:" >&2
                echo "$screen" >&2
                return 1
            fi
            local last=${screen##*$'\n'}
            if ((board == 0)) && [[ $screen == *"  $slices slices"* && $last == *"q detach"* ]]; then
                board=$((end - start))
            fi
            if ((board > 0)) && [[ $screen != *"diff: reading"* ]]; then
                local clean
                clean=$(grep -c "no changes" <<<"$screen" || true)
                if ((clean != slices)); then
                    echo "every diff is in but $clean of $slices slices say 'no changes':" >&2
                    echo "$screen" >&2
                    return 1
                fi
                diff=$((end - start))
                break
            fi
        fi
        if (($(now_us) > deadline)); then
            echo "$kind: nothing after ${limit_secs}s; the pane shows:" >&2
            echo "$screen" >&2
            return 1
        fi
        nap
    done
    if [[ $kind != floor ]]; then
        # No agent runs, so `q` quits at once; wait for the shell to say so,
        # so that the next round never meets this one's state lock.
        t send-keys -t "$name" q
        deadline=$(($(now_us) + limit_secs * 1000000))
        until [[ $(t capture-pane -p -t "$name") == *SB-EXITED-0* ]]; do
            if (($(now_us) > deadline)); then
                echo "sliceboard did not quit on q:" >&2
                t capture-pane -p -t "$name" >&2
                return 1
            fi
            nap
        done
    fi
    t kill-session -t "$name"
    echo "$board $diff"
}

# "min median max" in ms of the microsecond figures given.
summary() {
    printf '%s\n' "$@" | sort -n | awk '
        { v[NR] = $1 }
        END {
            median = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.1f %.1f %.1f", v[1] / 1000, median / 1000, v[NR] / 1000
        }'
}

echo "sliceboard first frame: $bin"
echo "  crate at $(git -C "$crate" rev-parse --short HEAD 2>/dev/null || echo '?')$(
    [[ -n $(git -C "$crate" status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null) ]] &&
        echo ' (src/ has uncommitted changes)' || true)"
echo "  $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), Linux $(uname -r), $(tmux -V), $(git --version)"
echo "  ${width}x${height}, $rounds rounds a case, poll every $poll_ms ms + capture time"

t new-session -d -s hold -x "$width" -y "$height" "sleep 100000"
socket_path=$(t display-message -p -t hold '#{socket_path}')
size=$(t display-message -p -t hold '#{pane_width}x#{pane_height}')
[[ $size == "${width}x${height}" ]] || { echo "tmux made a $size pane, not ${width}x${height}" >&2; exit 1; }

results=()
for case in "${cases[@]}"; do
    slices=${case%%:*} files=${case##*:}
    dir=$tmp/case-$slices-$files
    echo
    echo "== $slices slices, $files files a worktree"
    began=$(now_us)
    make_repo "$dir" "$slices" "$files"
    made=$(now_us)
    "$bin" -C "$dir/shop" up >"$dir/up.log" 2>&1 || { cat "$dir/up.log" >&2; exit 1; }
    upped=$(now_us)
    echo "  repository in $(ms $((made - began))) ms, sliceboard up in $(ms $((upped - made))) ms"
    # Let the disk settle after writing up to a few hundred thousand files.
    sync
    floors=() boards=() diffs=()
    for ((round = 1; round <= rounds; round++)); do
        read -r floor _ < <(time_session "floor$round" "$dir/shop" floor)
        read -r board diff < <(time_session "board$round" "$dir/shop" board "$slices")
        [[ -n ${board:-} && -n ${diff:-} && -n ${floor:-} ]] || exit 1
        floors+=("$floor") boards+=("$board") diffs+=("$diff")
        printf '  round %2d: floor %6s ms, board drawn %7s ms, all diffs shown %7s ms\n' \
            "$round" "$(ms "$floor")" "$(ms "$board")" "$(ms "$diff")"
        board=''
        diff=''
        floor=''
    done
    read -r f_min f_med f_max <<<"$(summary "${floors[@]}")"
    read -r b_min b_med b_max <<<"$(summary "${boards[@]}")"
    read -r d_min d_med d_max <<<"$(summary "${diffs[@]}")"
    results+=("$(printf '| %s | %s | %s / %s / %s ms | %s / %s / %s ms | %s / %s / %s ms |' \
        "$slices" "$files" "$f_min" "$f_med" "$f_max" "$b_min" "$b_med" "$b_max" "$d_min" "$d_med" "$d_max")")
    echo "  floor min/median/max $f_min / $f_med / $f_max ms"
    echo "  board drawn $b_min / $b_med / $b_max ms; all diffs shown $d_min / $d_med / $d_max ms"
    rm -rf "$dir"
done

echo
echo "| slices | files a worktree | floor (printf) min / median / max | board drawn | all diffs shown |"
echo "| --- | --- | --- | --- | --- |"
printf '%s\n' "${results[@]}"
