"""Streaming read of the winning usage rows, one per usage entry, for `meshctl export`.

`usage_entries` is the one place that reads the `usage` table for export; it yields rows from a
SQLite cursor (constant memory at any replica size) in time order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import NamedTuple

from meshd.store.usage import _COST, DAILY_WINNERS, WINNERS, RowFilter, _where

RULES = {"daily": DAILY_WINNERS, "exact": WINNERS}


class ExportRow(NamedTuple):
    ts: int  # epoch ms, UTC
    origin: str  # device id
    provider: str
    model: str
    project: str
    session: str
    input_tokens: int
    output_tokens: int
    cache_write_5m_tokens: int
    cache_write_1h_tokens: int
    cache_read_tokens: int
    reasoning_tokens: int
    cost: float


def usage_entries(conn: sqlite3.Connection, mode: str = "auto", flt: RowFilter = RowFilter(), *,
                  rule: str = "daily") -> Iterator[ExportRow]:
    """Winning usage entries matching `flt`, oldest first; `rule` picks daily's or the exact-key dedup."""
    conds, args = _where(flt)
    sql = (
        "SELECT ts, origin, provider, model, project, session, input, output, cw5, cw1, cr, reasoning,"
        f" {_COST[mode]} FROM usage WHERE {' AND '.join([RULES[rule], *conds])} ORDER BY ts, id"
    )
    for r in conn.execute(sql, args):
        yield ExportRow._make(r)
