#!/usr/bin/env bash
# The end-to-end run a newcomer can paste until `sliceboard demo` lands:
# uses the installed sliceboard (or the release build; one is made only
# when neither exists), makes a small dbt-shaped repository in a temporary
# folder, writes a plan with three slices, creates their worktrees, shows
# their status and environment, makes one slice dirty, and shows that
# `down` refuses to discard its work until forced.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
# The binary the README installs, else the release build; never a second
# (debug) build of minutes.
if command -v sliceboard >/dev/null 2>&1; then
  sb="$(command -v sliceboard)"
else
  [ -x "$here/target/release/sliceboard" ] || cargo build --release --quiet --manifest-path "$here/Cargo.toml"
  sb="$here/target/release/sliceboard"
fi

top="$(mktemp -d "${TMPDIR:-/tmp}/sliceboard-tryout.XXXXXX")"
repo="$top/shop"
mkdir -p "$repo/models/staging" "$repo/models/marts" "$repo/seeds"
cd "$repo"
git init -q -b main
git config user.name "sliceboard tryout"
git config user.email "tryout@example.invalid"
printf 'name: shop\nprofile: shop\n' > dbt_project.yml
printf "select id, nvl(name, 'n/a') as name from {{ ref('users') }}\n" > models/staging/stg_users.sql
printf "select id, getdate() as loaded_at from {{ ref('orders') }}\n" > models/staging/stg_orders.sql
printf "select * from {{ ref('stg_orders') }}\n" > models/marts/fct_orders.sql
printf 'id,name\n1,ada\n' > seeds/users.csv
printf 'id,user_id\n1,1\n' > seeds/orders.csv
git add -A && git commit -q -m "a dbt project to migrate"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$sb" init
git add sliceboard.toml && git commit -q -m "plan the refactor"
step "$sb" check
step "$sb" up
step "$sb" status
step "$sb" env staging
echo "-- select 1" >> "$top/shop.slices/staging/models/staging/stg_users.sql"
step "$sb" status
printf '\n\033[1m$ %s\033[0m\n' "$sb down staging   # refuses: uncommitted work"
"$sb" down staging || true
step "$sb" down staging --force
step "$sb" status --json
printf '\nThe sample repository is in %s\n' "$repo"
