# The sonde-collector package's part of its maintainer scripts.

UNIT=sonde-collector
ACCOUNT=sonde
DATA=/var/lib/sonde-collector
CONF=/etc/sonde-collector
SYSCTL=60-sonde-collector.conf
START_HINT="start the collector with: runuser -u sonde -- /usr/bin/sonde-collector serve --data /var/lib/sonde-collector"

# configure makes the collector's account and data dir, and raises the
# UDP buffer ceilings now rather than at the next boot.
configure() {
	add_account
	install -d -m 0700 -o "$ACCOUNT" -g "$ACCOUNT" "$DATA"
	raise_udp_buffers
}

# add_account makes the system account the collector runs as, with its
# data dir as home and no login.
add_account() {
	if getent passwd "$ACCOUNT" >/dev/null; then
		return 0
	fi
	shell=/usr/sbin/nologin
	if [ ! -x "$shell" ]; then
		shell=/sbin/nologin
	fi
	if getent group "$ACCOUNT" >/dev/null; then
		useradd --system --gid "$ACCOUNT" --home-dir "$DATA" --no-create-home --shell "$shell" --comment "Sonde collector" "$ACCOUNT"
	else
		useradd --system --user-group --home-dir "$DATA" --no-create-home --shell "$shell" --comment "Sonde collector" "$ACCOUNT"
	fi
}

# raise_udp_buffers applies the package's sysctl file (or an override of
# it in /etc/sysctl.d) when the kernel's ceilings are below its values; it
# never lowers them and never fails the install (a container may not set
# them).
raise_udp_buffers() {
	want=7500000
	low=no
	for key in rmem_max wmem_max; do
		v=$(cat "/proc/sys/net/core/$key" 2>/dev/null || true)
		case $v in
		'' | *[!0-9]*) ;;
		*) if [ "$v" -lt "$want" ]; then low=yes; fi ;;
		esac
	done
	if [ "$low" = no ]; then
		return 0
	fi
	for d in /usr/lib/systemd /lib/systemd; do
		if [ -x "$d/systemd-sysctl" ]; then
			if "$d/systemd-sysctl" "$SYSCTL" 2>/dev/null; then
				return 0
			fi
			break
		fi
	done
	if command -v sysctl >/dev/null 2>&1 && sysctl -q -p "/usr/lib/sysctl.d/$SYSCTL" >/dev/null 2>&1; then
		return 0
	fi
	echo "$UNIT: could not raise net.core.rmem_max and wmem_max to $want here (they apply at the next boot); until then quic-go warns of small UDP buffers" >&2
}

# purge removes what the collector made: its data dir (CA, database,
# bundles) and its configuration. The account stays, as Debian advises: files
# elsewhere (backups, copies) may still belong to it, and a new install
# takes it up again.
purge() {
	rm -rf "$DATA" "$CONF"
}
