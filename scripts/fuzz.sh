#!/usr/bin/env bash
# Runs every Go native fuzz target of the module (func FuzzXxx in a
# package's tests) for FUZZTIME each, FUZZJOBS targets at a time, one fuzz
# worker per target. Prints one line per target as it ends, keeps each
# target's output in a log file under FUZZLOGS, prints the log of every
# target that failed, and exits non-zero if any did. A crasher is kept by
# `go test` in the package's testdata/fuzz/FuzzXxx/.
#
#   FUZZTIME=60s FUZZJOBS=2 scripts/fuzz.sh
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

export GO=${GO:-go}
export FUZZTIME=${FUZZTIME:-60s}
FUZZJOBS=${FUZZJOBS:-2}
export FUZZLOGS=${FUZZLOGS:-$(mktemp -d "${TMPDIR:-/tmp}/sonde-fuzz.XXXXXX")}
mkdir -p "$FUZZLOGS"

# Every package's fuzz targets, one "package target" line each. go test
# prints a package's list, then its "ok  <package>" line.
# shellcheck disable=SC2046 # one argument per package
if ! list=$("$GO" test -list '^Fuzz' $("$GO" list ./...)); then
	echo "$list"
	echo "listing the fuzz targets failed" >&2
	exit 1
fi
targets=$(awk '/^Fuzz/ { names[n++] = $1; next }
	/^ok / { for (i = 0; i < n; i++) print $2, names[i]; n = 0 }' <<<"$list")
if [[ -z $targets ]]; then
	echo "no fuzz targets found" >&2
	exit 1
fi
echo "fuzzing $(wc -l <<<"$targets") targets for $FUZZTIME each, $FUZZJOBS at a time; logs in $FUZZLOGS"

# coordinator_race LOG tells whether a failed run is only Go 1.26's fuzzing
# coordinator race (go.dev/issue/75804, fixed in Go 1.27): when -fuzztime
# runs out while a worker is mid-input, the run fails with a bare "context
# deadline exceeded" although no input failed. A real failure writes its
# input to testdata/fuzz and says so; a hung target says so too.
coordinator_race() {
	local log=$1
	! grep -q -e 'Failing input written to' -e 'hung or terminated unexpectedly' -e '^panic:' "$log" &&
		grep -A1 -e '^--- FAIL: Fuzz' "$log" | tail -n 1 | grep -qx '    context deadline exceeded'
}
export -f coordinator_race

# run_one PKG NAME fuzzes one target and reports it; it leaves NAME's log
# and, on failure, a .failed marker next to it.
run_one() {
	local pkg=$1 name=$2 start=$SECONDS
	local log="$FUZZLOGS/${pkg//\//_}.$name.log"
	if "$GO" test -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 10s -parallel 1 "$pkg" >"$log" 2>&1; then
		printf 'ok    %-60s %4ds\n' "$pkg $name" $((SECONDS - start))
	elif coordinator_race "$log"; then
		printf 'ok    %-60s %4ds  (Go 1.26 end-of-fuzztime race, go.dev/issue/75804: no failing input)\n' "$pkg $name" $((SECONDS - start))
	else
		printf 'FAIL  %-60s %4ds  %s\n' "$pkg $name" $((SECONDS - start)) "$log"
		touch "$log.failed"
	fi
}
export -f run_one

start=$SECONDS
rm -f "$FUZZLOGS"/*.failed
xargs -P "$FUZZJOBS" -L 1 bash -c 'run_one "$@"' _ <<<"$targets"

failed=0
for marker in "$FUZZLOGS"/*.failed; do
	[[ -e $marker ]] || continue
	failed=$((failed + 1))
	log=${marker%.failed}
	echo
	echo "==== $(basename "$log" .log) failed; its log ($log):"
	cat "$log"
done
echo
echo "$(wc -l <<<"$targets") targets, $failed failed, in $((SECONDS - start))s"
[[ $failed -eq 0 ]]
