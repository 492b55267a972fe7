#!/bin/bash
# Build rbm-graph with meson and run every Check suite.
#
# Usage: tools/run-tests.sh [--sanitize] [BUILD_DIR]
#
# Without options the build directory is build/ at the repository root, or
# $RG_BUILD_DIR. With --sanitize it is build-asan/, or $RG_ASAN_BUILD_DIR,
# configured with AddressSanitizer and UndefinedBehaviorSanitizer. A
# BUILD_DIR argument overrides both. The directory is configured when it
# has not been yet.
#
# Output: each suite's Check summary line ("infer: 100%: Checks: 6,
# Failures: 0, Errors: 0"), then one last line "N passed, N failed" with the
# checks summed over all suites. A suite that crashes, times out, is not
# built or prints no Check summary counts as one failed check, and so does
# a failed build. The exit status is 1 when anything failed.
set -uo pipefail

usage() {
    sed -n '2,16s/^# \{0,1\}//p' "$0"
}

src_dir=$(cd "$(dirname "$0")/.." && pwd)
sanitize=false
build_dir=

while [ $# -gt 0 ]; do
    case $1 in
    --sanitize) sanitize=true ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "run-tests: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    *) build_dir=$1 ;;
    esac
    shift
done

# -Dtests=enabled makes a missing Check a configure error instead of a
# build with no suites, which would report "0 passed, 0 failed".
options=(-Dtests=enabled)
if $sanitize; then
    build_dir=${build_dir:-${RG_ASAN_BUILD_DIR:-$src_dir/build-asan}}
    options+=(-Db_sanitize=address,undefined -Db_lundef=false)
    export ASAN_OPTIONS=detect_leaks=1
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
else
    build_dir=${build_dir:-${RG_BUILD_DIR:-$src_dir/build}}
fi

passed=0
failed=0

# Configure, or apply the options to an existing build directory.
if [ -f "$build_dir/meson-private/coredata.dat" ]; then
    meson configure "$build_dir" "${options[@]}"
else
    meson setup "$build_dir" "$src_dir" "${options[@]}"
fi
if [ $? -ne 0 ]; then
    echo "run-tests: configuring $build_dir failed; see the errors above" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

# Build everything that compiles (-k0), so one broken target does not hide
# the results of the suites that did build.
if ! meson compile -C "$build_dir" --ninja-args=-k0; then
    echo "run-tests: the build failed in $build_dir; see the errors above" >&2
    failed=$((failed + 1))
fi

suites=$(meson test -C "$build_dir" --no-rebuild --list 2>/dev/null)
if [ -z "$suites" ]; then
    echo "run-tests: no test suites are defined in $build_dir" >&2
    failed=$((failed + 1))
fi

summary_re='^[0-9]+%: Checks: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+)$'

echo
for suite in $suites; do
    log=$build_dir/meson-logs/testlog-$suite.txt
    console=$build_dir/meson-logs/console-$suite.txt
    rm -f "$log"

    # Each suite gets its own meson run, so a suite that is missing or
    # crashes does not stop the others. Its console output is shown only
    # when it fails.
    meson test -C "$build_dir" --no-rebuild --print-errorlogs \
        --logbase "testlog-$suite" "$suite" >"$console" 2>&1
    status=$?

    # Sum every Check summary line in the suite's stdout.
    n_lines=0
    n_bad=0
    if [ -f "$log" ]; then
        while IFS= read -r line; do
            line=${line%$'\r'}
            if [[ $line =~ $summary_re ]]; then
                echo "$suite: $line"
                n_lines=$((n_lines + 1))
                checks=${BASH_REMATCH[1]}
                bad=$((BASH_REMATCH[2] + BASH_REMATCH[3]))
                passed=$((passed + checks - bad))
                n_bad=$((n_bad + bad))
            fi
        done <"$log"
    fi
    failed=$((failed + n_bad))

    if [ "$n_lines" -eq 0 ]; then
        if [ ! -f "$log" ]; then
            echo "$suite: FAILED: did not run (not built?)"
        elif [ "$status" -eq 0 ]; then
            echo "$suite: FAILED: exited 0 but printed no Check summary"
        else
            echo "$suite: FAILED: crashed or timed out before its Check summary"
        fi
        failed=$((failed + 1))
    elif [ "$status" -ne 0 ] && [ "$n_bad" -eq 0 ]; then
        # Every check passed but the program failed afterwards, for
        # example with a leak report at exit.
        echo "$suite: FAILED: exit status was not 0 after every check passed"
        failed=$((failed + 1))
    fi
    if [ "$status" -ne 0 ]; then
        sed 's/^/    /' "$console"
    fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
