#!/usr/bin/env bash
# Makes sure this machine has what a suite of tests runs, before it starts:
# the end-to-end tests run Debian's Prometheus, Alertmanager and Chromium,
# install a package with dpkg and write to the kernel log (so they need
# root), and the agent's proxy tests run its tinyproxy; the fault tests
# need nftables, iproute2 (ss too) and tinyproxy; `make bench-agent` runs Debian's
# node_exporter beside the agent (the test starts the binary itself; where
# installing the package starts its service, that one is left alone). When
# something is missing it installs it if it can (root and apt-get), else it
# stops at once with the one command to run. `make test`, `make test-faults`,
# `make bench-agent` and .ci/run all come through here. `make test-helpdesk`
# runs the helpdesk connectors against Debian's Request Tracker 5 and
# Redmine (both told to make no database of their own: each test makes its
# own instance in a temporary folder).
#
#   scripts/deps.sh test|faults|packages|bench|helpdesk|all
set -euo pipefail

suite=${1:-test}

# command package
test_needs="chromium chromium
prometheus prometheus
promtool prometheus
prometheus-alertmanager prometheus-alertmanager
dpkg-deb dpkg
tinyproxy tinyproxy"
faults_needs="nft nftables
ip iproute2
ss iproute2
tinyproxy tinyproxy"
packages_needs="rpm rpm
wixl wixl
msiinfo msitools
osslsigncode osslsigncode
systemd-analyze systemd
bsdtar libarchive-tools
cpio cpio"
bench_needs="prometheus-node-exporter prometheus-node-exporter"
# A needed path instead of a command: a package with no command of its own.
helpdesk_needs="rt-setup-database-5 request-tracker5
/usr/share/doc/rt5-db-sqlite rt5-db-sqlite
/usr/share/doc/rt5-standalone rt5-standalone
/usr/share/redmine/Gemfile redmine
/usr/share/doc/redmine-sqlite redmine-sqlite
thin thin"
# debconf answers given before installing (package question type value):
# without them request-tracker5 builds a system database whose root
# password is "password", and redmine one of its own.
helpdesk_preseed="request-tracker5 request-tracker5/dbconfig-install boolean false
request-tracker5 request-tracker5/install-cronjobs boolean false
redmine redmine/instances/default/dbconfig-install boolean false"

case $suite in
test) needs=$test_needs target="make test" ;;
faults) needs=$faults_needs target="make test-faults" ;;
packages) needs=$packages_needs target="make test-packages" ;;
bench) needs=$bench_needs target="make bench-agent" ;;
helpdesk) needs=$helpdesk_needs preseed=$helpdesk_preseed target="make test-helpdesk" ;;
all) needs="$test_needs
$faults_needs
$packages_needs
$helpdesk_needs" preseed=$helpdesk_preseed target="make test test-faults test-packages test-helpdesk" ;;
*)
	echo "usage: scripts/deps.sh test|faults|packages|bench|helpdesk|all" >&2
	exit 2
	;;
esac

if ((EUID != 0)); then
	echo "$target needs root (its tests install a package, write to the kernel log, make network namespaces): run sudo $target" >&2
	exit 1
fi

# present says whether a command, or a path that starts with /, is there.
present() {
	if [[ $1 == /* ]]; then
		[[ -e $1 ]]
	else
		command -v "$1" >/dev/null || [[ -x /usr/bin/$1 ]]
	fi
}

missing=()
while read -r cmd pkg; do
	if ! present "$cmd"; then
		[[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
	fi
done <<<"$needs"
((${#missing[@]} == 0)) && exit 0

if ! command -v apt-get >/dev/null; then
	echo "$target needs Debian's ${missing[*]}: install them with your package manager, then run $target again" >&2
	exit 1
fi
echo "installing what $target needs: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
[[ -z ${preseed:-} ]] || debconf-set-selections <<<"$preseed"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
