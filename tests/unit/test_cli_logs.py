"""Log lines as their reader needs them: readable on a terminal, JSON with structured tracebacks elsewhere."""

from __future__ import annotations

import io
import json
import logging

import pytest

from newsflow_common.logs import configure_logging, get_logger
from tests.unit.test_common import restore_logging  # noqa: F401  (the fixture: the root handlers put back)

pytestmark = pytest.mark.usefixtures("restore_logging")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def logged(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line.strip()]


def test_a_terminal_gets_readable_lines_not_json(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    configure_logging("test-logs", "INFO")
    get_logger("test.console").info("ready", port=8000)
    (line,) = logged(terminal)
    assert not line.startswith("{")
    assert "ready" in line
    assert "port" in line
    assert "8000" in line


def test_a_pipe_gets_json_with_the_logger_name_of_library_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pipe = io.StringIO()
    monkeypatch.setattr("sys.stderr", pipe)
    configure_logging("test-logs", "INFO")
    logging.getLogger("aiokafka.conn").warning("connection to %s lost", "k1:9092")
    get_logger("newsflow_test.own").info("own line")
    lines = [json.loads(line) for line in logged(pipe)]
    by_event = {line["event"]: line for line in lines}
    assert by_event["connection to k1:9092 lost"]["logger"] == "aiokafka.conn"
    assert by_event["own line"]["logger"] == "newsflow_test.own"


def test_a_traceback_in_json_is_structured(monkeypatch: pytest.MonkeyPatch) -> None:
    pipe = io.StringIO()
    monkeypatch.setattr("sys.stderr", pipe)
    configure_logging("test-logs", "INFO")
    try:
        raise KeyError("article_id")
    except KeyError:
        get_logger("test.tb").exception("transform failed")
    (line,) = [json.loads(text) for text in logged(pipe)]
    (raised,) = line["exception"]
    assert raised["exc_type"] == "KeyError"
    assert raised["frames"][-1]["name"] == "test_a_traceback_in_json_is_structured"


def test_a_traceback_carries_no_local_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    pipe = io.StringIO()
    monkeypatch.setattr("sys.stderr", pipe)
    configure_logging("test-logs", "INFO")
    body = "the whole article body " * 10
    try:
        raise ValueError(len(body))
    except ValueError:
        get_logger("test.tb").exception("transform failed")
    assert "the whole article body" not in pipe.getvalue()
