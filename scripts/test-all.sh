#!/usr/bin/env bash
# Whole suite: deps + build, unit tests, then the real-peer interop tests.
# Both jest runs always happen; the last line is the one CI parses:
#   tests: N passed, M failed
# Exit status is non-zero when anything failed (or could not run).
set -uo pipefail
cd "$(dirname "$0")/.."

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

if ! bash scripts/install-test-deps.sh; then
  echo "test-all: install-test-deps.sh failed" >&2
  echo "tests: 0 passed, 1 failed"
  exit 1
fi

# --forceExit: a leaked socket in one test must not hang CI for its whole
# time budget; the helpers still stop every peer in afterAll.
npx jest --selectProjects unit --json --outputFile="$results/unit.json"
unit_rc=$?
npx jest --selectProjects interop --runInBand --forceExit --json --outputFile="$results/interop.json"
interop_rc=$?

# Sum both reports. A suite that could not run (syntax error, failing
# import) has no failed *tests*, so count it as one failure; a missing
# report means jest itself crashed: also a failure.
summary=$(node - "$results/unit.json" "$results/interop.json" <<'JS'
const fs = require('fs');
let passed = 0, failed = 0;
for (const file of process.argv.slice(2)) {
  let r;
  try { r = JSON.parse(fs.readFileSync(file, 'utf8')); } catch { failed += 1; continue; }
  passed += r.numPassedTests;
  failed += r.numFailedTests + r.numRuntimeErrorTestSuites;
}
process.stdout.write(`${passed} ${failed}`);
JS
)
read -r passed failed <<<"${summary:-0 1}"
echo "tests: ${passed} passed, ${failed} failed"
if [ "$unit_rc" -ne 0 ] || [ "$interop_rc" -ne 0 ] || [ "$failed" -ne 0 ]; then exit 1; fi
exit 0
