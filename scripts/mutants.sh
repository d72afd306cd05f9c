#!/usr/bin/env bash
# Mutation testing of the core packages with a pinned gremlins: each
# package's own tests must kill at least its floor (percent) of the mutants
# they cover (test efficacy). Packages run MUTANTJOBS at a time, each within
# MUTANTBUDGET; a package that runs out of time fails. Prints one line per
# package and a table; with UPDATE=1 writes the table to MUTATION.md.
# Surviving mutants that change no behaviour are listed, with the reason,
# in MUTANTS.md beside each package's code. MUTANTPACKAGES ("pkg floor"
# lines) replaces the list of packages.
#
# GOFLAGS: -count=1, or a coverage run answered from the test cache sets
# every mutant's timeout (its time times the coefficient) too short; and
# -parallel=8 because the slow tests wait on the network and on timers,
# not on the two cores that would otherwise cap them. A mutant's timeout
# is 5 times the coverage run's time: a mutant that makes a test wait
# forever costs minutes of the budget each (tests wait on what they expect
# for a bounded time, so that such a mutant fails them instead), and a
# timed-out mutant counts in neither killed nor lived.
#
#   MUTANTJOBS=2 MUTANTBUDGET=40m scripts/mutants.sh
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

GO=${GO:-go}
GREMLINS_VERSION=v0.6.0
MUTANTJOBS=${MUTANTJOBS:-2}
MUTANTBUDGET=${MUTANTBUDGET:-40m}
logs=$(mktemp -d "${TMPDIR:-/tmp}/sonde-mutants.XXXXXX")

# package floor, the slowest first so that the jobs end together
floors="${MUTANTPACKAGES:-collector/ingest 85
protocol 90
redact 90
collector/alert 85
findings 85
collector/bundle 90
agent/spool 85
collector/ticket 90}"

GOBIN="$logs/bin" "$GO" install "github.com/go-gremlins/gremlins/cmd/gremlins@$GREMLINS_VERSION"
export GREMLINS="$logs/bin/gremlins" MUTANTBUDGET logs

# one PACKAGE FLOOR runs gremlins on a package and prints its result line:
# package, floor, efficacy, coverage, killed, lived, not covered, timed
# out, seconds, verdict.
one() {
	local pkg=$1 floor=$2 log start rc=0
	log="$logs/${pkg//\//_}.log"
	start=$(date +%s)
	GOFLAGS="-count=1 -parallel=8" timeout "$MUTANTBUDGET" "$GREMLINS" unleash --workers 1 --timeout-coefficient 5 \
		--threshold-efficacy "$floor" "./$pkg" >"$log" 2>&1 || rc=$?
	local eff cov killed lived notcov timedout verdict=ok
	eff=$(sed -n 's/^Test efficacy: \([0-9.]*\)%.*/\1/p' "$log")
	cov=$(sed -n 's/^Mutator coverage: \([0-9.]*\)%.*/\1/p' "$log")
	read -r killed lived notcov < <(sed -n 's/^Killed: \([0-9]*\), Lived: \([0-9]*\), Not covered: \([0-9]*\).*/\1 \2 \3/p' "$log")
	timedout=$(sed -n 's/^Timed out: \([0-9]*\),.*/\1/p' "$log")
	if ((rc == 124)); then
		verdict="FAIL: over the $MUTANTBUDGET budget"
	elif ((rc != 0)) || [[ -z $eff ]]; then
		verdict="FAIL: gremlins exited $rc"
	elif awk -v e="$eff" -v f="$floor" 'BEGIN { exit !(e < f) }'; then
		verdict="FAIL: below the floor"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$pkg" "$floor" "${eff:--}" "${cov:--}" \
		"${killed:--}" "${lived:--}" "${notcov:--}" "${timedout:--}" "$(($(date +%s) - start))" "$verdict"
}
export -f one

echo "mutation testing ${MUTANTJOBS} packages at a time, ${MUTANTBUDGET} each; logs in $logs"
results=$(xargs -P "$MUTANTJOBS" -L 1 bash -c 'one "$0" "$1"' <<<"$floors")

table="| package | floor % | efficacy % | mutant coverage % | killed | lived | not covered | timed out | seconds | verdict |
|---|---|---|---|---|---|---|---|---|---|
$(sort <<<"$results" | awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10}')"
echo "$table"

failed=0
while IFS=$'\t' read -r pkg _ _ _ _ _ _ _ _ verdict; do
	if [[ $verdict != ok ]]; then
		failed=1
		echo "--- $pkg: $verdict" >&2
		grep -E 'LIVED|TIMED OUT|^Test efficacy|^Mutator coverage' "$logs/${pkg//\//_}.log" >&2 || tail -20 "$logs/${pkg//\//_}.log" >&2
	fi
done <<<"$results"

if [[ ${UPDATE:-} == 1 ]]; then
	{
		echo "# Mutation testing"
		echo
		echo "\`make mutants\` ($(git rev-parse --short HEAD), gremlins $GREMLINS_VERSION, $(go env GOVERSION), $(nproc) cores, $MUTANTJOBS packages at a time): each package's own tests against the mutants of its code. Efficacy is killed / (killed + lived); mutant coverage is the share of mutants that some test runs. Equivalent survivors are listed in each package's MUTANTS.md."
		echo
		echo "$table"
	} >MUTATION.md
	echo "wrote MUTATION.md"
fi
exit "$failed"
