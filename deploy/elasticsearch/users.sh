#!/usr/bin/env bash
# One-shot job `es-users` (docker-compose.yml): Kibana's kibana_system password, a role and user that may
# write news-* for the services, a read-only one for newsflow-api. Idempotent: PUT and _password replace.
# Elasticsearch can refuse a first request right after turning healthy (its security index still being
# created): each request is retried until it is accepted, then the job exits 0; past the deadline it
# exits 1 and compose (restart: on-failure) runs it again. No `set -e`: a refused request is retried, not fatal.
set -uo pipefail
ca=/usr/share/elasticsearch/config/certs/ca/ca.crt
url=https://elasticsearch:9200
deadline=$((SECONDS + ${ES_USERS_DEADLINE_SECONDS:-300}))

es() { # METHOD PATH BODY
  until curl -fsS --cacert "$ca" -u "elastic:$ELASTIC_PASSWORD" -H 'Content-Type: application/json' \
    -X "$1" "$url$2" -d "$3"; do
    if ((SECONDS >= deadline)); then
      echo "es-users: $1 $2 still refused, giving up" >&2
      exit 1
    fi
    echo "es-users: $1 $2 refused, again in 5 s" >&2
    sleep 5
  done
  echo
}

es POST /_security/user/kibana_system/_password "{\"password\": \"$KIBANA_PASSWORD\"}"
es PUT /_security/role/newsflow_writer \
  '{"cluster": ["monitor", "manage_index_templates"], "indices": [{"names": ["news-*"], "privileges": ["all"]}]}'
es PUT /_security/user/newsflow "{\"password\": \"$ES_NEWSFLOW_PASSWORD\", \"roles\": [\"newsflow_writer\"]}"
es PUT /_security/role/newsflow_reader \
  '{"cluster": ["monitor"], "indices": [{"names": ["news-*"], "privileges": ["read", "view_index_metadata"]}]}'
es PUT /_security/user/newsflow_reader "{\"password\": \"$ES_READER_PASSWORD\", \"roles\": [\"newsflow_reader\"]}"
echo "es-users: done"
