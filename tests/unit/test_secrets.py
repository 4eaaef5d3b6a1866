"""No secret appears in logs: passwords and keys from settings, and passwords inside URLs, are redacted."""

from __future__ import annotations

import logging

import pytest

from newsflow_common.logs import configure_logging, get_logger, redact
from newsflow_common.settings import Settings


@pytest.fixture
def secret_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("NEWSFLOW_KAFKA_SASL_PASSWORD", "kafka-pass-5d1e")
    monkeypatch.setenv("NEWSFLOW_ELASTICSEARCH_PASSWORD", "es-pass-77ab")
    monkeypatch.setenv("NEWSFLOW_ELASTICSEARCH_API_KEY", "api-key-c0ffee")
    return Settings()


def test_settings_secrets_never_reach_a_log_line(secret_settings: Settings, capsys: pytest.CaptureFixture[str]):
    configure_logging("test", "INFO")
    log = get_logger("test")
    log.warning("connecting", password="kafka-pass-5d1e", detail="auth with es-pass-77ab failed")
    logging.getLogger("aiokafka").error("SASL handshake failed for api-key-c0ffee")
    try:
        raise ConnectionError("refused: Authorization: ApiKey api-key-c0ffee")
    except ConnectionError:
        log.exception("request failed")
    logged = capsys.readouterr().err
    assert logged.count("\n") >= 3, logged
    for secret in ("kafka-pass-5d1e", "es-pass-77ab", "api-key-c0ffee"):
        assert secret not in logged
    assert "***" in logged


def test_settings_repr_hides_secrets(secret_settings: Settings):
    assert "es-pass-77ab" not in repr(secret_settings)
    assert "kafka-pass-5d1e" not in str(secret_settings)


def test_passwords_inside_urls_are_redacted():
    line = '{"event": "GET https://elastic:s3cr3t-pw@es.example:9200/_bulk failed"}'
    assert redact(line) == '{"event": "GET https://elastic:***@es.example:9200/_bulk failed"}'
    assert redact("no credentials at http://es.example:9200/") == "no credentials at http://es.example:9200/"


def test_a_service_settings_secret_is_redacted_too(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    from newsflow_ingest.settings import IngestSettings

    monkeypatch.setenv("NEWSFLOW_API_TOKEN", "push-token-9f8e7d")
    IngestSettings()
    configure_logging("test", "INFO")
    get_logger("test").warning("401 for Bearer push-token-9f8e7d")
    assert "push-token-9f8e7d" not in capsys.readouterr().err
