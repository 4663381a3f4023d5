#!/usr/bin/env bash
# A scripted stand-in for a coding agent, used by `sliceboard demo`.
# It behaves like a real one would in its slice: reads its brief, migrates
# the Redshift-style SQL it owns to DuckDB, asks the operator when told to,
# runs dbt against its own target when dbt is there, and commits.
#
# Environment (set by sliceboard): SLICEBOARD_SLICE, SLICEBOARD_OWNS,
# SLICEBOARD_BRIEF, SLICEBOARD_DBT_TARGET; by the demo plan: DEMO_SLICEBOARD
# (the sliceboard binary), DEMO_ASK=1 to ask a question, DEMO_STRAY=1 to
# touch a file outside the slice, DEMO_DBT (a dbt executable), DEMO_PACE
# (seconds between steps).
set -u

pace="${DEMO_PACE:-2}"
bold=$'\033[1m'; dim=$'\033[2m'; green=$'\033[32m'; yellow=$'\033[33m'; cyan=$'\033[36m'; off=$'\033[0m'
say() { printf '%s\n' "$*"; }
step() { printf '%s● %s%s\n' "$cyan" "$*" "$off"; sleep "$pace"; }
signal() { [ -n "${DEMO_SLICEBOARD:-}" ] && "$DEMO_SLICEBOARD" signal "$1" 2>/dev/null; true; }

signal busy
say "${bold}demo-agent${off} on slice ${bold}${SLICEBOARD_SLICE}${off} (dbt target ${SLICEBOARD_DBT_TARGET})"
step "Reading the brief at ${SLICEBOARD_BRIEF}"
sed -n '1,12p' "$SLICEBOARD_BRIEF" | sed "s/^/  ${dim}/;s/\$/${off}/"

files=()
select=()
while IFS= read -r glob; do
  dir="${glob%%/\*\*}"
  dir="${dir%/}"
  [ -d "$dir" ] || continue
  select+=("+path:$dir")
  while IFS= read -r f; do files+=("$f"); done < <(find "$dir" -name '*.sql' | sort)
done <<< "$SLICEBOARD_OWNS"
step "Found ${#files[@]} models to migrate from Redshift SQL to DuckDB"

if [ "${DEMO_ASK:-0}" = 1 ]; then
  signal waiting
  printf '%s? GETDATE() has no time zone in Redshift. Migrate it to current_timestamp (UTC)? [y/n] %s' "$yellow" "$off"
  read -r answer
  signal busy
  case "$answer" in
    y*|Y*) say "  ok, using current_timestamp" ;;
    *) say "  keeping a TODO next to each GETDATE()" ;;
  esac
fi

for f in "${files[@]}"; do
  step "Migrating $f"
  before=$(grep -ciE 'getdate|nvl\(|dateadd' "$f")
  sed -i -E \
    -e 's/getdate\(\)/current_timestamp/Ig' \
    -e 's/nvl\(/coalesce(/Ig' \
    -e 's/dateadd\(day, *(-?[0-9]+), *([a-z_]+)\)/\2 + interval (\1) day/Ig' \
    "$f"
  say "  ${green}rewrote ${before} Redshift-only expression(s)${off}"
done

if [ "${DEMO_STRAY:-0}" = 1 ]; then
  step "Also tidying macros/redshift_compat.sql (not in this slice!)"
  printf -- '-- touched by %s\n' "$SLICEBOARD_SLICE" >> macros/redshift_compat.sql
fi

dbt="${DEMO_DBT:-$(command -v dbt || true)}"
if [ -n "$dbt" ] && [ -x "$dbt" ]; then
  step "Running dbt build on this slice's models and their parents, against ${SLICEBOARD_DBT_TARGET}"
  "$dbt" build --profiles-dir . --select "${select[@]}" 2>&1 | tail -n 12
else
  step "dbt is not installed here (run \`sliceboard demo --with-dbt\` to include it); skipping the build"
fi

step "Committing"
git add -A
git commit -q -m "Migrate ${SLICEBOARD_SLICE} models to DuckDB SQL" && git log --oneline -1
signal done
say "${bold}${green}Slice ${SLICEBOARD_SLICE} is ready for review.${off}"
