# What every maintainer script of the Sonde packages shares. The scripts
# also run where systemd is not the running init (containers, chroots,
# images being built): they call systemctl only when it is, and otherwise
# say in one line how to start the service. They are safe to run twice.

# systemd_running reports whether systemd manages this machine now.
systemd_running() {
	[ -d /run/systemd/system ]
}

# service_reload has a running systemd read the unit files again.
service_reload() {
	if systemd_running; then
		systemctl daemon-reload || true
	fi
}

# service_installed enables and starts the service once its package is
# configured. $1 is yes on the package's first install, which enables the
# service; an upgrade keeps what the administrator chose and restarts the
# service if it is enabled. A service that does not start fails no install.
service_installed() {
	if ! systemd_running; then
		echo "$UNIT: systemd is not running here; $START_HINT"
		return 0
	fi
	systemctl daemon-reload || true
	if [ "$1" = yes ]; then
		systemctl --quiet enable "$UNIT.service" || echo "$UNIT: could not enable $UNIT.service" >&2
	fi
	if systemctl --quiet is-enabled "$UNIT.service" 2>/dev/null; then
		systemctl restart "$UNIT.service" || echo "$UNIT: $UNIT.service did not start; see: journalctl -u $UNIT" >&2
	fi
}

# service_stop stops the service before its package is removed.
service_stop() {
	if systemd_running; then
		systemctl stop "$UNIT.service" || true
	fi
}

# service_forget disables the service for good (rpm erase, dpkg purge),
# also where systemd is not running, by removing its enablement link.
service_forget() {
	if systemd_running; then
		systemctl --quiet disable "$UNIT.service" 2>/dev/null || true
	fi
	rm -f "/etc/systemd/system/multi-user.target.wants/$UNIT.service"
}
