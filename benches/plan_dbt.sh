#!/usr/bin/env bash
# `sliceboard plan --from-dbt` on a generated dbt project shaped like a
# large real one (benches/gen_dbt_plan_project.py: N models, 500 by
# default, two folders down its repository, YAML beside the models, an
# installed package, singular tests, seeds, macros), with the release
# binary and the dbt of .ci/venv: the time of `dbt parse` (made once, as the
# first `plan` does) and, for 4, 8 and 16 slices, `plan --explain`'s
# figures for both groupings (refs crossing slices, the largest slice
# against the mean, files no slice owns by kind, shared YAML) and the time
# of the whole command with the manifest fresh.
# usage: bash benches/plan_dbt.sh [N]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-500}"
sb="$here/target/release/sliceboard"
dbt_bin="$(dirname "$(readlink -f "$here/.ci/venv/bin/dbt")")"
export PATH="$dbt_bin:$PATH" DO_NOT_TRACK=1
[ -x "$sb" ] || (cd "$here" && cargo build --release --quiet)
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
python3 "$here/benches/gen_dbt_plan_project.py" "$work/repo" "$n"
cd "$work/repo"
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
echo "dbt parse (first plan): $(ms "$sb" plan --from-dbt --explain) ms"
for slices in 4 8 16; do
  echo
  "$sb" plan --from-dbt --explain --slices "$slices" | grep -Ev '^  [a-z0-9_-]+ +[0-9]+ model'
  best=""
  for _ in 1 2 3 4 5; do
    t=$(ms "$sb" plan --from-dbt --slices "$slices" --dry-run)
    [ -z "$best" ] || [ "$t" -lt "$best" ] && best=$t
  done
  echo "plan --from-dbt --slices $slices --dry-run (manifest fresh, best of 5): $best ms"
done
