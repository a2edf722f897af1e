#!/usr/bin/env bash
# The benchmark suite: the Go benchmarks, then the end-to-end figures of
# the performance issue next to their targets (scripts/benchrun), with
# libphonenumber-js under Node.js side by side. Inputs are generated
# (internal/benchdata); nothing is kept. Usage:
#
#	bash scripts/bench.sh            # 1,000,000 rows
#	ROWS=100000 bash scripts/bench.sh
#	NO_GO_BENCH=1 bash scripts/bench.sh   # the end-to-end figures only
#	NO_RACE_SUITE=1 bash scripts/bench.sh # without timing README's test command
#
# Set OUTREACH_TEST_POSTGRES to measure the Postgres store too.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -z "${NO_GO_BENCH:-}" ]; then
  echo "== Go benchmarks (go test -run '^\$' -bench . -benchmem)"
  go test -run '^$' -bench . -benchmem -benchtime "${BENCHTIME:-1x}" \
    ./outreach/ ./csvio/ ./outreach/sqlitestore/ ./outreach/pgstore/ ./e2e/
fi

echo "== libphonenumber-js for the side-by-side figure (npm, into $work)"
if command -v npm >/dev/null 2>&1 &&
   (cd "$work" && npm install --silent --no-audit --no-fund libphonenumber-js@1 >/dev/null 2>&1); then
  export NODE_PATH="$work/node_modules"
else
  echo "   npm install failed: the Node figure is left out"
fi

race=0
if [ -z "${NO_RACE_SUITE:-}" ]; then
  # README's test command (.ci/readme-test-flags reads its flags from
  # README), timed with a warm build cache: its test binaries are
  # compiled first, with the same flags.
  source .ci/readme-test-flags
  echo "== README's test command, timed: $readme_test_line"
  go test -run '^$' -count=1 "${readme_test_flags[@]}" ./... >/dev/null
  start=$(date +%s%N)
  if go test -count=1 "${readme_test_flags[@]}" ./...; then
    race=$(( ($(date +%s%N) - start) / 1000000000 ))
  else
    echo "   the test command failed: its time is left out"
  fi
fi

echo "== end-to-end figures"
mkdir -p "$work/run"
go run ./scripts/benchrun -rows "${ROWS:-1000000}" -dir "$work/run" -race-seconds "$race"
