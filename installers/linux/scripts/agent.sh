# The sonde-agent package's part of its maintainer scripts.

UNIT=sonde-agent
STATE=/var/lib/sonde-agent
CONF=/etc/sonde-agent
START_HINT="start the agent with: /usr/bin/sonde-agent run --state /var/lib/sonde-agent --log-format json"

# configure makes the folders the agent writes to (also without systemd,
# which would make the state dir itself) and leaves the installer's
# enrollment settings for it.
configure() {
	install -d -m 0700 -o root -g root "$STATE"
	install -d -m 0755 -o root -g root "$STATE-public"
	install -d -m 0755 -o root -g root "$CONF"
	place_enrollment
}

# place_enrollment writes the SONDE_ENROLL_* settings of the installer's
# environment (dpkg -i, apt-get install, rpm -i) to enroll.env, mode 0600,
# for the agent's service to enroll with. It never enrolls (the collector
# may be out of reach) and never fails the install. An enrolled agent, or
# an enroll.env already there (an administrator may place it before
# installing), keeps what it has.
place_enrollment() {
	c=${SONDE_ENROLL_COLLECTOR:-}
	t=${SONDE_ENROLL_TOKEN:-}
	p=${SONDE_ENROLL_CA_PIN:-}
	f=$CONF/enroll.env
	if [ -z "$c$t$p" ]; then
		return 0
	fi
	if [ -e "$STATE/agent.json" ]; then
		echo "$UNIT: already enrolled ($STATE/agent.json); the SONDE_ENROLL_* settings are not used"
		return 0
	fi
	if [ -e "$f" ]; then
		echo "$UNIT: $f is already there; the SONDE_ENROLL_* settings are not used"
		return 0
	fi
	if [ -z "$c" ] || [ -z "$t" ] || [ -z "$p" ]; then
		echo "$UNIT: SONDE_ENROLL_COLLECTOR, SONDE_ENROLL_TOKEN and SONDE_ENROLL_CA_PIN go together; $f not written" >&2
		return 0
	fi
	for v in "$c" "$t" "$p"; do
		# Only printable ASCII without spaces, so that each is one line.
		if [ $(printf '%s' "$v" | LC_ALL=C tr -d '[:graph:]' | wc -c) -ne 0 ]; then
			echo "$UNIT: a SONDE_ENROLL_* setting holds spaces or control characters; $f not written" >&2
			return 0
		fi
	done
	if (umask 077 && printf '# Left at install for the agent to enroll with; it deletes this file once enrolled.\nSONDE_ENROLL_COLLECTOR=%s\nSONDE_ENROLL_TOKEN=%s\nSONDE_ENROLL_CA_PIN=%s\n' "$c" "$t" "$p" >"$f.new") &&
		chown root:root "$f.new" && chmod 0600 "$f.new" && mv -f "$f.new" "$f"; then
		echo "$UNIT: enrollment settings written to $f; the agent enrolls when it starts"
	else
		rm -f "$f.new"
		echo "$UNIT: could not write $f; enroll by hand with: sonde-agent enroll" >&2
	fi
}

# purge removes what the agent made: its identity, spool and receipts, and
# its configuration.
purge() {
	rm -rf "$STATE" "$STATE-public" "$CONF"
}
