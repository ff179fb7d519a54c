"""Replica reads for the live monitor: a few indexed queries over the rollup, cheap enough to repeat
every few seconds at any history size, plus the official readings and the plan setting."""

from __future__ import annotations

import sqlite3
from datetime import datetime, tzinfo

from meshd.core import live as L
from meshd.core.settings import PLANS
from meshd.store import limits, settings
from meshd.store.replica import BUCKET_MS
from meshd.store.usage import RowFilter, device_names, usage_rows

_COST = {"auto": "cost_auto", "calculate": "cost_calc", "display": "cost_display"}


def local_midnight_ms(now_ms: int, tz: tzinfo, *, month: bool = False) -> int:
    """Start of the local day (or month) containing `now_ms`, in epoch ms."""
    d = datetime.fromtimestamp(now_ms / 1000, tz)
    return int(datetime(d.year, d.month, 1 if month else d.day, tzinfo=tz).timestamp() * 1000)


def _totals_by_origin(conn: sqlite3.Connection, since_ms: int, mode: str) -> dict[str, L.Totals]:
    cost = _COST[mode]
    sql = (f"SELECT origin, SUM(input + output + cache_create + cache_read), SUM({cost}) FROM rollup"
           " WHERE bucket >= ? AND ts_min >= ? GROUP BY origin")
    return {o: L.Totals(int(t or 0), float(c or 0.0))
            for o, t, c in conn.execute(sql, ((since_ms // BUCKET_MS) * 2, since_ms))}


def data_version(conn: sqlite3.Connection) -> int:
    """Changes whenever another connection commits to the replica (SQLite's own counter)."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


def read_snapshot(conn: sqlite3.Connection, *, device_id: str, now_ms: int, tz: tzinfo, mode: str = "auto",
                  session_hours: float = 5.0) -> L.Snapshot:
    """Everything the replica knows for the live view (peers, feed and daemon are filled by the caller)."""
    names = device_names(conn)
    me = names.get(device_id, device_id[:8])
    rows = usage_rows(conn, mode, RowFilter(since_ms=now_ms - L.BLOCK_LOOKBACK_MS, provider="claude"),
                      merge_models=True)
    block, split = L.active_block(rows, me=me, now_ms=now_ms, session_hours=session_hours)
    midnight = local_midnight_ms(now_ms, tz)
    by_origin = _totals_by_origin(conn, midnight, mode)
    local, remote = L.today_split({names.get(o, o[:8]): t for o, t in by_origin.items()}, me)
    if device_id in by_origin:  # by id, so a remote device with our name never counts as local
        local = by_origin[device_id]
        remote = L.Totals()
        for o, t in by_origin.items():
            if o != device_id:
                remote = remote + t
    plan, plan_known = read_plan(conn)
    month_cost = None
    if plan is not None:
        month = _totals_by_origin(conn, local_midnight_ms(now_ms, tz, month=True), mode)
        month_cost = sum(t.cost for t in month.values())
    devices = conn.execute("SELECT COUNT(DISTINCT origin) FROM vector").fetchone()[0] or 1
    return L.Snapshot(
        taken_ms=now_ms, device_name=me, device_id=device_id, block=block, split=split,
        today=datetime.fromtimestamp(now_ms / 1000, tz).date().isoformat(), today_local=local, today_remote=remote,
        month_cost=month_cost, limits=read_limits(conn, now_ms, names), plan=plan, plan_known=plan_known,
        devices=int(devices), tz=tz,
    )


_WINDOW_LABELS = {"five_hour": "5h", "seven_day": "7d", "seven_day_opus": "7d opus", "seven_day_sonnet": "7d sonnet"}


def read_limits(conn: sqlite3.Connection, now_ms: int, names: dict[str, str]) -> tuple[L.LimitReading, ...]:
    """The freshest official reading per window from any device that is not forgotten (store/limits.py)."""
    return tuple(
        L.LimitReading(_WINDOW_LABELS.get(win, win), float(f.used_percentage), f.resets_at_ms, int(f.at_ms),
                       names.get(f.origin, f.origin[:8]))
        for win, f in limits.freshest(conn, now_ms).items()
    )


def read_plan(conn: sqlite3.Connection) -> tuple[L.Plan | None, bool]:
    """(the replicated plan setting or None when unset, True: this build has the setting)."""
    name = settings.plan(conn)
    if name is None:
        return None, True
    return L.Plan(name, PLANS.get(name)), True
