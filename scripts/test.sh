#!/usr/bin/env bash
# Every test: type check, lint, then jest — unit tests and integration tests on the sandbox of real
# parts, which jest's global setup installs (cached), starts once, and stops at the end.
# Extra arguments go to jest (e.g. `npm test -- --selectProjects unit`).
# Ends with the line "N passed, N failed" from jest's JSON report.
set -uo pipefail
cd "$(dirname "$0")/.."
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
mkdir -p reports
rm -f reports/jest.json

summary() {
  node -e '
    const fs = require("fs");
    const f = "reports/jest.json";
    if (!fs.existsSync(f)) { console.log("0 passed, 0 failed"); process.exit(0); }
    const r = JSON.parse(fs.readFileSync(f, "utf8"));
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed`);'
}

if ! npx tsc --noEmit -p .; then echo "type check failed"; summary; exit 1; fi
if ! npx eslint .; then echo "lint failed"; summary; exit 1; fi
# --forceExit: a test that leaks a worker or a connection must not hold the whole run until the CI timeout.
npx jest --runInBand --forceExit --json --outputFile=reports/jest.json "$@"
rc=$?
summary
exit $rc
