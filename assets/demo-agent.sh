#!/usr/bin/env bash
# A scripted stand-in for a coding agent, used by `sliceboard demo`.
# It behaves like a real one would in its slice: reads its brief, migrates
# the Redshift-style SQL it owns to DuckDB, asks the operator when told to,
# runs dbt against its own target when dbt is there, and commits. A slice
# whose upstream slices have not merged yet commits its SQL unbuilt and
# waits for the merge queue's feedback.
#
#   demo-agent.sh            the agent (the plan's `command`)
#   demo-agent.sh --resume   started again, e.g. by `sliceboard feedback`: reads
#                            the message pasted into it, merges the integration
#                            branch in (taking its side of a conflict in files
#                            the slice does not own), builds and commits
#   demo-agent.sh --check    the merge check when dbt is not installed: no
#                            migrated model may still use Redshift-only SQL
#
# Environment (set by sliceboard): SLICEBOARD_SLICE, SLICEBOARD_OWNS,
# SLICEBOARD_BRIEF, SLICEBOARD_DBT_TARGET, SLICEBOARD_BASE; by the demo
# plan: DEMO_SLICEBOARD (the sliceboard binary), DEMO_ASK=1 to ask a
# question, DEMO_STRAY=1 to edit the shared macro from outside the slice,
# DEMO_MACRO=1 to edit it as its owner, DEMO_AFTER (the slices merged
# first), DEMO_DBT (a dbt executable), DEMO_PACE (seconds between steps).
#
# A model not migrated yet starts with {{ config(tags=["redshift"]) }};
# migrating it removes that line, and the merge check builds every model
# without the tag (`dbt build --exclude tag:redshift`).
set -u

pace="${DEMO_PACE:-2}"
integration="${SLICEBOARD_BASE:-migration}"
redshift_only='getdate|nvl\(|dateadd'
bold=$'\033[1m'; dim=$'\033[2m'; green=$'\033[32m'; yellow=$'\033[33m'; cyan=$'\033[36m'; off=$'\033[0m'
say() { printf '%s\n' "$*"; }
step() { printf '%s● %s%s\n' "$cyan" "$*" "$off"; sleep "$pace"; }
signal() { [ -n "${DEMO_SLICEBOARD:-}" ] && "$DEMO_SLICEBOARD" signal "$1" 2>/dev/null; true; }

if [ "${1:-}" = --check ]; then
  # Every model already migrated (no redshift tag) must be DuckDB SQL.
  bad=0
  while IFS= read -r f; do
    if grep -qiE "$redshift_only" "$f"; then
      say "$f is migrated but still uses Redshift-only SQL"; bad=1
    fi
  done < <(grep -rL 'tags=\["redshift"\]' --include='*.sql' models | sort)
  [ "$bad" = 0 ] && say "every migrated model is DuckDB SQL (install dbt with \`sliceboard demo --with-dbt\` to build them)"
  exit "$bad"
fi

# The folders the slice owns, and its models there.
files=()
select=()
while IFS= read -r glob; do
  dir="${glob%%/\*\*}"
  dir="${dir%/}"
  [ -d "$dir" ] || continue
  select+=("+path:$dir")
  while IFS= read -r f; do files+=("$f"); done < <(find "$dir" -name '*.sql' | sort)
done <<< "${SLICEBOARD_OWNS:-}"

# Upstream slices not merged into the integration branch yet.
unmerged() {
  local dep
  for dep in ${DEMO_AFTER:-}; do
    git log "$integration" --format=%s 2>/dev/null | grep -q "^Merge slice $dep into" || printf '%s ' "$dep"
  done
}

build() {
  local dbt="${DEMO_DBT:-$(command -v dbt || true)}"
  if [ -n "$dbt" ] && [ -x "$dbt" ]; then
    step "Running dbt build on this slice's models and their parents, against ${SLICEBOARD_DBT_TARGET}"
    "$dbt" build --profiles-dir . --select "${select[@]}" 2>&1 | tail -n 12
  else
    step "dbt is not installed here (run \`sliceboard demo --with-dbt\` to include it); skipping the build"
  fi
}

finish() {
  signal done
  say "${bold}${green}Slice ${SLICEBOARD_SLICE} is ready for review.${off}"
}

