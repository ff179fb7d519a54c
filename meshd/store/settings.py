"""Replicated settings materialized from `setting` records; last writer wins (core/settings.py).

The `settings` table keeps, per (key, device), that device's latest write (by hybrid logical
clock). The value of a key is the write with the highest (hlc, device id) among devices that are
not forgotten; a null value means removed. Keeping one row per writer, not just the winner, makes
the answer independent of arrival order and lets a forgotten device's writes drop out.
"""

from __future__ import annotations

import sqlite3

import orjson

from meshd.core import hlc
from meshd.core.settings import BUDGET_PREFIX, PLAN_KEY, Setting, make, parse_body, to_body


def apply_setting(conn: sqlite3.Connection, origin: str, body: bytes) -> None:
    """Materialize one `setting` record (LogRuleError when the body is malformed)."""
    s = parse_body(body)
    conn.execute(
        "INSERT INTO settings(key, origin, hlc, value) VALUES(?,?,?,?)"
        " ON CONFLICT(key, origin) DO UPDATE SET hlc=excluded.hlc, value=excluded.value"
        " WHERE excluded.hlc >= settings.hlc",
        (s.key, origin, s.hlc, orjson.dumps(s.value).decode()),
    )


def current(conn: sqlite3.Connection, prefix: str | None = None) -> dict[str, tuple[object, int, str]]:
    """key -> (value, hlc, origin) of each key's winning write; removed keys are left out."""
    sql = "SELECT key, hlc, origin, value FROM settings WHERE origin NOT IN (SELECT device_id FROM forgotten)"
    args: tuple[object, ...] = ()
    if prefix is not None:
        sql += " AND substr(key, 1, ?) = ?"
        args = (len(prefix), prefix)
    best: dict[str, tuple[int, str, str]] = {}
    for key, h, origin, value in conn.execute(sql, args):
        cur = best.get(key)
        if cur is None or (h, origin) > cur[:2]:
            best[key] = (h, origin, value)
    out: dict[str, tuple[object, int, str]] = {}
    for key, (h, origin, value) in best.items():
        v = orjson.loads(value)
        if v is not None:
            out[key] = (v, h, origin)
    return out


def plan(conn: sqlite3.Connection) -> str | None:
    """The account's plan (pro, max5x, max20x, api), or None when never set."""
    v = current(conn, PLAN_KEY).get(PLAN_KEY)
    return None if v is None else str(v[0])


def budgets(conn: sqlite3.Connection) -> dict[str, float]:
    """project -> monthly budget in USD."""
    return {k[len(BUDGET_PREFIX):]: float(v[0]) for k, v in current(conn, BUDGET_PREFIX).items()}  # type: ignore[arg-type]


def last_hlc(conn: sqlite3.Connection) -> int:
    """The highest timestamp of any write this replica holds from a device that is not forgotten
    (0 when none): a forgotten device's clock, however far ahead, no longer drives ours."""
    row = conn.execute(
        "SELECT MAX(hlc) FROM settings WHERE origin NOT IN (SELECT device_id FROM forgotten)"
    ).fetchone()
    return int(row[0] or 0)


def put(replica, key: str, value: object, now_ms: int) -> Setting:  # type: ignore[no-untyped-def]
    """Write a setting (None removes it) as a record of this device's log; ValueError for a bad value.

    Call inside a write transaction: the stamp sorts after every write this replica has seen.
    """
    try:
        stamp = hlc.send(last_hlc(replica.conn), now_ms)
    except ValueError:
        raise ValueError("a device stamped a setting at the end of time; `meshctl forget` it first") from None
    s = make(key, value, stamp)
    replica.append_local("setting", [to_body(s)])
    return s
