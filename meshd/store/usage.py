"""Read-only queries over the merged usage view (winning copies only).

Every report reads through here, so the module stays light: no dataclasses, no writer code
(`BUCKET_MS` is store/replica.py's rollup bucket, which a test keeps equal)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, tzinfo
from operator import itemgetter
from typing import NamedTuple

from meshd.core.row import UsageRow

BUCKET_MS = 900_000  # the rollup's bucket (store/replica.py)

_COST = {
    "auto": "COALESCE(cost_logged, cost_calc)",
    "calculate": "cost_calc",
    "display": "COALESCE(cost_logged, 0)",
}


class RowFilter(NamedTuple):
    """Which winning usage rows a report reads (`flt._replace(...)` for a variant)."""

    since_ms: int | None = None
    until_ms: int | None = None
    provider: str | None = None
    origins: tuple[str, ...] | None = None
    project: str | None = None
    session: str | None = None


def _where(flt: RowFilter, *, ts: str = "ts", prefix: str = "", detail: bool = True) -> tuple[list[str], list[object]]:
    """SQL conditions and arguments for a filter; `detail` adds project and session."""
    where: list[str] = []
    args: list[object] = []
    if flt.since_ms is not None:
        where.append(f"{prefix}{ts} >= ?")
        args.append(flt.since_ms)
    if flt.until_ms is not None:
        where.append(f"{prefix}{ts} < ?")
        args.append(flt.until_ms)
    if flt.provider is not None:
        where.append(f"{prefix}provider = ?")
        args.append(flt.provider)
    if flt.origins is not None:
        where.append(f"{prefix}origin IN ({','.join('?' * len(flt.origins))})")
        args.extend(flt.origins)
    if detail and flt.project is not None:
        where.append(f"{prefix}project = ?")
        args.append(flt.project)
    if detail and flt.session is not None:
        where.append(f"{prefix}session = ?")
        args.append(flt.session)
    return where, args


def device_names(conn: sqlite3.Connection) -> dict[str, str]:
    """device id -> display name, for every device we know of; clashing names get an id suffix."""
    rows = conn.execute("SELECT device_id, name FROM devices").fetchall()
    count: dict[str, int] = {}
    for _d, n in rows:
        count[n] = count.get(n, 0) + 1
    return {d: (n if count[n] == 1 else f"{n}-{d[:6]}") for d, n in rows}


WINNERS = "winner = 1"  # copies that count under the exact-key rule (monthly, weekly, session, blocks)
DAILY_WINNERS = "dwinner = 1"  # copies that count under ccusage daily's rule (core/dedup.py)


def usage_rows(
    conn: sqlite3.Connection,
    mode: str = "auto",
    flt: RowFilter = RowFilter(),
    *,
    grain: str = "minute",
    by_session: bool = False,
    which: str = "winner = 1",
    merge_models: bool = False,
) -> list[UsageRow]:
    """Winning usage rows sorted by time, pre-summed per minute unless grain == "entry".

    Rollup buckets (15 minutes) keep blocks exact: entries at a slot's first millisecond get a
    bucket of their own, so a bucket is entirely before or after any boundary on a 15-minute
    multiple, and the gap between buckets is the gap between their entries.
    """
    if grain == "minute" and not by_session and flt.project is None and flt.session is None and which == WINNERS:
        return _rollup_rows(conn, mode, flt, merge_models=merge_models)
    cost = _COST[mode]
    conds, args = _where(flt)
    where = [which, *conds]
    cond = " AND ".join(where)
    names = device_names(conn)
    if grain == "entry":
        sql = (
            f"SELECT ts, origin, provider, model, project, session, input, output, cw5 + cw1, cr,"
            f" {cost}, reasoning, 1, ts, limit_reset FROM usage WHERE {cond} ORDER BY ts, id"
        )
    else:
        extra = ", project, session" if by_session else ""
        sel = "project, session" if by_session else "'', ''"
        sql = (
            f"SELECT MIN(ts), origin, provider, model, {sel}, SUM(input), SUM(output), SUM(cw5 + cw1),"
            f" SUM(cr), SUM({cost}), SUM(reasoning), COUNT(*), MAX(ts), MIN(limit_reset) FROM usage"
            f" WHERE {cond} GROUP BY ts / 60000, ts % 60000 = 0, origin, provider, model{extra}"
            f" ORDER BY 1"
        )
    out: list[UsageRow] = []
    append = out.append
    for r in conn.execute(sql, args):
        append(
            UsageRow(
                r[0], names.get(r[1], r[1][:8]), r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
                r[10], r[11], r[12], r[13], r[14],
            )
        )
    return out


_BUCKET_ORIGIN_PROVIDER = itemgetter(13, 1, 2)  # a merged rollup row's (bucket, origin, provider)


def _rollup_rows(conn: sqlite3.Connection, mode: str, flt: RowFilter, *, merge_models: bool = False
                 ) -> list[UsageRow]:
    cost = {"auto": "cost_auto", "calculate": "cost_calc", "display": "cost_display"}[mode]
    conds, args = _where(flt, ts="ts_min", detail=False)
    if flt.since_ms is not None:  # the bucket bound lets SQLite seek on the primary key
        conds.append("bucket >= ?")
        args.append((flt.since_ms // BUCKET_MS) * 2)
    where = ["1", *conds]
    names = device_names(conn)
    if merge_models:  # one row per bucket and device, its models joined by MODEL_SEP
        sql = (
            "SELECT MIN(ts_min), origin, provider, group_concat(model, char(31)), SUM(input), SUM(output),"
            f" SUM(cache_create), SUM(cache_read), SUM({cost}), SUM(reasoning), SUM(n), MAX(ts_max),"
            f" MIN(limit_reset), bucket FROM rollup WHERE {' AND '.join(where)} GROUP BY bucket, origin, provider"
        )
        # Sorted here, not by ORDER BY: SQLite would sort the grouped rows in a temporary b-tree (about
        # half the query) although grouping along the primary key emits them in this order already.
        # (bucket, origin, provider) is the order `ORDER BY bucket` gave (its sort is stable).
        found = conn.execute(sql, args).fetchall()
        found.sort(key=_BUCKET_ORIGIN_PROVIDER)
    else:
        sql = (
            f"SELECT ts_min, origin, provider, model, input, output, cache_create, cache_read, {cost},"
            f" reasoning, n, ts_max, limit_reset FROM rollup WHERE {' AND '.join(where)} ORDER BY bucket"
        )
        found = conn.execute(sql, args)
    out: list[UsageRow] = []
    append = out.append
    for r in found:
        if flt.since_ms is not None and r[0] < flt.since_ms:
            continue
        append(UsageRow(r[0], names.get(r[1], r[1][:8]), r[2], r[3], "", "", r[4], r[5], r[6], r[7], r[8],
                        r[9], r[10], r[11], r[12]))
    return out


def day_rows(conn: sqlite3.Connection, mode: str, flt: RowFilter, tz: tzinfo, *, daily_rule: bool = False
             ) -> list[UsageRow]:
    """Winning usage pre-summed per local day (in `tz`), device, provider and model.

    Local midnights fall on 15-minute boundaries in every zone, so each day is a contiguous range of rollup
    buckets; SQLite sums them in one pass. Rows carry their first entry's time as `ts`.
    """
    lo_hi = conn.execute("SELECT MIN(bucket), MAX(bucket) FROM rollup").fetchone()
    if lo_hi[0] is None:
        return []
    first_ms, last_ms = (lo_hi[0] // 2) * BUCKET_MS, (lo_hi[1] // 2 + 1) * BUCKET_MS
    days = []
    d = datetime.fromtimestamp(first_ms / 1000, tz).date() - timedelta(days=1)
    end = datetime.fromtimestamp(last_ms / 1000, tz).date() + timedelta(days=1)
    while d <= end:
        start = int(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp() * 1000)
        days.append(start)
        d += timedelta(days=1)
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS days(blo INTEGER PRIMARY KEY, bhi INTEGER NOT NULL)")
    conn.execute("DELETE FROM temp.days")
    conn.executemany(
        "INSERT INTO temp.days VALUES(?, ?)",
        [((a // BUCKET_MS) * 2, (b // BUCKET_MS) * 2) for a, b in zip(days, days[1:])],
    )
    cost = {"auto": "cost_auto", "calculate": "cost_calc", "display": "cost_display"}[mode]
    conds, args = _where(flt, ts="ts_min", prefix="r.", detail=False)
    where = ["r.bucket >= d.blo", "r.bucket < d.bhi", *conds]
    sql = (
        "SELECT MIN(r.ts_min), r.origin, r.provider, r.model, SUM(r.input), SUM(r.output), SUM(r.cache_create),"
        f" SUM(r.cache_read), SUM(r.{cost}), SUM(r.reasoning), SUM(r.n), MAX(r.ts_max), MIN(r.limit_reset)"
        f" FROM temp.days d CROSS JOIN rollup r WHERE {' AND '.join(where)}"
        " GROUP BY d.blo, r.origin, r.provider, r.model ORDER BY 1"
    )
    names = device_names(conn)
    rows = [
        UsageRow(r[0], names.get(r[1], r[1][:8]), r[2], r[3], "", "", r[4], r[5], r[6], r[7], r[8], r[9], r[10],
                 r[11], r[12])
        for r in conn.execute(sql, args)
    ]
    if daily_rule:
        rows = _apply_daily_rule(conn, mode, flt, rows, days, tz)
    return rows


def _apply_daily_rule(conn: sqlite3.Connection, mode: str, flt: RowFilter, rows: list[UsageRow], days: list[int],
                      tz: tzinfo) -> list[UsageRow]:
    """Adjust exact-key day rows to ccusage daily's dedup (rows where the two rules disagree).

    `days`: the local midnights (epoch ms, ascending) that day_rows grouped by; an instant's day
    is the last midnight at or before it (outside them, its local date)."""
    from bisect import bisect_right

    from meshd.core.periods import DayKeys

    keys = DayKeys(tz)
    last = len(days)

    def day(ts: int) -> object:
        i = bisect_right(days, ts)
        return i if 0 < i < last else ("date", keys.day_index(ts))

    by_key = {(day(r.ts), r.device, r.provider, r.model): r for r in rows}
    # `winner != dwinner` first, so SQLite uses the partial index of the few disagreeing rows.
    for sign, which in ((1, "winner != dwinner AND dwinner = 1"), (-1, "winner != dwinner AND winner = 1")):
        for d in usage_rows(conn, mode, flt, grain="entry", which=which):
            k = (day(d.ts), d.device, d.provider, d.model)
            r = by_key.get(k)
            if r is None:
                r = by_key[k] = UsageRow(d.ts, d.device, d.provider, d.model, "", "", 0, 0, 0, 0, 0.0, 0, 0, d.ts)
                rows.append(r)
            r.input_tokens += sign * d.input_tokens
            r.output_tokens += sign * d.output_tokens
            r.cache_creation_tokens += sign * d.cache_creation_tokens
            r.cache_read_tokens += sign * d.cache_read_tokens
            r.reasoning_tokens += sign * d.reasoning_tokens
            r.cost += sign * d.cost
            r.count += sign
            if sign > 0:
                r.ts, r.ts_last = min(r.ts, d.ts), max(r.ts_last, d.ts)
    out = [r for r in rows if r.count > 0]
    out.sort(key=lambda r: r.ts)
    return out


def origins_named(conn: sqlite3.Connection, name: str) -> tuple[str, ...]:
    """Device ids matching a --device value: a name, a full id or an id prefix (4+ chars)."""
    ids = [d for d, n in conn.execute("SELECT device_id, name FROM devices") if n == name]
    if not ids and len(name) >= 4:
        ids = [
            o for (o,) in conn.execute("SELECT DISTINCT origin FROM vector") if o.startswith(name.lower())
        ]
    return tuple(ids)