if [ "${1:-}" = --resume ]; then
  say "${bold}demo-agent${off} on slice ${bold}${SLICEBOARD_SLICE}${off}, started again"
  signal waiting
  printf '%sWaiting for a message (the merge queue'"'"'s feedback, or Enter to sync with %s)…%s\n' "$yellow" "$integration" "$off"
  message=""
  IFS= read -r line || true
  message+="$line"$'\n'
  # The rest of a pasted message, line by line.
  while IFS= read -r -t 1 line; do message+="$line"$'\n'; done
  signal busy
  case "$message" in
    *"conflict"*) step "The merge queue found a conflict with ${integration}; merging it into my branch" ;;
    *"not accepted"*) step "My merge failed its check; merging ${integration} into my branch to rebuild on it" ;;
    *"merged into"*) step "Upstream slices merged; merging ${integration} into my branch to build on their work" ;;
    *) step "Merging ${integration} into my branch" ;;
  esac
  if ! git merge --no-edit -q "$integration"; then
    while IFS= read -r path; do
      say "  ${yellow}conflict in ${path}:${off} it is not in this slice; keeping ${integration}'s version (its owner's)"
      git checkout --theirs -- "$path" && git add -- "$path"
    done < <(git diff --name-only --diff-filter=U)
    git commit -q --no-edit
  fi
  git log --oneline -1
  pending=$(unmerged)
  if [ -n "$pending" ]; then
    say "  ${yellow}still waiting for ${pending% } to merge into ${integration}; send me feedback again once it has${off}"
    signal idle
    exit 0
  fi
  build
  if [ -n "$(git status --porcelain)" ]; then
    step "Committing"
    git add -A
    git commit -q -m "Rebuild ${SLICEBOARD_SLICE} on ${integration}" && git log --oneline -1
  fi
  finish
  exit 0
fi

signal busy
say "${bold}demo-agent${off} on slice ${bold}${SLICEBOARD_SLICE}${off} (dbt target ${SLICEBOARD_DBT_TARGET})"
step "Reading the brief at ${SLICEBOARD_BRIEF}"
sed -n '1,12p' "$SLICEBOARD_BRIEF" | sed "s/^/  ${dim}/;s/\$/${off}/"
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
  before=$(grep -ciE "$redshift_only" "$f")
  sed -i -E \
    -e '/config\(tags=\["redshift"\]\)/d' \
    -e 's/getdate\(\)/current_timestamp/Ig' \
    -e 's/nvl\(/coalesce(/Ig' \
    -e 's/dateadd\(day, *(-?[0-9]+), *([a-z_]+)\)/\2 + interval (\1) day/Ig' \
    "$f"
  say "  ${green}rewrote ${before} Redshift-only expression(s)${off}"
done

if [ "${DEMO_MACRO:-0}" = 1 ]; then
  step "Rounding cents_to_dollars to whole cents in macros/redshift_compat.sql (this slice owns the macros)"
  sed -i -E 's|\(\{\{ col \}\} / 100\.0\)|round({{ col }} / 100.0, 2)|' macros/redshift_compat.sql
fi
if [ "${DEMO_STRAY:-0}" = 1 ]; then
  step "Also casting cents_to_dollars to a decimal in macros/redshift_compat.sql (not in this slice!)"
  sed -i -E 's|\(\{\{ col \}\} / 100\.0\)|cast({{ col }} / 100.0 as decimal(18, 2))|' macros/redshift_compat.sql
fi

pending=$(unmerged)
if [ -n "$pending" ]; then
  say "  ${yellow}My models read models of ${pending% }, still Redshift SQL in this branch: dbt cannot build them until that merges into ${integration}.${off}"
  step "Committing what is migrated, unbuilt"
  git add -A
  git commit -q -m "Migrate ${SLICEBOARD_SLICE} models to DuckDB SQL" && git log --oneline -1
  signal idle
  say "${bold}Waiting for ${pending% } to merge.${off} Then send me the merge queue's feedback (\`sliceboard feedback ${SLICEBOARD_SLICE}\`): I will merge ${integration} in, build and commit."
  exit 0
fi

build
step "Committing"
git add -A
git commit -q -m "Migrate ${SLICEBOARD_SLICE} models to DuckDB SQL" && git log --oneline -1
finish
