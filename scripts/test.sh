#!/usr/bin/env bash
# Runs every test of mod_md on this machine: installs what is missing (bootstrap), checks the
# code format, builds, runs the unit tests plain and under ASan+UBSan, then the e2e tests.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh || { echo "bootstrap failed"; exit 1; }

passed=0
failed=0
step() { # name, command...: runs a step that counts as one check
    local name=$1; shift
    if "$@"; then passed=$((passed + 1)); else echo "FAILED: $name"; failed=$((failed + 1)); fi
}

step format-check make -s format-check
step build make -s -j2 all
# unit tests: cmocka prints "[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s)..." per binary
unit() { # build dir, make args...
    local dir=$1; shift
    local out rc
    out=$(make -s -j2 BUILD="$dir" "$@" check-unit 2>&1); rc=$?
    local logs=("$dir"/test/*.log) p=0 f=0 n
    for l in "${logs[@]}"; do
        [ -f "$l" ] || continue
        n=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$l" | tail -1); p=$((p + ${n:-0}))
        n=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$l" | tail -1); f=$((f + ${n:-0}))
        grep -q '^\[  PASSED  \]' "$l" || grep -q '^\[  FAILED  \]' "$l" || {
            echo "unit: $l crashed or did not run:"; tail -20 "$l"; f=$((f + 1)); }
    done
    grep -h '^\[  FAILED  \] ' "${logs[@]}" 2>/dev/null | grep -v 'test(s)' | sed "s|^|unit($dir): |"
    if [ $rc -ne 0 ] && [ $f -eq 0 ]; then  # e.g. a test that did not build
        echo "unit($dir): make check-unit failed:"; echo "$out" | tail -20; f=$((f + 1))
    fi
    echo "unit tests ($dir): $p passed, $f failed"
    passed=$((passed + p)); failed=$((failed + f))
}
rm -f build/test/*.log build-san/test/*.log
unit build
unit build-san SAN=1
# the module under ASan+UBSan, for the e2e tests that restart and stop it mid-drive
step build-san make -s -j2 BUILD=build-san SAN=1 all

mkdir -p build
/usr/bin/python3 -m pytest -q -p no:cacheprovider test/e2e 2>&1 | tee build/e2e.log
rc=${PIPESTATUS[0]}
last=$(grep -E '(passed|failed|error|no tests ran)' build/e2e.log | tail -1)
count() { echo "$last" | grep -oE "[0-9]+ $1" | grep -oE '[0-9]+' || echo 0; }
ep=$(count passed); ef=$(( $(count failed) + $(count error) ))
[ $rc -ne 0 ] && [ "$ef" -eq 0 ] && ef=1
echo "e2e: $ep passed, $ef failed"
echo "$((passed + ep)) passed, $((failed + ef)) failed"
[ $failed -eq 0 ] && [ $rc -eq 0 ]
