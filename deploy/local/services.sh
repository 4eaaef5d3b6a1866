#!/usr/bin/env bash
# Start or stop the four newsflow services and newsflow-api (the page at :8005) in the background.
#   deploy/local/services.sh start|stop|status
# Logs: .newsflow/logs/<service>.log  PIDs: .newsflow/pids/<service>.pid
set -euo pipefail
cd "$(dirname "$0")/../.."
state=.newsflow
bin=.venv/bin
mkdir -p "$state/logs" "$state/pids" "$state/inbox"

export NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS=${NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:${NEWSFLOW_STACK_KAFKA_PORT:-9092}}
export NEWSFLOW_ELASTICSEARCH_URL=${NEWSFLOW_ELASTICSEARCH_URL:-http://127.0.0.1:${NEWSFLOW_STACK_ES_PORT:-9200}}
export NEWSFLOW_STATE_DIR=${NEWSFLOW_STATE_DIR:-$state/ingest}
export NEWSFLOW_HTTP_HOST=${NEWSFLOW_HTTP_HOST:-127.0.0.1}
unset NEWSFLOW_HTTP_PORT  # each service has its own default port (8001-8005) on one machine

running() { [ -f "$state/pids/$1.pid" ] && kill -0 "$(cat "$state/pids/$1.pid")" 2>/dev/null; }

start() {
  local name=$1; shift
  if running "$name"; then echo "$name already running (pid $(cat "$state/pids/$name.pid"))"; return; fi
  nohup "$@" >>"$state/logs/$name.log" 2>&1 &
  echo $! >"$state/pids/$name.pid"
  echo "started $name (pid $!, log $state/logs/$name.log)"
}

# Wait until /healthz answers 200; fail at once, with the log's tail, if the process dies.
wait_healthy() {
  local name=$1 port=$2 pid
  pid=$(cat "$state/pids/$name.pid")
  for _ in $(seq 1 240); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited; the end of $state/logs/$name.log:" >&2
      tail -n 15 "$state/logs/$name.log" >&2
      return 1
    fi
    "$bin/python" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/healthz', timeout=2)" \
      2>/dev/null && { echo "$name healthy on :$port"; return 0; }
    sleep 0.5
  done
  echo "$name not healthy after 120 s (log: $state/logs/$name.log)" >&2
  return 1
}

stop() {
  local name=$1 pid
  running "$name" || { rm -f "$state/pids/$name.pid"; return; }
  pid=$(cat "$state/pids/$name.pid")
  kill -TERM "$pid"
  # SIGTERM: the service finishes the batch in hand and commits; give it time before insisting.
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  rm -f "$state/pids/$name.pid"
  echo "stopped $name"
}

case "${1:-}" in
  start)
    start parse "$bin/newsflow-parse"
    start enrich "$bin/newsflow-enrich"
    start index "$bin/newsflow-index"
    start ingest "$bin/newsflow-ingest" --watch "$state/inbox"
    start api "$bin/newsflow-api"
    wait_healthy parse 8002 && wait_healthy enrich 8003 && wait_healthy index 8004 && wait_healthy ingest 8001 \
      && wait_healthy api 8005
    ;;
  stop) for s in api ingest parse enrich index; do stop "$s"; done ;;
  status) for s in ingest parse enrich index api; do running "$s" && echo "$s running" || echo "$s stopped"; done ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
