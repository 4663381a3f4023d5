#!/usr/bin/env bash
# The merge queue with a real dbt-duckdb check: a generated project of
# 3 x N models (benches/gen_dbt_project.py, N=20 by default), S slices
# (default 8) each changing one mart, the third one breaking its mart's
# not_null test; `[dbt] defer`, and the slim check `dbt seed && dbt build
# $SLICEBOARD_DBT_SLIM`. For each run in SB_MD_RUNS (`1` serial, `pK`
# `[merge] parallel = K`, a number `[merge] batch`), times `sliceboard
# merge --all` until every good slice merged and the culprit is named.
# Release binary, the dbt of .ci/venv.
#   bash benches/merge_dbt.sh            # N=20, 8 slices, runs "1 p2 p4"
#   SB_MD_RUNS="1 p4" bash benches/merge_dbt.sh 40 10
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-20}"
slices="${2:-8}"
runs=${SB_MD_RUNS:-"1 p2 p4"}
sb="${SB_BIN:-$here/target/release/sliceboard}"
[ -x "$sb" ] || { echo "no binary at $sb: cargo build --release first" >&2; exit 1; }
dbt_bin="$(dirname "$(readlink -f "$here/.ci/venv/bin/dbt")")"
export PATH="$dbt_bin:$PATH" DO_NOT_TRACK=1
work="$(mktemp -d)"
repos=()
cleanup() {
  cd /
  for repo in "${repos[@]}"; do "$sb" -C "$repo" stop >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.com
echo "merge queue with dbt: $((3 * n)) models, $slices slices each changing one mart, the 3rd breaking its test"
echo "$(nproc) cores, $(uname -sr), $("$sb" --version), $(dbt --version 2>/dev/null | grep -m1 -o 'installed: [0-9.]*')"
for run in $runs; do
  case $run in
    p*) batch=1 parallel=${run#p} ;;
    *p*) batch=${run%p*} parallel=${run#*p} ;;
    *) batch=$run parallel=1 ;;
  esac
  repo="$work/gen-$run"
  repos+=("$repo")
  mkdir -p "$repo" && cd "$repo"
  git init -q -b main .
  python3 "$here/benches/gen_dbt_project.py" . "$n"
  cat > profiles.yml <<'YML'
gen:
  target: sliceboard
  outputs:
    sliceboard:
      type: duckdb
      path: "{{ env_var('SLICEBOARD_DBT_DB', 'dev.duckdb') }}"
      schema: "{{ env_var('SLICEBOARD_DBT_SCHEMA', 'main') }}"
      threads: 2
YML
  {
    printf 'base = "main"\n[agent]\ncommand = "true"\n[dbt]\ndefer = "integration"\n[worktree]\nsetup = ["true"]\n'
    printf '[merge]\nbatch = %d\nparallel = %d\ncheck = "dbt seed --profiles-dir . -q && dbt build --profiles-dir . -q $SLICEBOARD_DBT_SLIM"\n' "$batch" "$parallel"
    for k in $(seq 1 "$slices"); do
      printf '[[slice]]\nname = "m%02d"\nowns = ["models/marts/mart_%03d.sql"]\n' "$k" "$k"
    done
  } > sliceboard.toml
  git add -A && git commit -qm gen
  "$sb" up >/dev/null 2>&1
  "$sb" dbt-state >/dev/null 2>&1
  for k in $(seq 1 "$slices"); do
    name=$(printf m%02d "$k")
    wt=$("$sb" path "$name")
    mart=$(printf mart_%03d "$k")
    if [ "$k" -eq 3 ]; then
      printf 'select null as part, count(*) as rows_seen from {{ ref('"'"'int_%03d'"'"') }}\n' "$k" > "$wt/models/marts/$mart.sql"
    else
      printf 'select part, count(*) as rows_seen, %d as v from {{ ref('"'"'int_%03d'"'"') }} group by part\n' "$k" "$k" > "$wt/models/marts/$mart.sql"
    fi
    git -C "$wt" commit -qam "change $mart"
    "$sb" approve "$name" --force >/dev/null 2>&1
  done
  start=$(date +%s.%N)
  "$sb" merge --all > "$work/out-$run" 2>&1 || true
  end=$(date +%s.%N)
  journal=.git/sliceboard/events.jsonl
  checks=$(grep -c '"event":"check_started"' "$journal" || true)
  merged=$(grep -c '"event":"merged"' "$journal" || true)
  blamed=$(grep '"event":"check_failed"' "$journal" | python3 -c "import json,sys; print(' '.join(sorted({json.loads(l)['slice'] for l in sys.stdin})))")
  printf 'batch %-2s parallel %-2s %7.1f s  %2d checks  %2d merged  failed: %s\n' \
    "$batch" "$parallel" "$(echo "$end - $start" | bc)" "$checks" "$merged" "${blamed:-none}"
  "$sb" stop >/dev/null 2>&1 || true
done
