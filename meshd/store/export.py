"""Streaming read of the winning usage rows, one per usage entry, for `meshctl export`.

`usage_entries` is the one place that reads the `usage` table for export; it yields rows from a
SQLite cursor (constant memory at any replica size) in time order.
"""

from __future__ import annotations

import heapq
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
    """Winning usage entries matching `flt`, oldest first; `rule` picks daily's or the exact-key dedup.

    Each query walks a partial index on `ts` in order, so nothing is sorted in memory: the exact
    rule's winners come from `usage_ts`; daily's are those winners that daily also keeps, merged
    with the few rows only daily keeps (`usage_daily_diff`).
    """
    conds, args = _where(flt)
    cols = "id, ts, origin, provider, model, project, session, input, output, cw5, cw1, cr, reasoning"
    parts = [WINNERS] if rule == "exact" else [f"{WINNERS} AND {DAILY_WINNERS}", f"winner != dwinner AND {DAILY_WINNERS}"]
    if rule not in RULES:
        raise ValueError(f"unknown dedup rule {rule!r}")
    cursors = [
        conn.execute(f"SELECT {cols}, {_COST[mode]} FROM usage WHERE {' AND '.join([w, *conds])} ORDER BY ts, id", args)
        for w in parts
    ]
    rows = cursors[0] if len(cursors) == 1 else heapq.merge(*cursors, key=lambda r: (r[1], r[0]))
    make = ExportRow._make
    for r in rows:
        yield make(r[1:])
