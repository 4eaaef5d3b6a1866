"""What every command-line tool shares: a parser that answers --help and --version from the settings model, tables.

``--help`` lists the environment variables a command reads, with their defaults and descriptions, generated
from its pydantic settings model (the attribute docstrings), so the help cannot drift from the code. Neither
flag touches the network: both exit before any settings are read or any client is made.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from importlib.metadata import version
from typing import Any, TypeVar

from pydantic import SecretStr
from pydantic_settings import BaseSettings

S = TypeVar("S", bound=BaseSettings)
_LITERAL = re.compile(r"``([^`]*)``")
SETTING_COLUMN = 48


def plain(text: str) -> str:
    """Docstring markup (````name````) as a terminal shows it: the name alone."""
    return _LITERAL.sub(r"\1", text)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions keep their layout; an option's default is shown when it has one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if action.option_strings and default not in (None, False, argparse.SUPPRESS) and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


def settings_help(model: type[BaseSettings]) -> str:
    """Every setting of ``model``: environment name, default and description (never a current value)."""
    prefix = str(model.model_config.get("env_prefix", ""))
    rows = []
    for name, field in model.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = "(unset)" if default is None else "***" if isinstance(default, SecretStr) else str(default)
        rows.append((f"{prefix}{name}".upper(), shown, plain(field.description or "")))
    lines = []
    for env, shown, text in rows:
        setting = f"{env}={shown}"
        if len(setting) < SETTING_COLUMN:
            lines.append(f"  {setting.ljust(SETTING_COLUMN)}{text}".rstrip())
        else:  # a long default (a user agent, a URL): its description on the next line
            lines += [f"  {setting}", *([f"  {'':{SETTING_COLUMN}}{text}"] if text else [])]
    return "settings (environment variables, with their defaults):\n" + "\n".join(lines)


def command_parser(
    prog: str, description: str, settings_model: type[BaseSettings] | None, distribution: str
) -> argparse.ArgumentParser:
    """A parser with --help (listing ``settings_model``'s environment) and --version (``distribution``'s)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=plain(description),
        epilog=settings_help(settings_model) if settings_model else None,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{prog} {version(distribution)}")
    return parser


def add_commands(parser: argparse.ArgumentParser, commands: dict[str, str]) -> dict[str, argparse.ArgumentParser]:
    """Subcommands, each listed in the parent's help with its one-line description."""
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    return {
        name: subparsers.add_parser(name, help=text, description=text, formatter_class=HelpFormatter)
        for name, text in commands.items()
    }


def parse_command_line(
    prog: str, description: str, settings_model: type[S], distribution: str, argv: Sequence[str] | None = None
) -> S:
    """For a daemon configured by its environment alone: answer --help/--version, refuse anything else, read it."""
    command_parser(prog, description, settings_model, distribution).parse_args(argv)
    return settings_model()


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Aligned columns, cells cut at 80 characters."""

    def cell(row: dict[str, Any], column: str) -> str:
        value = row.get(column)
        text = "" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)
        return text[:80]

    widths = {c: max([len(c)] + [len(cell(r, c)) for r in rows]) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip()]
    lines += ["  ".join(cell(r, c).ljust(widths[c]) for c in columns).rstrip() for r in rows]
    return "\n".join(lines)
