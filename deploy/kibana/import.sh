#!/usr/bin/env bash
# One-shot job `kibana-setup` (docker-compose.yml): imports the data views, Lens visualizations, saved search
# and dashboard of /kibana/*.ndjson through the saved-objects API. Fixed ids + overwrite=true: a second run
# replaces, never duplicates. Exits 1 on any refusal; compose (restart: on-failure) runs it again.
set -uo pipefail
for file in /kibana/*.ndjson; do
  out=$(curl -fsS -u "elastic:$ELASTIC_PASSWORD" -X POST -H 'kbn-xsrf: newsflow' --form "file=@$file" \
    'http://kibana:5601/api/saved_objects/_import?overwrite=true') || exit 1
  echo "$file: $out"
  echo "$out" | grep -q '"success":true' || exit 1
done
