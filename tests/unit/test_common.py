"""The common library: settings, Kafka connection and errors, retries, health over HTTP, JSON logs."""

from __future__ import annotations

import inspect
import json
import logging
import os
import ssl

import pytest
import structlog
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    IllegalArgumentError,
    KafkaConnectionError,
    KafkaTimeoutError,
    NotLeaderForPartitionError,
    RequestTimedOutError,
)
from prometheus_client import REGISTRY
from pydantic import SecretStr

from newsflow_common import kafka, retry
from newsflow_common.health import Health, make_app
from newsflow_common.logs import configure_logging, get_logger, trace
from newsflow_common.settings import Settings

# Settings


@pytest.fixture
def clean_env(monkeypatch):
    """No NEWSFLOW_* variable of the machine leaks into a test."""
    for name in list(os.environ):
        if name.startswith("NEWSFLOW_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_settings_defaults(clean_env):
    settings = Settings()
    assert settings.kafka_bootstrap_servers == "localhost:9092"
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert settings.elasticsearch_url == "http://localhost:9200"
    assert settings.kafka_sasl_password is None


def test_settings_read_newsflow_environment_variables(clean_env):
    clean_env.setenv("NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS", "k1:9093,k2:9093")
    clean_env.setenv("NEWSFLOW_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    clean_env.setenv("NEWSFLOW_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    clean_env.setenv("NEWSFLOW_KAFKA_SASL_USERNAME", "newsflow")
    clean_env.setenv("NEWSFLOW_KAFKA_SASL_PASSWORD", "kafka-s3cret")
    clean_env.setenv("NEWSFLOW_ELASTICSEARCH_URL", "https://es.internal:9200")
    clean_env.setenv("NEWSFLOW_ELASTICSEARCH_PASSWORD", "es-s3cret")
    clean_env.setenv("NEWSFLOW_ELASTICSEARCH_API_KEY", "api-s3cret")
    clean_env.setenv("NEWSFLOW_HTTP_PORT", "9100")
    clean_env.setenv("NEWSFLOW_REPLICA", "2")
    clean_env.setenv("KAFKA_BOOTSTRAP_SERVERS", "not-ours:1")  # no prefix: not read
    settings = Settings()
    assert settings.kafka_bootstrap_servers == "k1:9093,k2:9093"
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
    assert settings.kafka_sasl_username == "newsflow"
    assert settings.elasticsearch_url == "https://es.internal:9200"
    assert settings.http_port == 9100
    assert settings.instance_id("enrich") == "newsflow-enrich-2"
    for secret, value in [
        (settings.kafka_sasl_password, "kafka-s3cret"),
        (settings.elasticsearch_password, "es-s3cret"),
        (settings.elasticsearch_api_key, "api-s3cret"),
    ]:
        assert isinstance(secret, SecretStr)
        assert secret.get_secret_value() == value
    shown = repr(settings) + str(settings)
    for value in ("kafka-s3cret", "es-s3cret", "api-s3cret"):
        assert value not in shown


def test_settings_refuse_an_unknown_security_protocol(clean_env):
    clean_env.setenv("NEWSFLOW_KAFKA_SECURITY_PROTOCOL", "TLS")
    with pytest.raises(ValueError, match="kafka_security_protocol"):
        Settings()


# Kafka connection


def test_connection_kwargs_plaintext(clean_env):
    clean_env.setenv("NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    kwargs = kafka.connection_kwargs(Settings())
    assert kwargs == {"bootstrap_servers": ["k1:9092", "k2:9092"], "security_protocol": "PLAINTEXT"}


def test_connection_kwargs_sasl_ssl(clean_env):
    clean_env.setenv("NEWSFLOW_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    clean_env.setenv("NEWSFLOW_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    clean_env.setenv("NEWSFLOW_KAFKA_SASL_USERNAME", "newsflow")
    clean_env.setenv("NEWSFLOW_KAFKA_SASL_PASSWORD", "kafka-s3cret")
    kwargs = kafka.connection_kwargs(Settings())
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-256"
    assert kwargs["sasl_plain_username"] == "newsflow"
    assert kwargs["sasl_plain_password"] == "kafka-s3cret"  # the plain string aiokafka needs, not a SecretStr
    assert kwargs["bootstrap_servers"] == ["localhost:9092"]


def test_connection_kwargs_are_accepted_by_aiokafka(clean_env):
    """The keys are real AIOKafkaProducer/Consumer arguments (constructing starts no connection)."""
    clean_env.setenv("NEWSFLOW_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    clean_env.setenv("NEWSFLOW_KAFKA_SASL_MECHANISM", "PLAIN")
    clean_env.setenv("NEWSFLOW_KAFKA_SASL_USERNAME", "newsflow")
    clean_env.setenv("NEWSFLOW_KAFKA_SASL_PASSWORD", "kafka-s3cret")
    for cls in (AIOKafkaProducer, AIOKafkaConsumer):
        parameters = inspect.signature(cls.__init__).parameters
        assert set(kafka.connection_kwargs(Settings())) <= set(parameters), cls


@pytest.mark.parametrize(
    "error",
    [
        KafkaConnectionError("broker away"),
        KafkaTimeoutError(),
        NotLeaderForPartitionError(),
        RequestTimedOutError(),
        ConnectionRefusedError(),
        TimeoutError(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transient_kafka_errors(error):
    assert kafka.is_transient_kafka_error(error)


@pytest.mark.parametrize(
    "error", [IllegalArgumentError(), ValueError("bad value"), KeyError("x")], ids=lambda e: type(e).__name__
)
def test_non_transient_kafka_errors(error):
    assert not kafka.is_transient_kafka_error(error)


# retry


@pytest.fixture
def no_backoff(monkeypatch):
    monkeypatch.setattr(retry, "backoff_delay", lambda attempt, base=0.2, cap=30.0: 0)


def retries(name: str) -> float:
    return REGISTRY.get_sample_value("newsflow_retries_total", {"service": "test-common", "operation": name}) or 0


async def test_retry_forever_retries_transient_failures_until_success(no_backoff):
    calls = 0
    failures: list[BaseException] = []

    async def operation() -> str:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise KafkaConnectionError("broker away")
        return "acked"

    before = retries("produce")
    result = await retry.retry_forever(
        operation,
        transient=kafka.is_transient_kafka_error,
        service="test-common",
        name="produce",
        on_failure=failures.append,
    )
    assert result == "acked"
    assert calls == 3
    assert len(failures) == 2
    assert all(isinstance(f, KafkaConnectionError) for f in failures)
    assert retries("produce") == before + 2


async def test_retry_forever_reraises_a_non_transient_error_at_once(no_backoff):
    calls = 0

    async def operation() -> None:
        nonlocal calls
        calls += 1
        raise IllegalArgumentError("bad request")

    with pytest.raises(IllegalArgumentError):
        await retry.retry_forever(operation, transient=kafka.is_transient_kafka_error, service="test-common", name="x")
    assert calls == 1


async def test_retry_forever_returns_at_once_on_success():
    async def operation() -> int:
        return 7

    assert await retry.retry_forever(operation, transient=lambda e: True, service="test-common", name="ok") == 7


@pytest.mark.parametrize("attempt", [0, 1, 2, 5, 10, 50, 100])
def test_backoff_delay_stays_within_zero_and_cap(attempt):
    for _ in range(50):
        delay = retry.backoff_delay(attempt, base=0.2, cap=30.0)
        assert 0 <= delay <= 30.0
        assert delay <= 0.2 * 2**attempt


def test_backoff_delay_grows_then_caps():
    assert max(retry.backoff_delay(0) for _ in range(200)) <= 0.2
    assert max(retry.backoff_delay(20, cap=5.0) for _ in range(200)) <= 5.0
    assert max(retry.backoff_delay(20, cap=5.0) for _ in range(200)) > 1.0  # really reaches up to the cap


def test_backoff_delay_after_a_long_outage_stays_within_cap():
    assert 0 <= retry.backoff_delay(1100) <= 30.0


# health


def healthy_gauge(service: str) -> float | None:
    return REGISTRY.get_sample_value("newsflow_healthy", {"service": service})


def test_health_flips_between_healthy_and_degraded():
    health = Health("test-health")
    assert health.healthy
    health.ok("kafka")
    health.ok("elasticsearch")
    assert health.healthy
    assert healthy_gauge("test-health") == 1
    health.degraded("elasticsearch", "connection refused")
    assert not health.healthy
    assert health.checks == {"kafka": "ok", "elasticsearch": "connection refused"}
    assert healthy_gauge("test-health") == 0
    health.ok("elasticsearch")
    assert health.healthy
    assert healthy_gauge("test-health") == 1


async def test_healthz_returns_200_then_503():
    health = Health("test-http")
    health.ok("kafka")
    async with TestClient(TestServer(make_app(health))) as client:
        response = await client.get("/healthz")
        assert response.status == 200
        body = await response.json()
        assert body == {"service": "test-http", "status": "ok", "checks": {"kafka": "ok"}}

        health.degraded("kafka", "broker away")
        response = await client.get("/healthz")
        assert response.status == 503
        body = await response.json()
        assert body["status"] == "degraded"
        assert body["checks"] == {"kafka": "broker away"}

        health.ok("kafka")
        assert (await client.get("/healthz")).status == 200


async def test_metrics_returns_prometheus_text():
    health = Health("test-metrics")
    health.ok("kafka")
    async with TestClient(TestServer(make_app(health))) as client:
        response = await client.get("/metrics")
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    assert "# TYPE newsflow_healthy gauge" in text
    assert 'newsflow_healthy{service="test-metrics"} 1.0' in text


# logs


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_logs_are_json_lines_with_service_and_trace_id(capsys, restore_logging):
    configure_logging("test-logs", "INFO")
    log = get_logger("test.logs")
    with trace("trace-123", offset=7):
        log.info("processed", records=2)
    log.info("outside")
    lines = json_lines(capsys.readouterr().err)
    inside = next(line for line in lines if line["event"] == "processed")
    assert inside["service"] == "test-logs"
    assert inside["trace_id"] == "trace-123"
    assert inside["offset"] == 7
    assert inside["records"] == 2
    assert inside["level"] == "info"
    assert "timestamp" in inside
    outside = next(line for line in lines if line["event"] == "outside")
    assert outside["service"] == "test-logs"
    assert "trace_id" not in outside


def test_stdlib_loggers_go_through_the_same_json_renderer(capsys, restore_logging):
    configure_logging("test-logs", "INFO")
    with trace("trace-456"):
        logging.getLogger("aiokafka.test").warning("broker %s away", "k1")
    lines = json_lines(capsys.readouterr().err)
    line = next(line for line in lines if line["event"] == "broker k1 away")
    assert line["service"] == "test-logs"
    assert line["trace_id"] == "trace-456"
    assert line["level"] == "warning"


def test_log_level_filters(capsys, restore_logging):
    configure_logging("test-logs", "warning")
    log = get_logger("test.level")
    log.info("hidden")
    log.warning("shown")
    events = [line["event"] for line in json_lines(capsys.readouterr().err)]
    assert "shown" in events
    assert "hidden" not in events
