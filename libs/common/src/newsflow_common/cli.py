"""What every command-line tool shares: tables for people."""

from __future__ import annotations

from typing import Any


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
