#!/usr/bin/env bash
# Starts a collector on the embedded default store and a local agent enrolled
# with it, for trying Sonde on one machine; `stop` stops them.
#
# Environment:
#   SONDE_HTTP     the collector's UI and API address (default 127.0.0.1:7080)
#   SONDE_QUIC     the collector's QUIC address for agents (default 127.0.0.1:7443)
#   SONDE_RUN_DIR  where state and logs live (default .run)
#   SONDE_BIN      where the binaries are (default bin, as `make build` leaves them)
#
# Re-runs keep the collector's data, the agent's identity (pointed at the
# current SONDE_QUIC) and one admin API key (in $SONDE_RUN_DIR/admin.key).
# A start that fails stops whatever it started.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${SONDE_RUN_DIR:-.run}
BIN=${SONDE_BIN:-bin}
HTTP=${SONDE_HTTP:-127.0.0.1:7080}
QUIC=${SONDE_QUIC:-127.0.0.1:7443}
PATIENCE=${SONDE_RUN_PATIENCE:-120} # seconds to wait for each step

die() { echo "run.sh: $*" >&2; exit 1; }

host_of() { local h=${1%:*}; h=${h#[}; echo "${h%]}"; }
port_of() { echo "${1##*:}"; }

# reach_host is the host to dial for a listen address: loopback for a
# wildcard one.
reach_host() {
  local h; h=$(host_of "$1")
  case $h in ''|0.0.0.0|::|'*') echo 127.0.0.1 ;; *) echo "$h" ;; esac
}

# reach_addr is reach_host with the port, bracketed for IPv6.
reach_addr() {
  local h; h=$(reach_host "$1")
  [[ $h == *:* ]] && h="[$h]"
  echo "$h:$(port_of "$1")"
}

# clash OURS THEIRS: do listeners on these two hosts, same port, collide?
clash() {
  local a=${1/#localhost/127.0.0.1} b=${2/#localhost/127.0.0.1}
  set -- "$a" "$b"
  [[ $1 == "$2" ]] && return 0
  for w in '' 0.0.0.0 '*' '::'; do
    [[ $1 == "$w" || $2 == "$w" ]] && return 0
  done
  return 1
}

# listeners PROTO PORT prints "LOCAL-ADDRESS PID NAME" for each socket
# listening on PORT (PID and NAME "?" when not shown), with ss, or lsof
# where there is no ss (macOS); nothing when neither is there.
listeners() {
  local proto=$1 port=$2 flag
  if command -v ss >/dev/null; then
    [[ $proto == tcp ]] && flag=-Hltnp || flag=-Hlunp
    ss $flag "sport = :$port" 2>/dev/null |
      sed -nE 's/^[^ ]+ +[0-9]+ +[0-9]+ +([^ ]+) .*users:\(\("([^"]+)",pid=([0-9]+).*/\1 \3 \2/p; t; s/^[^ ]+ +[0-9]+ +[0-9]+ +([^ ]+) .*/\1 ? ?/p'
  elif command -v lsof >/dev/null; then
    if [[ $proto == tcp ]]; then flag=(-iTCP:"$port" -sTCP:LISTEN); else flag=(-iUDP:"$port"); fi
    lsof -nP "${flag[@]}" 2>/dev/null | awk 'NR > 1 {print $9, $2, $1}'
  fi
}

# port_user PROTO ADDR prints "PID NAME" of the process listening on
# ADDR's port at a clashing address ("? ?" when not shown), or nothing
# when the port is free. PROTO is tcp or udp.
port_user() {
  local proto=$1 addr=$2 local_addr pid name their
  while read -r local_addr pid name; do
    [[ -n $local_addr ]] || continue
    their=$(host_of "$local_addr")
    clash "$(host_of "$addr")" "${their%%%*}" || continue # another address, same port
    echo "$pid $name"
    return 0
  done < <(listeners "$proto" "$(port_of "$addr")")
}

# free_near ADDR PROTO prints ADDR with the next port up that is free.
free_near() {
  local addr=$1 proto=$2 host port
  host=${addr%:*}; port=$(port_of "$addr")
  for p in $(seq $((port + 1)) $((port + 50))); do
    if [[ -z $(port_user "$proto" "$host:$p") ]]; then echo "$host:$p"; return; fi
  done
  echo "$host:PORT"
}

# busy PROTO ADDR VAR says, and fails, when another program than the
# collector this script started holds ADDR's port.
busy() {
  local proto=$1 addr=$2 var=$3 who pid name
  who=$(port_user "$proto" "$addr")
  [[ -n $who ]] || return 1
  read -r pid name <<<"$who"
  [[ $pid != "?" && $pid == "$(ours "$RUN/collector.pid" sonde-collector || true)" ]] && return 1 # ours: stopped next
  if [[ $pid == "?" ]]; then who="a process this user cannot see"; else who="PID $pid ($name)"; fi
  echo "run.sh: $(tr a-z A-Z <<<"$proto") port $(port_of "$addr") ($var=$addr) is in use by $who; set $var=$(free_near "$addr" "$proto")" >&2
}

# check_ports refuses to start on a port another program holds.
check_ports() {
  local bad=0
  busy tcp "$HTTP" SONDE_HTTP && bad=1
  busy udp "$QUIC" SONDE_QUIC && bad=1
  busy tcp "$QUIC" SONDE_QUIC && bad=1 # the TCP fallback, on the same port number
  return $bad
}

# ours PIDFILE NAME prints the PID in PIDFILE if that process is still NAME.
ours() {
  local pid
  [[ -f $1 ]] || return 1
  pid=$(<"$1")
  [[ $pid =~ ^[0-9]+$ ]] && ! gone "$pid" || return 1
  [[ $(basename "$(cat "/proc/$pid/comm" 2>/dev/null || ps -p "$pid" -o comm= 2>/dev/null)") == "$2"* ]] && echo "$pid"
}

# gone PID: has the process ended? A zombie has, though its parent (init,
# once this script has exited) has not yet reaped it.
gone() {
  ! kill -0 "$1" 2>/dev/null || [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) == Z ]]
}

