#!/usr/bin/env bash
# Runs the test suite on every supported Node (18, 20, 22, 24, 26), less the browser tests, which
# need Chromium, and the benchmark's smoke run (a minute of load, not a compatibility check):
# those run once, on the machine's Node, inside `npm test`.
#
# The node binaries are the ones shipped in the npm packages node-linux-<arch>@<major>: fetched
# with `npm pack` (the npm registry, nothing else) and kept in .cache/node-matrix/<major>/, so a
# second run downloads nothing. Each version runs `node --import tsx --test` on test/*.test.ts.
#
#   scripts/node-matrix.sh               # 18 20 22 24 26
#   scripts/node-matrix.sh 18 24         # only these majors
#   scripts/node-matrix.sh 18.19.0       # an exact version (tsx needs >= 18.19)
#
# Environment:
#   NODE_MATRIX_CACHE    where the binaries go (default .cache/node-matrix)
#   NODE_MATRIX_TESTS    the test files, space-separated (default test/*.test.ts less the once-only ones)
#   NODE_MATRIX_TIMEOUT  seconds one version's run may take before it is killed (default 900)
#
# Prints a line per version with its counts, then "node-matrix: N passed, N failed"; exits 1 when
# a test failed on any version, a run timed out or ran nothing, or a node could not be installed.
# The TAP log of each run is kept in <cache>/logs/<major>.log.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cache=${NODE_MATRIX_CACHE:-$root/.cache/node-matrix}
run_timeout=${NODE_MATRIX_TIMEOUT:-900}
majors=("$@")
[ ${#majors[@]} -eq 0 ] && majors=(18 20 22 24 26)

# install_node and node_fetch_arch (shared with the benchmark's --node-major).
source scripts/node-fetch.sh
arch=$(node_fetch_arch) || exit 1

# Browser tests and the benchmark: once, on the machine's Node (npm test), never here.
once_only='^test/(browser|client-module|client-share|nchan-subscriber|bench)\.test\.ts$'
if [ -n "${NODE_MATRIX_TESTS:-}" ]; then
  read -r -a files <<<"$NODE_MATRIX_TESTS"
else
  files=()
  for f in test/*.test.ts; do
    [[ $f =~ $once_only ]] || files+=("$f")
  done
fi
if [ ${#files[@]} -eq 0 ]; then
  echo "node-matrix: no test files" >&2
  exit 1
fi

seconds() { date +%s; }

# The suite imports dist/ through the fixtures (require('holdpush')): build it once, here.
node scripts/ensure-built.js || exit 1
mkdir -p "$cache/logs"

total_pass=0
total_fail=0
broken=0
summary=()
started=$(seconds)

for major in "${majors[@]}"; do
  t0=$(seconds)
  if ! install_node "$major"; then
    summary+=("node $major: not installed")
    broken=1
    continue
  fi
  bin=$cache/$major/bin
  version=$("$bin/node" --version)
  installed=$(( $(seconds) - t0 ))
  log=$cache/logs/$major.log
  echo "node-matrix: node $version: ${#files[@]} test files" >&2
  t1=$(seconds)
  # tsx registers through module.register (Node >= 18.19); --import reaches every test process.
  PATH="$bin:$PATH" timeout --kill-after=10 "$run_timeout" \
    node --import tsx --test --test-reporter=tap "${files[@]}" >"$log" 2>&1
  code=$?
  took=$(( $(seconds) - t1 ))
  count() { sed -n "s/^# $1 \([0-9][0-9]*\)\$/\1/p" "$log" | tail -n 1; }
  pass=$(count pass); fail=$(count fail); skipped=$(count skipped); cancelled=$(count cancelled); tests=$(count tests)
  pass=${pass:-0}; fail=${fail:-0}; skipped=${skipped:-0}; cancelled=${cancelled:-0}; tests=${tests:-0}
  fail=$(( fail + cancelled ))
  note=
  if [ "$code" -eq 124 ] || [ "$code" -eq 137 ]; then
    note=" (timed out after ${run_timeout}s)"
  elif [ "$tests" -eq 0 ]; then
    note=" (ran no test)"
  elif [ "$code" -ne 0 ] && [ "$fail" -eq 0 ]; then
    note=" (exit $code)"
  fi
  if [ -n "$note" ] || [ "$fail" -gt 0 ] || [ "$code" -ne 0 ]; then
    broken=1
    # The failures, so that a CI log says what broke without the TAP file.
    grep -n -E '^ *not ok ' "$log" | head -n 40 >&2
    [ -n "$note" ] && tail -n 40 "$log" >&2
  fi
  total_pass=$(( total_pass + pass ))
  total_fail=$(( total_fail + fail ))
  line="node $version: $pass passed, $fail failed, $skipped skipped in ${took}s (install ${installed}s)$note"
  summary+=("$line")
  echo "node-matrix: $line" >&2
done

echo
echo "node-matrix results ($(( $(seconds) - started ))s in all; logs in ${cache#"$root"/}/logs/):"
for line in "${summary[@]}"; do echo "  $line"; done
echo "node-matrix: $total_pass passed, $total_fail failed"
[ "$broken" -eq 0 ] && [ "$total_fail" -eq 0 ]
