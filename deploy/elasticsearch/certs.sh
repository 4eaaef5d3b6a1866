#!/usr/bin/env bash
# One-shot job `certs` (docker-compose.yml), Elastic's own pattern for TLS in compose: elasticsearch-certutil
# makes a CA and Elasticsearch's certificate into the es-certs volume, once; a later run keeps what exists.
# Runs as root in the Elasticsearch image, from /usr/share/elasticsearch.
set -euo pipefail
cd /usr/share/elasticsearch
certs=config/certs

if [[ ! -f $certs/ca/ca.crt ]]; then
  elasticsearch-certutil ca --silent --pem --out $certs/ca.zip
  unzip -oq $certs/ca.zip -d $certs && rm $certs/ca.zip
fi

if [[ ! -f $certs/elasticsearch/elasticsearch.crt ]]; then
  # The names clients use: the compose service name inside the network, localhost for `make up PUBLISH=1`.
  cat > $certs/instances.yml <<'YAML'
instances:
  - name: elasticsearch
    dns: [elasticsearch, localhost]
    ip: [127.0.0.1]
YAML
  elasticsearch-certutil cert --silent --pem --in $certs/instances.yml --out $certs/certs.zip \
    --ca-cert $certs/ca/ca.crt --ca-key $certs/ca/ca.key
  unzip -oq $certs/certs.zip -d $certs && rm $certs/certs.zip
fi

# Elasticsearch (uid 1000, group 0) reads its key through the group; every client (Kibana, the newsflow
# services as uid 10001) reads the CA certificate; the CA key stays root's.
chown -R root:root $certs
chmod 755 $certs $certs/ca $certs/elasticsearch
chmod 644 $certs/ca/ca.crt $certs/elasticsearch/elasticsearch.crt
chmod 640 $certs/elasticsearch/elasticsearch.key
chmod 600 $certs/ca/ca.key
echo "certificates ready in $certs"