# halt PID asks the process to stop and waits for it to be gone (SIGKILL
# after 15 s).
halt() {
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 150); do
    gone "$1" && return 0
    sleep 0.1
  done
  kill -9 "$1" 2>/dev/null || true
}

stop() {
  local pid
  for p in agent collector; do
    # ps names are cut at 15 characters: sonde-collector fits.
    if pid=$(ours "$RUN/$p.pid" "sonde-$p"); then
      halt "$pid"
      echo "stopped the $p (PID $pid)"
    fi
    rm -f "$RUN/$p.pid"
  done
}

wait_for() { # wait_for DESCRIPTION COMMAND...
  local what=$1; shift
  for _ in $(seq $((PATIENCE * 10))); do
    "$@" >/dev/null 2>&1 && return 0
    for p in collector agent; do
      if [[ -f $RUN/$p.pid ]] && gone "$(<"$RUN/$p.pid")"; then
        echo "run.sh: the $p exited:" >&2; tail -5 "$RUN/$p.log" >&2; exit 1
      fi
    done
    sleep 0.1
  done
  die "timed out after ${PATIENCE}s waiting for $what; see $RUN/*.log"
}

# on_failure stops what this start started, so that a failed start leaves
# nothing running.
on_failure() {
  local rc=${1:-$?}
  trap - EXIT INT TERM
  if ((rc != 0)); then
    echo "run.sh: start failed; stopping what it started" >&2
    stop >&2
  fi
  exit $rc
}

