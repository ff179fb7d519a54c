"""The one query layer of meshctl's reports and the daemon's local API.

Raw options (CLI strings or RPC fields) become a validated `Query` (`report_query`); `run` turns a
Query into the report dict `meshctl <report> --json` prints, over an open SQLite connection. The
CLI and the gRPC servicer both call these, so the API's numbers are the CLI's by construction.
Also here: the devices table (`device_rows`), the exact active block for watchers
(`active_block`) and reading new log records by (origin, epoch, seq) (`read_log`).

No grpc, no sockets; SQL through meshd.store.usage. Errors are ConfigError with a hint, worded for
the caller (`cli=True`: "--since", otherwise "since").
"""

from __future__ import annotations

import math
import sqlite3
from datetime import date, tzinfo
from typing import Any, NamedTuple

from meshd.errors import ConfigError

KINDS = ("daily", "weekly", "monthly", "session", "projects", "blocks")
PROVIDERS = ("claude", "codex")
MODES = ("auto", "calculate", "display")
MAX_TEXT = 256  # longest accepted name, id, zone or date string
MAX_DEVICES = 64
MAX_BLOCK_HOURS = 24 * 7


class NotFound(ConfigError):
    """A named device does not exist (the API answers NOT_FOUND)."""


class Query(NamedTuple):
    """A validated report request. `devices` are names/ids resolved against the replica in `run`.

    A NamedTuple, not a dataclass: meshctl's report path imports no dataclasses (start-up time)."""

    kind: str
    tz: tzinfo
    mode: str
    since: date | None = None
    until: date | None = None
    order: str = "asc"
    devices: tuple[str, ...] = ()
    provider: str | None = None
    project: str | None = None
    session: str | None = None
    start_of_week: str = "sunday"
    # blocks
    active: bool = False
    recent: bool = False
    token_limit: int | str | None = None
    session_hours: float = 5.0


def _opt(name: str, cli: bool) -> str:
    return "--" + name.replace("_", "-") if cli else name


