"""The integration stack: the noida-db stand-in on free ports, or real servers when configured.

Set KAFKA_BOOTSTRAP_SERVERS and ELASTICSEARCH_URL to run the same tests against real
Kafka and Elasticsearch; otherwise a stand-in is started for the session and stopped after.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from tests.integration.harness import ROOT, Kafka, Service, free_port

pytestmark = pytest.mark.integration


def _stack(command: str, data_dir: Path, kafka_port: int, es_port: int) -> None:
    argv = [sys.executable, str(ROOT / "deploy/local/stack.py"), command, "--data-dir", str(data_dir)]
    subprocess.run([*argv, "--kafka-port", str(kafka_port), "--es-port", str(es_port)], check=True)


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(Kafka bootstrap servers, Elasticsearch URL)."""
    bootstrap, url = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("ELASTICSEARCH_URL")
    if bootstrap and url:
        yield bootstrap, url
        return
    data_dir = tmp_path_factory.mktemp("stack")
    kafka_port, es_port = free_port(), free_port()
    _stack("up", data_dir, kafka_port, es_port)
    try:
        yield f"127.0.0.1:{kafka_port}", f"http://127.0.0.1:{es_port}"
    finally:
        _stack("down", data_dir, kafka_port, es_port)


@pytest.fixture(scope="session")
def service_env(servers: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment every service process gets, with the topics and index templates in place."""
    bootstrap, url = servers
    env = {
        "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "NEWSFLOW_ELASTICSEARCH_URL": url,
        "NEWSFLOW_STATE_DIR": str(tmp_path_factory.mktemp("state")),
        # A replica id per test session: a stale member of an earlier session cannot fence us.
        "NEWSFLOW_REPLICA": uuid.uuid4().hex[:8],
    }
    full_env = {**os.environ, **env}
    bin_dir = Path(sys.executable).parent
    for setup in ("newsflow-topics", "newsflow-es-setup"):
        subprocess.run([str(bin_dir / setup)], env=full_env, check=True, timeout=120)
    return env


@pytest.fixture(scope="session")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def pipeline(service_env: dict[str, str], logs: Path) -> Iterator[dict[str, Service]]:
    """parse, enrich and index running for the whole session (ingest runs per test)."""
    services = {name: Service(name, [f"newsflow-{name}"], service_env, logs) for name in ("parse", "enrich", "index")}
    for service in services.values():
        service.start()
    try:
        for service in services.values():
            service.wait_healthy()
        yield services
    finally:
        for service in services.values():
            service.stop()


@pytest.fixture(scope="session")
def kafka(servers: tuple[str, str]) -> Kafka:
    return Kafka(servers[0])


@pytest.fixture(scope="session")
def es(servers: tuple[str, str]) -> Iterator[Elasticsearch]:
    client = Elasticsearch(servers[1], request_timeout=30)
    yield client
    client.close()
