#!/usr/bin/env bash
# `npm run test:under-load [-- RUNS]`: the README's test command (`npm test`) RUNS times in a row
# (default 10) while a second CPU-heavy process (a busy loop, one core) runs the whole time: the
# check of issue #12 that the suite does not depend on timing luck on a 2-core machine.
# Prints one line per run (exit code, seconds, tap's totals) and exits 1 if any run failed.
# Each run's full output is kept in $TMPDIR/suite-under-load.<pid>/run<N>.log.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [RUNS]" >&2; exit 2; }
logs=$(mktemp -d "${TMPDIR:-/tmp}/suite-under-load.XXXXXX")
node -e 'let x = 1; for (;;) x = (x * 1103515245 + 12345) % 2147483647' &
busy=$!
trap 'kill $busy 2>/dev/null' EXIT
echo "busy loop (pid $busy) on one core; $runs runs of npm test at $(git rev-parse --short HEAD 2>/dev/null); logs in $logs"
failed=0
for i in $(seq 1 "$runs"); do
  t0=$(date +%s)
  npm test >"$logs/run$i.log" 2>&1 </dev/null
  rc=$?
  totals=$(grep -E '^# \{ total: [0-9]+' "$logs/run$i.log" | tail -n 1)
  echo "run $i: exit $rc, $(($(date +%s) - t0)) s, ${totals#\# }"
  [ "$rc" -eq 0 ] || failed=$((failed + 1))
done
echo "$((runs - failed)) of $runs runs passed"
[ "$failed" -eq 0 ]
