"""Every Kafka client newsflow makes reaches the cluster the same way: TLS and SASL settings included.

The faust path once built its SASL credentials with ``ssl_context=None``; now every client — producers,
group consumers, plain consumers, admin clients, in the services, the state store and the tools — is made
with :func:`newsflow_common.kafka.connection_kwargs`, which tests/unit/test_common.py checks for TLS and SASL.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from newsflow_common import kafka
from newsflow_common.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient"}


def client_calls() -> list[tuple[str, ast.Call]]:
    found = []
    files = sorted(file for folder in ("libs", "services", "apps") for file in (ROOT / folder).rglob("*.py"))
    for file in files:
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in CLIENTS:
                found.append((f"{file.relative_to(ROOT)}:{node.lineno}", node))
    return found


def takes_connection_kwargs(call: ast.Call) -> bool:
    for keyword in call.keywords:
        value = keyword.value
        if keyword.arg is None and isinstance(value, ast.Call):
            name = getattr(value.func, "id", getattr(value.func, "attr", ""))
            if name == "connection_kwargs":
                return True
    return False


def test_every_client_kind_is_made_somewhere() -> None:
    kinds = {getattr(call.func, "id", getattr(call.func, "attr", "")) for _, call in client_calls()}
    assert kinds == CLIENTS


@pytest.mark.parametrize(("where", "call"), client_calls(), ids=[where for where, _ in client_calls()])
def test_every_kafka_client_gets_the_connection_settings(where: str, call: ast.Call) -> None:
    assert takes_connection_kwargs(call), f"{where} makes a Kafka client without connection_kwargs(settings)"


def test_the_factories_pass_tls_and_sasl_to_the_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[dict[str, object]] = []
    monkeypatch.setattr(kafka, "AIOKafkaProducer", lambda **kwargs: made.append(kwargs))
    monkeypatch.setattr(kafka, "AIOKafkaConsumer", lambda *topics, **kwargs: made.append(kwargs))
    monkeypatch.setenv("NEWSFLOW_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("NEWSFLOW_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("NEWSFLOW_KAFKA_SASL_USERNAME", "newsflow")
    monkeypatch.setenv("NEWSFLOW_KAFKA_SASL_PASSWORD", "s3cret")
    settings = Settings()
    kafka.producer(settings, "parse")
    kafka.consumer(settings, "parse", "news.raw.v1")
    for kwargs in made:
        assert kwargs["security_protocol"] == "SASL_SSL"
        assert kwargs["ssl_context"] is not None
        assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
