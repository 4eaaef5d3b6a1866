"""The state store's tables and their changelog records, without a broker."""

from __future__ import annotations

from newsflow_common.settings import Settings
from newsflow_common.state import StateStore


def store() -> StateStore:
    return StateStore(Settings(), "newsflow-test-changelog", ("marks", "panes"))


def test_changes_read_back_rebuild_the_tables_and_a_tombstone_deletes() -> None:
    state = store()
    state._apply(b"marks|watermark", b"1700000000.5")
    state._apply(b"panes|p1", b'["c1", "c2"]')
    state._apply(b"panes|p1", None)
    state._apply(b"unknown|x", b"1")  # a table this stage no longer has
    assert dict(state.tables["marks"]) == {"watermark": 1700000000.5}
    assert dict(state.tables["panes"]) == {}


def test_a_changelog_record_newsflow_did_not_write_is_skipped_not_fatal() -> None:
    state = store()
    state._apply(b"marks|a", b"{not json")
    state._apply(b"\xff\xfe|b", b"1")
    state._apply(b"marks|c", b"2")
    assert dict(state.tables["marks"]) == {"c": 2}


def test_a_table_remembers_what_changed_until_the_flush() -> None:
    table = store().tables["panes"]
    table["p1"] = ["c1"]
    del table["p1"]
    table["p2"] = ["c2"]
    assert set(table.changes) == {"p1", "p2"}
    assert dict(table) == {"p2": ["c2"]}
