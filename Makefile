# newsflow — the two commands a new user needs: `make run` and `make test`.
SHELL := /bin/bash
UV_VERSION := 0.13.8
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
KAFKA_PORT ?= 9092
ES_PORT ?= 9200
STACK := $(UV) run --frozen python deploy/local/stack.py --kafka-port $(KAFKA_PORT) --es-port $(ES_PORT)
LOCAL_ENV := NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$(KAFKA_PORT) NEWSFLOW_ELASTICSEARCH_URL=http://127.0.0.1:$(ES_PORT)

.PHONY: install run stop stack-up stack-down stack-reset test lint typecheck unit integration schemas asyncapi up down clean \
	bench-ingest bench-feeds bench-extract bench-parse bench-enrich bench-trends bench-index bench chaos env

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

install: $(UV)  ## install uv (from PyPI, when missing) and every locked package
	$(UV) sync --frozen

stack-up: install  ## start the local Kafka + Elasticsearch stand-in (noida-db)
	$(STACK) up

stack-down:
	$(STACK) down

stack-reset:  ## stop the stand-in and delete its data
	$(STACK) reset

run: stack-up  ## everything on this machine: stack, topics, index setup, four services, the sample
	$(LOCAL_ENV) $(UV) run --frozen newsflow-topics
	$(LOCAL_ENV) $(UV) run --frozen newsflow-es-setup
	$(LOCAL_ENV) deploy/local/services.sh start
	$(LOCAL_ENV) $(UV) run --frozen newsflow-ingest --source sample samples/listing-page-asia.txt
	$(LOCAL_ENV) $(UV) run --frozen newsflow-query wait --source sample --count 4 --timeout 180
	@echo; echo '== search "Taliban"'; $(LOCAL_ENV) $(UV) run --frozen newsflow-query search Taliban
	@echo; echo '== search "Kazakhstan"'; $(LOCAL_ENV) $(UV) run --frozen newsflow-query search Kazakhstan
	@for t in PERSON ORG LOC; do echo; echo "== top $$t"; $(LOCAL_ENV) $(UV) run --frozen newsflow-query top --type $$t --size 8; done
	@echo
	@echo "newsflow is running: Kafka 127.0.0.1:$(KAFKA_PORT), Elasticsearch http://127.0.0.1:$(ES_PORT)"
	@echo "  page:   http://127.0.0.1:8005/  (search, trending, timelines, stories)"
	@echo "  query:  $(LOCAL_ENV) .venv/bin/newsflow-query search 'your words'"
	@echo "  ingest: drop .txt/.html files into .newsflow/inbox/ (logs in .newsflow/logs/)"
	@echo "  stop:   make stop"

stop:  ## stop the four services and the stand-in (data is kept; make stack-reset deletes it)
	-deploy/local/services.sh stop
	-$(STACK) down

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

typecheck: install
	$(UV) run --frozen mypy --strict -p newsflow_schemas -p newsflow_common
	$(UV) run --frozen mypy -p newsflow_ingest -p newsflow_parse -p newsflow_enrich -p newsflow_index -p newsflow_ops -p newsflow_analyst

unit: install
	$(UV) run --frozen pytest tests/unit

integration: install  ## against a stand-in on free ports, or KAFKA_BOOTSTRAP_SERVERS / ELASTICSEARCH_URL
	$(UV) run --frozen pytest tests/integration

test: lint typecheck  ## the whole suite: lint, types, unit and integration tests
	$(UV) run --frozen pytest tests

schemas: install asyncapi  ## regenerate the checked-in JSON Schemas (and the AsyncAPI document) after changing a model
	$(UV) run --frozen python -m newsflow_schemas.jsonschema

asyncapi: install  ## regenerate libs/schemas/asyncapi.yaml from topics.yaml and the models
	$(UV) run --frozen python -m newsflow_schemas.asyncapi

# Benchmarks print their figures with a baseline measured in the same run (ratios are stable; times are not).
# They read ../shared/datasets when present and say so when it is absent.
bench-ingest: install  ## files into Kafka (docs/s) and the push API under load (req/s, p95)
	$(UV) run --frozen python bench/ingest.py

bench-feeds: install  ## one site in RSS, Atom and two sitemaps: page downloads and first-poll time vs no shared page state
	$(UV) run --frozen python bench/feeds.py

bench-extract: install  ## extraction quality on the 88 dev pages: F1, precision, recall vs trafilatura alone
	$(UV) run --frozen python bench/extract.py

bench-parse: install  ## parse speed, pages/s per core on 11 KB and 130 KB pages vs trafilatura alone
	$(UV) run --frozen python bench/parse.py

bench-enrich: install  ## articles/s, ms per step, entity recall vs spaCy on the full text
	$(UV) run --frozen python bench/enrich.py

bench-trends: install  ## trend counts on a stream with reprints, late, future-dated and backfilled articles vs the truth
	$(UV) run --frozen python bench/trends.py

bench-index: install  ## docs/s into Elasticsearch with our batches vs one document at a time
	$(UV) run --frozen python bench/index.py

bench: install  ## end to end: generated pages through the four services; figures as JSON in .newsflow/bench/
	$(UV) run --frozen python bench/e2e.py

chaos: install  ## faults during a 2,000-article run: kills, an ES outage, poison, a replay; fails on any loss
	$(UV) run --frozen python bench/chaos.py

COMPOSE := docker compose -f docker-compose.yml $(if $(PUBLISH),-f deploy/compose.publish.yml)

env:  ## generate .env with random secrets for compose (existing ones are kept, missing ones added)
	python3 deploy/make_env.py .env

up: env  ## production: docker compose (needs a Docker engine); PUBLISH=1 also publishes Kafka and ES on 127.0.0.1
	mkdir -p inbox  # yours, not root's: compose refuses to create it (create_host_path: false)
	$(COMPOSE) up -d --build

down:
	$(COMPOSE) down

clean: stop
	rm -rf .newsflow .tools .venv
