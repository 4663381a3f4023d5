#!/usr/bin/env bash
# Deferral and the slim merge check on a generated dbt-duckdb project of
# 3 x N models (benches/gen_dbt_project.py, N=70 by default: 210 models,
# 3 seeds read as sources, 70 tests), with the release binary and the
# dbt of .ci/venv:
#   1. the integration build `sliceboard dbt-state` publishes (full),
#   2. a slice changing one mart: nodes selected and time, slim (its
#      database a copy of the integration build) against a full build of
#      its own (dbt seed + dbt build),
#   3. what the old per-slice database names selected (every node
#      downstream of a source),
#   4. the merge check of that slice: slim against full.
# usage: bash benches/dbt_slim.sh [N]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-70}"
sb="$here/target/release/sliceboard"
dbt_bin="$(dirname "$(readlink -f "$here/.ci/venv/bin/dbt")")"
export PATH="$dbt_bin:$PATH" DO_NOT_TRACK=1
[ -x "$sb" ] || (cd "$here" && cargo build --release --quiet)
work="$(mktemp -d)"; trap 'cd /; "$sb" -C "$work/gen" stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
mkdir "$work/gen"; cd "$work/gen"
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
cat > sliceboard.toml <<'TOML'
base = "main"
[agent]
command = "true"
[dbt]
defer = "integration"
[worktree]
setup = ["true"]
[merge]
check = "dbt seed --profiles-dir . -q && dbt build --profiles-dir . -q $SLICEBOARD_DBT_SLIM"
[[slice]]
name = "marts"
owns = ["models/marts/**"]
TOML
git add -A && git -c user.email=b@b -c user.name=b commit -qm gen
"$sb" up >/dev/null 2>&1
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
echo "models: $((3 * n)), seeds: 3, tests: $n"
echo "integration build (dbt-state, full): $(t "$sb" dbt-state) s"
"$sb" setup marts >/dev/null
wt="$("$sb" path marts)"
echo "-- changed" >> "$wt/models/marts/mart_005.sql"
cd "$wt"
eval "$("$sb" env marts)"
slim="$(t sh -c "dbt build --profiles-dir . -q $SLICEBOARD_DBT_SLIM")"
nodes="$(python3 -c "import json;print(len(json.load(open('target/run_results.json'))['results']))")"
echo "slice, slim: $nodes nodes in $slim s"
own="$work/own.duckdb"
full="$(t sh -c "SLICEBOARD_DBT_DB=$own dbt seed --profiles-dir . -q && SLICEBOARD_DBT_DB=$own dbt build --profiles-dir . -q")"
nodes="$(python3 -c "import json;print(len(json.load(open('target/run_results.json'))['results']))")"
echo "slice, full build of its own (seed + build): $nodes nodes in $full s"
old="$(SLICEBOARD_DBT_DB="$work/dev_marts.duckdb" dbt ls --profiles-dir . -q --select state:modified+ --state "$SLICEBOARD_DBT_STATE" | wc -l)"
echo "selected with a database named after the slice (before): $old nodes"
git -c user.email=b@b -c user.name=b commit -qam "one mart"
cd "$work/gen"
"$sb" approve marts --force >/dev/null
check="$(t "$sb" merge marts)"
echo "merge check, slim (with dbt seed): $check s"