def _text(value: Any, name: str, cli: bool, *, limit: int = MAX_TEXT) -> str | None:
    """A short printable string option ("" and None mean unset)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{_opt(name, cli)} must be a string")
    if len(value) > limit or "\x00" in value or not value.isprintable():
        raise ConfigError(f"{_opt(name, cli)} is too long or has control characters ({len(value)} characters)",
                          hint=f"at most {limit} printable characters")
    return value


def check_text(value: str, name: str) -> str:
    """A required short printable string (an RPC field); ConfigError otherwise."""
    got = _text(value, name, False)
    if got is None:
        raise ConfigError(f"{name} must not be empty")
    return got


def report_query(kind: str, *, tz_default: str | None = None, mode_default: str = "auto", cli: bool = False,
                 since: str | None = None, until: str | None = None, timezone: str | None = None,
                 order: str | None = None, mode: str | None = None, devices: tuple[str, ...] | list[str] = (),
                 provider: str | None = None, project: str | None = None, session: str | None = None,
                 start_of_week: str | None = None, active: bool = False, recent: bool = False,
                 token_limit: int | str | None = None, session_hours: float | None = None) -> Query:
    """Validate raw options into a Query; ConfigError (one line, with a hint) on anything bad.

    tz_default/mode_default: the config's timezone and cost_mode. order None: the kind's default
    (asc; session and projects: desc). token_limit: an int >= 0, "max" or a string of digits.
    """
    from meshd.core.periods import WEEKDAYS, parse_date_arg, resolve_tz

    if kind not in KINDS:
        raise ConfigError(f"unknown report {str(kind)[:20]!r}", hint=f"one of {', '.join(KINDS)}")
    tz_name = _text(timezone, "timezone", cli, limit=128)
    tz = resolve_tz(tz_name or tz_default)
    since_s, until_s = _text(since, "since", cli, limit=32), _text(until, "until", cli, limit=32)
    d_since = parse_date_arg(since_s, _opt("since", cli)) if since_s else None
    d_until = parse_date_arg(until_s, _opt("until", cli)) if until_s else None
    if order in (None, ""):
        order = "desc" if kind in ("session", "projects") else "asc"
    if order not in ("asc", "desc"):
        raise ConfigError(f"{_opt('order', cli)} must be asc or desc, not {str(order)[:20]!r}")
    mode = mode or mode_default
    if mode not in MODES:
        raise ConfigError(f"{_opt('mode', cli)} must be auto, calculate or display, not {str(mode)[:20]!r}")
    if provider in (None, "", "all"):
        prov = None
    elif provider in PROVIDERS:
        prov = provider
    else:
        raise ConfigError(f"{_opt('provider', cli)} must be claude, codex or all, not {str(provider)[:20]!r}")
    devs = tuple(devices or ())
    if len(devs) > MAX_DEVICES:
        raise ConfigError(f"at most {MAX_DEVICES} devices, not {len(devs)}")
    names = tuple(n for n in (_text(d, "device", cli) for d in devs) if n)
    if len(names) != len(devs):
        raise ConfigError(f"{_opt('device', cli)} must not be empty", hint="a device name or id from `meshctl devices`")
    sow = (_text(start_of_week, "start_of_week", cli, limit=16) or "sunday").lower()
    if sow not in WEEKDAYS:
        raise ConfigError(f"{_opt('start_of_week', cli)} must be one of {', '.join(WEEKDAYS)}, not {sow[:20]!r}")
    hours = 5.0 if session_hours is None else session_hours
    limit: int | str | None = None
    if kind == "blocks":
        if prov == "codex":
            raise ConfigError("blocks are Claude-only: Codex usage has no 5-hour blocks",
                              hint=f"use daily, monthly or session with {_opt('provider', cli)} codex")
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not math.isfinite(hours) \
                or not 0 < hours <= MAX_BLOCK_HOURS:
            raise ConfigError(f"{_opt('session_length', cli)} must be between 0 and {MAX_BLOCK_HOURS} hours,"
                              f" not {str(hours)[:20]}")
        limit = _token_limit(token_limit, cli)
    return Query(kind=kind, tz=tz, mode=mode, since=d_since, until=d_until, order=order, devices=names,
                 provider=prov, project=_text(project, "project", cli),
                 session=_text(session, "id" if cli else "session_id", cli),
                 start_of_week=sow, active=bool(active), recent=bool(recent), token_limit=limit,
                 session_hours=float(hours))


def _token_limit(value: int | str | None, cli: bool) -> int | str | None:
    name = _opt("token_limit", cli)
    if value is None:
        return None
    if isinstance(value, str):
        if value in ("max", ""):
            return "max"
        if value.isdigit() and len(value) < 19:
            return int(value)
        raise ConfigError(f"{name} must be a number or 'max', not {value[:40]!r}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a number or 'max'")
    if value < 0:
        raise ConfigError(f"{name} must not be negative, not {value}", hint="0 or more tokens, or 'max'")
    if value >= 1 << 62:
        raise ConfigError(f"{name} is too large ({value})")
    return value


def origins_for(conn: sqlite3.Connection, names: tuple[str, ...]) -> tuple[str, ...] | None:
    """Device ids for --device names (None: every device); NotFound for an unknown one."""
    from meshd.store.usage import origins_named

    if not names:
        return None
    found: list[str] = []
    for name in names:
        ids = origins_named(conn, name)
        if not ids:
            raise NotFound(f"unknown device {name[:64]!r}", hint="see `meshctl devices`")
        found.extend(ids)
    return tuple(found)


def run(conn: sqlite3.Connection, q: Query, now_ms: int) -> dict[str, Any]:
    """The report `meshctl <q.kind> --json` prints (ccusage's shape plus our fields)."""
    from meshd.core import reports
    from meshd.store.usage import DAILY_WINNERS, WINNERS, RowFilter, day_rows, usage_rows

    flt = RowFilter(provider=q.provider, origins=origins_for(conn, q.devices))
    if q.kind in ("daily", "weekly", "monthly"):
        daily_rule = q.kind == "daily"  # ccusage's daily dedups sidechain replays; its other reports do not
        if q.project:
            rows = usage_rows(conn, q.mode, flt._replace(project=q.project), grain="entry",
                              which=DAILY_WINNERS if daily_rule else WINNERS)
        else:
            rows = day_rows(conn, q.mode, flt, q.tz, daily_rule=daily_rule)
        kw: dict[str, Any] = {"tz": q.tz, "since": q.since, "until": q.until, "order": q.order}
        if q.kind == "weekly":
            kw["start_of_week"] = q.start_of_week
        data: dict[str, Any] = getattr(reports, q.kind)(rows, **kw)
        if q.kind == "monthly":  # additive: plan value, pace and budgets of the current month, mesh-wide
            s = pace_summary(conn, q.mode, q.tz, now_ms)
            data.update(plan=s["plan"], pace=s["pace"], budgets=s["budgets"])
        return data
    if q.kind in ("session", "projects"):
        rows = usage_rows(conn, q.mode, flt._replace(project=q.project, session=q.session), by_session=True)
        fn = reports.session if q.kind == "session" else reports.project_totals
        return fn(rows, tz=q.tz, since=q.since, until=q.until, order=q.order)
    return _blocks(conn, q, flt._replace(provider="claude"), now_ms)


def _blocks(conn: sqlite3.Connection, q: Query, flt: Any, now_ms: int) -> dict[str, Any]:
    from meshd.core import blocks as core_blocks
    from meshd.store.usage import usage_rows

    rows = usage_rows(conn, q.mode, flt, grain=_block_grain(q.session_hours), merge_models=True)
    return core_blocks.blocks_report(
        rows, now_ms=now_ms, session_hours=q.session_hours, tz=q.tz, since=q.since, until=q.until,
        order=q.order, active_only=q.active, recent=q.recent, token_limit=q.token_limit)


def _block_grain(hours: float) -> str:
    """Rollup buckets are 15 minutes: exact for blocks whose length is a multiple of that."""
    from meshd.core.blocks import session_length_ms

    return "minute" if session_length_ms(hours) % 900_000 == 0 else "entry"


def active_block(conn: sqlite3.Connection, q: Query, now_ms: int) -> dict[str, Any] | None:
    """The active block exactly as `blocks --active --json` shows it, reading only recent rows.

    A silence longer than the block length starts a new block whatever came before, so rows after
    the first such silence in a recent window are enough; without one, the whole history is read.
    """
    from meshd.core import blocks as core_blocks
    from meshd.store.usage import RowFilter, usage_rows

    length = core_blocks.session_length_ms(q.session_hours)
    grain = _block_grain(q.session_hours)
    base = RowFilter(provider="claude", origins=origins_for(conn, q.devices))
    rows = usage_rows(conn, q.mode, base._replace(since_ms=now_ms - max(3 * 86_400_000, 4 * length)),
                      grain=grain, merge_models=True)
    cut, last = None, None
    for i, r in enumerate(rows):
        if last is not None and r.ts - last > length:
            cut = i
            break
        last = r.ts_last if last is None or r.ts_last > last else last
    rows = rows[cut:] if cut is not None else usage_rows(conn, q.mode, base, grain=grain, merge_models=True)
    got = core_blocks.blocks_report(rows, now_ms=now_ms, session_hours=q.session_hours, active_only=True)
    return got["blocks"][0] if got["blocks"] else None


# -- devices -----------------------------------------------------------------------------------


def peer_info(peers: Any, self_id: str) -> dict[str, dict[str, Any]]:
    """device id -> best peer entry, from a daemon's PeerStatus list ("" -> {"self": id})."""
    out: dict[str, dict[str, Any]] = {"": {"self": self_id}}
    rank = {"online": 0, "offline": 1, "new": 2}
    for p in peers:
        if not p.device_id:
            continue
        cur = out.get(p.device_id)
        if cur is None or rank.get(p.state, 9) < rank.get(cur["state"], 9):
            out[p.device_id] = {"state": p.state, "address": p.address, "lastSuccessMs": p.last_success_ms or None,
                                "recordsBehind": p.records_behind, "lastError": p.last_error or None}
    return out


def device_rows(conn: sqlite3.Connection, my_id: str, peers: dict[str, dict[str, Any]] | None) -> list[dict[str, Any]]:
    """One row per device the replica knows (forgotten ones flagged): `meshctl devices --json`'s rows."""
    from meshd.store.usage import device_names

    names = device_names(conn)  # clashing names get an id suffix, as in reports
    info = {d: (names.get(d, n), h, o, v)
            for d, n, h, o, v in conn.execute("SELECT device_id, name, host, os, version FROM devices")}
    held: dict[str, list[int]] = {}
    for origin, _epoch, seq in conn.execute("SELECT origin, epoch, max_seq FROM vector"):
        held.setdefault(origin, []).append(int(seq))
    last = dict(conn.execute("SELECT origin, MAX(ts_max) FROM rollup GROUP BY origin"))
    forgotten = {r[0] for r in conn.execute("SELECT device_id FROM forgotten")}
    rows = []
    for did in sorted(set(info) | set(held) | forgotten):
        name, host, os_, ver = info.get(did, (did[:8], "", "", ""))
        p = (peers or {}).get(did)
        if did == my_id:
            state = "self"
        elif did in forgotten:
            state = "forgotten"
        elif p is not None:
            state = p["state"]
        else:
            state = "unknown" if peers is None else "offline"
        last_ms = last.get(did)
        rows.append({
            "name": name, "deviceId": did, "shortId": did[:8], "self": did == my_id, "forgotten": did in forgotten,
            "state": state, "address": p["address"] if p else None,
            "lastSeen": iso_s(p["lastSuccessMs"]) if p and p["lastSuccessMs"] else None,
            "lastActivity": iso_s(last_ms) if last_ms else None,
            "records": sum(held.get(did, [])), "epochs": len(held.get(did, [])),
            "recordsBehind": p["recordsBehind"] if p else None,
            "lastError": p["lastError"] if p else None, "host": host, "os": os_, "version": ver,
        })
    return rows


def iso_s(ms: int) -> str:
    """Unix ms -> "YYYY-MM-DDTHH:MM:SSZ"."""
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def resolve_device(conn: sqlite3.Connection, who: str) -> str:
    """A device id from a full id, an id prefix (4+ characters) or a name; ConfigError otherwise."""
    known = dict(conn.execute("SELECT device_id, name FROM devices"))
    for (o,) in conn.execute("SELECT DISTINCT origin FROM vector"):
        known.setdefault(o, o[:8])
    if who in known:
        return who
    hits = [d for d, n in known.items() if n == who]
    if not hits and len(who) >= 4:
        hits = [d for d in known if d.startswith(who)]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise NotFound(f"no device named {who[:64]!r}", hint="see `meshctl devices` for names and ids")
    raise ConfigError(f"{who[:64]!r} matches {len(hits)} devices ({', '.join(h[:8] for h in hits)})",
                      hint="give more of the device id")


# -- the log, for watchers ------------------------------------------------------------------------

Position = tuple[str, int]  # (origin, epoch)


def vector(conn: sqlite3.Connection) -> dict[Position, int]:
    return {(o, int(e)): int(s) for o, e, s in conn.execute("SELECT origin, epoch, max_seq FROM vector")}


def read_log(conn: sqlite3.Connection, cursor: dict[Position, int], limit: int
             ) -> list[tuple[str, int, int, str, bytes]]:
    """Up to `limit` records after the cursor's positions, each log in ascending seq; logs the cursor
    does not name are read from seq 1. Advances `cursor` past what it returns."""
    out: list[tuple[str, int, int, str, bytes]] = []
    for (origin, epoch), held in sorted(vector(conn).items()):
        after = cursor.get((origin, epoch), 0)
        if held <= after or len(out) >= limit:
            continue
        for seq, kind, body in conn.execute(
                "SELECT seq, kind, body FROM log WHERE origin=? AND epoch=? AND seq>? AND seq<=? ORDER BY seq LIMIT ?",
                (origin, epoch, after, held, limit - len(out))):
            out.append((origin, epoch, int(seq), kind, bytes(body)))
            cursor[(origin, epoch)] = int(seq)
    return out


def pace_summary(conn, mode: str, tz, now: int, start_of_week: str = "sunday") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Plan value, pace and budgets of the current month, merged over all devices (exact-key dedup)."""
    from datetime import date, datetime, timedelta

    from meshd.core import pace
    from meshd.core.periods import DayKeys, day_key
    from meshd.store import settings as st
    from meshd.store.usage import RowFilter, day_rows, usage_rows

    today = date.fromisoformat(day_key(now, tz))
    first = min(pace.month_start(today), today - timedelta(days=2 * pace.TREND_DAYS + 1))
    since = int(datetime(first.year, first.month, first.day, tzinfo=tz).timestamp() * 1000)
    midnight = int(datetime(today.year, today.month, today.day, tzinfo=tz).timestamp() * 1000)
    keys = DayKeys(tz)
    daily: dict[date, float] = {}
    for r in day_rows(conn, mode, RowFilter(since_ms=since), tz):
        d = date.fromisoformat(keys.day(r.ts))
        daily[d] = daily.get(d, 0.0) + r.cost
    m0 = pace.month_start(today)
    month_ms = int(datetime(m0.year, m0.month, m0.day, tzinfo=tz).timestamp() * 1000)
    projects: dict[str, float] = {}
    budgets = st.budgets(conn)
    if budgets:
        for r in usage_rows(conn, mode, RowFilter(since_ms=month_ms), by_session=True):
            projects[r.project] = projects.get(r.project, 0.0) + r.cost
    s = pace.summary(daily, projects, budgets, st.plan(conn), today, (now - midnight) / 86_400_000, start_of_week)
    s["month"] = today.isoformat()[:7]
    s["plan"]["month"] = s["month"]
    return s
