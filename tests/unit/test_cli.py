"""The shared command-line helper: --help and --version from the settings model, without touching anything."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from newsflow_common.cli import command_parser, parse_command_line, settings_help
from newsflow_common.settings import Settings


class ToolSettings(Settings):
    batch_seconds: float = 1.5
    """How long to wait for a batch to fill."""
    token: SecretStr | None = None


def test_help_lists_every_setting_with_its_environment_name_default_and_description(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = command_parser("newsflow-tool", "Does ``one`` thing.", ToolSettings, "newsflow-common")
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "NEWSFLOW_BATCH_SECONDS" in out
    assert "1.5" in out
    assert "How long to wait for a batch to fill." in out
    assert "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS" in out
    assert "localhost:9092" in out
    assert "``" not in out  # reStructuredText markup from docstrings does not reach a terminal
    assert "Does one thing." in out


def test_help_shows_no_secret_even_when_one_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_TOKEN", "s3cret-value")
    assert "s3cret-value" not in settings_help(ToolSettings)
    assert "NEWSFLOW_TOKEN" in settings_help(ToolSettings)


def test_version_comes_from_the_package_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    parser = command_parser("newsflow-tool", "x", ToolSettings, "newsflow-common")
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == "newsflow-tool 0.1.0"


def test_options_show_their_defaults_and_none_is_not_a_default(capsys: pytest.CaptureFixture[str]) -> None:
    parser = command_parser("newsflow-tool", "x", None, "newsflow-common")
    parser.add_argument("--interval", type=float, default=1.0, metavar="SECONDS", help="between two scrapes")
    parser.add_argument("--source", metavar="NAME", help="only this source")
    parser.add_argument("--json", action="store_true", help="JSON for programs")
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    out = capsys.readouterr().out
    assert "between two scrapes (default: 1.0)" in out
    assert "default: None" not in out
    assert "default: False" not in out


def test_a_daemon_gets_its_settings_and_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_BATCH_SECONDS", "3")
    settings = parse_command_line("newsflow-tool", "x", ToolSettings, "newsflow-common", argv=[])
    assert settings.batch_seconds == 3.0
    with pytest.raises(SystemExit) as exited:
        parse_command_line("newsflow-tool", "x", ToolSettings, "newsflow-common", argv=["--bogus"])
    assert exited.value.code == 2
