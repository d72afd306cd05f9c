#!/usr/bin/env bash
# Starts a collector on the embedded default store and a local agent enrolled
# with it, for trying Sonde on one machine. State lives in .run/.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=.run
QUIC=${SONDE_QUIC:-127.0.0.1:7443}
HTTP=${SONDE_HTTP:-127.0.0.1:7080}

stop() {
  for p in agent collector; do
    if [[ -f $RUN/$p.pid ]] && kill "$(cat $RUN/$p.pid)" 2>/dev/null; then
      echo "stopped $p"
    fi
    rm -f $RUN/$p.pid
  done
}

wait_for() { # wait_for DESCRIPTION COMMAND...
  local what=$1; shift
  for _ in $(seq 100); do
    "$@" >/dev/null 2>&1 && return 0
    for p in collector agent; do
      if [[ -f $RUN/$p.pid ]] && ! kill -0 "$(cat $RUN/$p.pid)" 2>/dev/null; then
        echo "the $p exited:" >&2; tail -5 $RUN/$p.log >&2; exit 1
      fi
    done
    sleep 0.1
  done
  echo "timed out waiting for $what; see $RUN/*.log" >&2
  exit 1
}

start() {
  stop >/dev/null
  mkdir -p $RUN
  bin/sonde-collector serve --data $RUN/collector --quic "$QUIC" --http "$HTTP" >$RUN/collector.log 2>&1 &
  echo $! >$RUN/collector.pid
  wait_for "the collector" grep -q "collector serving" $RUN/collector.log

  if [[ ! -f $RUN/agent/agent.json ]]; then
    json=$(bin/sonde-collector token create --data $RUN/collector --json)
    token=$(sed -E 's/.*"token":"([^"]+)".*/\1/' <<<"$json")
    pin=$(sed -E 's/.*"ca_pin":"([^"]+)".*/\1/' <<<"$json")
    bin/sonde-agent enroll --state $RUN/agent --collector "$QUIC" --token "$token" --ca-pin "$pin"
  fi
  bin/sonde-agent run --state $RUN/agent >$RUN/agent.log 2>&1 &
  echo $! >$RUN/agent.pid
  key=$(bin/sonde-collector apikey create "make-run-$(date +%s)" --role admin --data $RUN/collector 2>/dev/null)
  wait_for "the agent to connect" grep -q "connected to collector" $RUN/agent.log

  cat <<MSG

Sonde is running (logs in $RUN/, stop with: make stop).
  UI and API:  http://$HTTP/
  QUIC:        $QUIC (agents)
  API key:     $key (role admin)

Try:
  export SONDE_URL=http://$HTTP SONDE_TOKEN=$key
  bin/sonde agents
  bin/sonde snapshot $(hostname)
MSG
}

case ${1:-start} in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
