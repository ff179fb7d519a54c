"""Codex CLI ingest: the tailer's cursors plus each file's parse state (core/codex_log.py).

Codex logs running totals, so a line's usage depends on the lines before it. The state those
lines leave behind is kept per file in `codex_state`, written in the same transaction as the
file's cursor: a crash between chunks resumes with the state that matches the cursor.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from meshd.core import codex_log
from meshd.core.codex_log import CodexState
from meshd.core.entry import UsageEntry
from meshd.ingest.sources import LogFile

# Local only (never replicated), like `files`; created on first use so older replicas get it too.
DDL = "CREATE TABLE IF NOT EXISTS codex_state(path TEXT PRIMARY KEY, state BLOB NOT NULL) WITHOUT ROWID"
_HEAD_LIMIT = 64 << 20  # bytes read at most to find a subagent file's replayed prefix


def ensure_table(conn: sqlite3.Connection) -> None:
    conn.execute(DDL)


def _file_start(path: str) -> bytes:
    """The beginning of a file, enough to find a subagent's replayed prefix (pure check after)."""
    try:
        with open(path, "rb") as f:
            head = f.read(codex_log.SUBAGENT_HEAD)
            if codex_log.SUBAGENT_MARKER not in head:
                return head
            return head + f.read(_HEAD_LIMIT)
    except OSError:
        return b""


def fast_tier(roots: list[Path]) -> bool:
    """Whether any Codex root's `config.toml` selects the fast service tier (ccusage `--speed auto`)."""
    for root in roots:
        try:
            text = (root / "config.toml").read_bytes()[: 1 << 20].decode("utf-8", "replace")
        except OSError:
            continue
        if codex_log.fast_service_tier(text):
            return True
    return False


class CodexChunks:
    """The tailer's ChunkParser for Codex session files.

    `fast`: entries are priced at the fast service tier (the Codex config in force when they are
    read; ccusage applies the current config to all history instead).
    """

    def __init__(self, fast: bool = False) -> None:
        self.state = CodexState()
        self.fast = fast

    def begin(self, conn: sqlite3.Connection, lf: LogFile, fresh: bool) -> None:
        if fresh:
            self.state = codex_log.start_state(_file_start(lf.path))
            self.commit(conn, lf)
            return
        row = conn.execute("SELECT state FROM codex_state WHERE path=?", (lf.path,)).fetchone()
        self.state = CodexState.from_json(row[0] if row else None)

    def parse(self, body: bytes, lineno: int, lf: LogFile, device_id: str
              ) -> tuple[list[UsageEntry], int, str | None, int]:
        del device_id  # Codex entries carry their own dedup id (core/codex_log.entry_id)
        res, lineno = codex_log.parse_chunk(body, lineno, self.state, lf.session_id)
        entries = [replace(e, speed="fast") for e in res.entries] if self.fast else res.entries
        return entries, res.skipped, res.last_skip, lineno

    def commit(self, conn: sqlite3.Connection, lf: LogFile) -> None:
        conn.execute(
            "INSERT INTO codex_state(path, state) VALUES(?, ?) ON CONFLICT(path) DO UPDATE SET state=excluded.state",
            (lf.path, self.state.to_json()),
        )
