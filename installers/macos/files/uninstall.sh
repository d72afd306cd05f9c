#!/bin/sh
# Removes the Sonde agent from this Mac: stops its daemon, removes its
# program, daemon definition and package receipt. Its state (enrollment,
# spool, receipts), settings and logs stay for a reinstall, unless
# --purge is given.
#
#   sudo /usr/local/share/sonde/uninstall.sh [--purge]
set -u
purge=no
case "${1:-}" in
--purge) purge=yes ;;
"") ;;
*)
	echo "usage: sudo $0 [--purge]" >&2
	exit 2
	;;
esac
if [ "$(id -u)" != 0 ]; then
	echo "uninstall.sh: run it as root: sudo $0 $*" >&2
	exit 1
fi

launchctl bootout system/com.sonde.agent 2>/dev/null || true
rm -f /Library/LaunchDaemons/com.sonde.agent.plist /usr/local/bin/sonde-agent
if [ $purge = yes ]; then
	rm -rf "/Library/Application Support/Sonde" /Library/Logs/Sonde
	echo "removed the Sonde agent, its state, settings and logs"
else
	echo "removed the Sonde agent; its state and settings stay in /Library/Application Support/Sonde (--purge removes them)"
fi
pkgutil --forget com.sonde.agent >/dev/null 2>&1 || true
rm -f /usr/local/share/sonde/uninstall.sh
rmdir /usr/local/share/sonde 2>/dev/null || true
exit 0
