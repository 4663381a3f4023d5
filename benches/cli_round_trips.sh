#!/bin/bash
# benches/cli_round_trips.sh REPO SLICE [ROUNDS]
#
# The command line's round trips through a running supervisor, beside
# `git status`: `approve SLICE --force`, `withdraw SLICE`, `queue` and
# `status --json` in REPO (set up with `sliceboard up`; SLICE must have a
# commit of its own and no uncommitted work), ms per command. Starts the
# repository's supervisor and stops it at the end. SB=… another binary.
set -euo pipefail
REPO=${1:?usage: cli_round_trips.sh REPO SLICE [ROUNDS]}
SLICE=${2:?usage: cli_round_trips.sh REPO SLICE [ROUNDS]}
ROUNDS=${3:-9}
SB=${SB:-sliceboard}
WT=$("$SB" -C "$REPO" path "$SLICE")
"$SB" -C "$REPO" stop >/dev/null 2>&1 || true
(setsid "$SB" -C "$REPO" supervise >/dev/null 2>&1 &)
for _ in $(seq 100); do "$SB" -C "$REPO" status --json >/dev/null 2>&1 && break; sleep 0.1; done
ms() { local t0; t0=$(date +%s%N); "$@" >/dev/null 2>&1 || true; echo $(( ($(date +%s%N) - t0) / 1000000 )); }
# Not counted: the first round after a start opens every worktree and
# reads the live diffs.
ms "$SB" -C "$REPO" approve "$SLICE" --force >/dev/null
ms "$SB" -C "$REPO" withdraw "$SLICE" >/dev/null
ms "$SB" -C "$REPO" status --json >/dev/null
for _ in $(seq "$ROUNDS"); do
  echo "approve $(ms "$SB" -C "$REPO" approve "$SLICE" --force)" \
    "withdraw $(ms "$SB" -C "$REPO" withdraw "$SLICE")" \
    "queue $(ms "$SB" -C "$REPO" queue)" \
    "status_json $(ms "$SB" -C "$REPO" status --json)" \
    "git_status_worktree $(ms git -C "$WT" status)" \
    "git_status_main $(ms git -C "$REPO" status)" \
    "load $(cut -d' ' -f1 /proc/loadavg)"
done
"$SB" -C "$REPO" stop >/dev/null 2>&1 || true