# point_agent makes the enrolled agent in $RUN/agent use the collector at
# $1: the same collector (same CA) at a new address is a change of its
# config; a collector with another CA (its data dir was removed) needs a
# new enrollment.
point_agent() {
  local addr=$1 cfg=$RUN/agent/agent.json json token pin
  if [[ -f $cfg ]] && cmp -s "$RUN/agent/ca.pem" "$RUN/collector/ca.pem"; then
    if ! grep -qF "\"collector\": \"$addr\"" "$cfg"; then
      sed -E "s/(\"collector\": *\")[^\"]*\"/\1$addr\"/" "$cfg" >"$cfg.tmp"
      chmod 0644 "$cfg.tmp"
      mv "$cfg.tmp" "$cfg"
      grep -qF "\"collector\": \"$addr\"" "$cfg" || die "could not point the agent at $addr in $cfg"
      echo "pointed the local agent at $addr"
    fi
    return
  fi
  json=$("$BIN/sonde-collector" token create --data "$RUN/collector" --json)
  token=$(sed -E 's/.*"token":"([^"]+)".*/\1/' <<<"$json")
  pin=$(sed -E 's/.*"ca_pin":"([^"]+)".*/\1/' <<<"$json")
  "$BIN/sonde-agent" enroll --force --state "$RUN/agent" --collector "$addr" --token "$token" --ca-pin "$pin"
}

# agent_connected ADDR: has the agent logged its connection to ADDR?
agent_connected() {
  grep -F "connected to collector" "$RUN/agent.log" | grep -qF "collector=$1"
}

# admin_key prints the local admin key: the one kept in $RUN/admin.key if
# the collector still takes it as an admin's, else a new one, kept there.
admin_key() {
  local file=$RUN/admin.key key
  if [[ -s $file ]]; then
    key=$(<"$file")
    if SONDE_URL="http://$(reach_addr "$HTTP")" SONDE_TOKEN=$key "$BIN/sonde" whoami --json 2>/dev/null | grep -q '"role": *"admin"'; then
      echo "$key"
      return
    fi
  fi
  key=$("$BIN/sonde-collector" apikey create make-run --role admin --data "$RUN/collector" 2>/dev/null)
  (umask 077 && echo "$key" >"$file.tmp")
  mv "$file.tmp" "$file"
  echo "$key"
}

start() {
  for b in sonde-collector sonde-agent sonde; do
    [[ -x $BIN/$b ]] || die "$BIN/$b is missing: run make build (or make run)"
  done
  # Before stopping a running copy: a start that cannot go ahead leaves
  # it alone.
  check_ports || exit 1
  stop >/dev/null
  mkdir -p "$RUN"
  trap on_failure EXIT
  trap 'on_failure 130' INT TERM
  local agent_addr key id
  agent_addr=$(reach_addr "$QUIC")
  # The logs are waited on: a previous run's must not answer for this one.
  rm -f "$RUN/collector.log" "$RUN/agent.log"
  "$BIN/sonde-collector" serve --data "$RUN/collector" --quic "$QUIC" --http "$HTTP" --san "$(reach_host "$QUIC")" \
    >"$RUN/collector.log" 2>&1 &
  echo $! >"$RUN/collector.pid"
  wait_for "the collector" grep -q "collector serving" "$RUN/collector.log"

  point_agent "$agent_addr"
  "$BIN/sonde-agent" run --state "$RUN/agent" >"$RUN/agent.log" 2>&1 &
  echo $! >"$RUN/agent.pid"
  key=$(admin_key)
  wait_for "the agent to connect to $agent_addr" agent_connected "$agent_addr"
  id=$(sed -nE 's/.*"agent_id": *"([^"]+)".*/\1/p' "$RUN/agent/agent.json")
  trap - EXIT INT TERM

  cat <<MSG

Sonde is running (logs in $RUN/, stop with: make stop).
  UI and API:  http://$(reach_addr "$HTTP")/   (SONDE_HTTP=$HTTP)
  QUIC:        $QUIC (agents; TCP on the same port)   (SONDE_QUIC=$QUIC)
  Agent:       $id, connected to $agent_addr
  API key:     $key (role admin, kept in $RUN/admin.key)

Other ports: SONDE_HTTP=127.0.0.1:8080 SONDE_QUIC=127.0.0.1:8443 make run

Try:
  export SONDE_URL=http://$(reach_addr "$HTTP") SONDE_TOKEN=$key
  $BIN/sonde agents
  $BIN/sonde snapshot $(hostname)
MSG
}

case ${1:-start} in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
