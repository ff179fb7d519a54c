"""ccusage's session blocks over the merged entries of all devices, plus per-device shares. Pure.

Algorithm (ccusage 20.0.24, Claude rows only, D = session length in ms = trunc(hours * 3.6e6)):
- a block starts at its first entry floored to the UTC hour and ends D later;
- a later entry e closes the block when `e - start > D` or `e - last entry > D` (strict); in the
  second case a gap block [last entry + D, e] (`id` "gap-<ISO>") is emitted too;
- a block's `costUSD` prints without ".0" when whole (`2`, `0`), unlike every other float;
- blocks are then sorted by start, stably (a gap can start after the block that follows it, or
  tie with it: the gap comes first), and reversed as a whole for `order="desc"`;
- a block is active when `now - last entry < D and now < end` (the first part is implied by the
  second, since last entry >= start); only the active block gets
  `burnRate` and `projection` (both null when its last entry equals its first);
- filters run in ccusage's order: `since/until` on the block start's local date, then
  `recent` (start >= now - 3 days, or active), then `active_only`; `token_limit="max"` is the
  largest totalTokens among the remaining non-gap inactive blocks (no status unless it is > 0),
  and `tokenLimitStatus` goes only on an active block that has a projection.

Rows may be pre-summed buckets (`ts` = first entry, `ts_last` = last, `count` entries) spanning
less than a minute and never straddling a minute boundary after an entry at a minute's first
millisecond (store/usage.py): boundary decisions use `ts`, silences and `actualEndTime` use
`ts_last`, which is exact as long as D is a whole number of minutes (callers should hand over
single entries otherwise).

Our additions per block:
- `devices`: [{device, entries, totalTokens, costUSD, share, firstEntry, lastEntry}], most
  expensive first; `share` is the device's part of the block cost (of its tokens when the block
  cost is 0, of its entries when both are 0), so shares sum to 1;
- `overlap`: true when two or more devices were active at the same time inside the block. A
  device's activity is the closed interval [its first entry, its last entry] in the block (a
  single entry is a point); overlap means two devices' intervals intersect, touching included
  (entries at the same millisecond overlap, an entry at t and another device's first entry at
  t + 1 ms do not).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, timezone, tzinfo
from typing import Any

from meshd.core.row import UsageRow
from meshd.core.periods import DayKeys, date_str, iso_ms
from meshd.core.reports import NOT_A_MODEL
from meshd.errors import ConfigError

HOUR_MS = 3_600_000
MODEL_SEP = "\x1f"  # joins the models of a pre-summed row
RECENT_MS = 3 * 86_400_000
DEFAULT_HOURS = 5.0


class Block:
    """A non-gap block being summed."""

    __slots__ = ("start", "end", "first", "last", "n", "input", "output", "cc", "cr", "cost", "models",
                 "devices", "limit_reset")

    def __init__(self, start: int, length_ms: int) -> None:
        self.start = start
        self.end = start + length_ms
        self.first = self.last = -1
        self.n = self.input = self.output = self.cc = self.cr = 0
        self.cost = 0.0
        self.models: dict[str, None] = {}
        self.devices: dict[str, list[Any]] = {}  # name -> [entries, tokens, cost, first, last]
        self.limit_reset: int | None = None

    @property
    def total(self) -> int:
        return self.input + self.output + self.cc + self.cr


Gap = tuple[int, int]


def session_length_ms(hours: float) -> int:
    """-n/--session-length hours -> ms, truncated as ccusage does; ConfigError unless finite and > 0."""
    if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not math.isfinite(hours) or hours <= 0:
        raise ConfigError("session length must be a positive number of hours")
    if hours > 24 * 366:
        raise ConfigError("session length must be at most a year")
    return int(hours * HOUR_MS)


def identify(rows: Iterable[UsageRow], length_ms: int) -> list[Block | Gap]:
    """Blocks and gaps (start, end) in generation order, from rows sorted by ts."""
    out: list[Block | Gap] = []
    cur: Block | None = None
    start = last = 0
    models: dict[str, None] = {}
    devices: dict[str, list[Any]] = {}
    for r in rows:
        ts = r.ts
        if cur is None or ts - start > length_ms or ts - last > length_ms:
            if cur is not None:
                cur.last = last
                out.append(cur)
                if ts - last > length_ms:
                    out.append((last + length_ms, ts))
            start = ts - ts % HOUR_MS
            cur = Block(start, length_ms)
            cur.first = ts
            last = ts
            models = cur.models
            devices = cur.devices
        tl = r.ts_last
        if tl > last:
            last = tl
        cur.n += r.count
        cur.input += r.input_tokens
        cur.output += r.output_tokens
        cur.cc += r.cache_creation_tokens
        cur.cr += r.cache_read_tokens
        cur.cost += r.cost
        model = r.model
        if MODEL_SEP in model:  # a bucket of several models (store/usage.py merges them for blocks)
            for m in model.split(MODEL_SEP):
                if m not in NOT_A_MODEL and m not in models:
                    models[m] = None
        elif model not in NOT_A_MODEL and model not in models:
            models[model] = None
        d = devices.get(r.device)
        tokens = r.input_tokens + r.output_tokens + r.cache_creation_tokens + r.cache_read_tokens
        if d is None:
            devices[r.device] = [r.count, tokens, r.cost, ts, tl]
        else:
            d[0] += r.count
            d[1] += tokens
            d[2] += r.cost
            if ts < d[3]:
                d[3] = ts
            if tl > d[4]:
                d[4] = tl
        if r.usage_limit_reset is not None and cur.limit_reset is None:
            cur.limit_reset = r.usage_limit_reset
    if cur is not None:
        cur.last = last
        out.append(cur)
    return out


def overlap(devices: dict[str, list[Any]]) -> bool:
    """True when two devices' closed [first, last] activity intervals intersect."""
    if len(devices) < 2:
        return False
    spans = sorted((d[3], d[4]) for d in devices.values())
    reach = spans[0][1]
    for a, b in spans[1:]:
        if a <= reach:
            return True
        if b > reach:
            reach = b
    return False


def _round(x: float) -> float:
    """Rust's f64::round: half away from zero."""
    r = math.floor(x)
    if x - r >= 0.5:
        r += 1
    return r


def is_active(b: Block, now_ms: int) -> bool:
    """ccusage: `now - actualEndTime < D and now < endTime`."""
    return now_ms - b.last < b.end - b.start and now_ms < b.end


def burn_rate(b: Block) -> dict[str, float] | None:
    """Tokens and cost per time between the block's first and last entry; None when that is 0."""
    minutes = (b.last - b.first) / 60000
    if minutes <= 0:
        return None
    return {"costPerHour": b.cost / minutes * 60, "tokensPerMinute": b.total / minutes,
            "tokensPerMinuteForIndicator": (b.input + b.output) / minutes}


def projection(b: Block, rate: dict[str, float], now_ms: int) -> dict[str, Any]:
    """Usage at the block's end at the current rate (remaining minutes rounded first, as ccusage)."""
    remaining = int(_round((b.end - now_ms) / 60000))
    return {"remainingMinutes": remaining,
            "totalCost": _round((b.cost + rate["costPerHour"] / 60 * remaining) * 100) / 100,
            "totalTokens": int(_round(b.total + rate["tokensPerMinute"] * remaining))}


def _device_rows(b: Block) -> list[dict[str, Any]]:
    if b.cost > 0:
        base, idx = b.cost, 2
    elif b.total > 0:
        base, idx = float(b.total), 1
    else:
        base, idx = float(b.n or 1), 0
    rows = [{"costUSD": d[2], "device": name, "entries": d[0], "firstEntry": iso_ms(d[3]),
             "lastEntry": iso_ms(d[4]), "share": d[idx] / base, "totalTokens": d[1]}
            for name, d in b.devices.items()]
    rows.sort(key=lambda d: (-d["costUSD"], d["device"]))
    return rows


def _js_number(x: float) -> float | int:
    """ccusage prints a block's costUSD as a JavaScript number: a whole value has no ".0"."""
    return int(x) if x.is_integer() and abs(x) < 2**53 else x


def render_block(b: Block, now_ms: int) -> dict[str, Any]:
    """A block in `ccusage blocks --json` shape (sorted keys) plus `devices` and `overlap`."""
    active = is_active(b, now_ms)
    rate = burn_rate(b) if active else None
    start = iso_ms(b.start)
    out: dict[str, Any] = {
        "actualEndTime": iso_ms(b.last),
        "burnRate": rate,
        "costUSD": _js_number(b.cost),
        "devices": _device_rows(b),
        "endTime": iso_ms(b.end),
        "entries": b.n,
        "id": start,
        "isActive": active,
        "isGap": False,
        "models": list(b.models),
        "overlap": overlap(b.devices),
        "projection": projection(b, rate, now_ms) if rate is not None else None,
        "startTime": start,
        "tokenCounts": {"cacheCreationInputTokens": b.cc, "cacheReadInputTokens": b.cr,
                        "inputTokens": b.input, "outputTokens": b.output},
        "totalTokens": b.total,
    }
    if b.limit_reset is not None:
        out["usageLimitResetTime"] = iso_ms(b.limit_reset * 1000)
    return out


def render_gap(start: int, end: int) -> dict[str, Any]:
    """A gap block as ccusage prints it (integer 0 cost, null actualEndTime), plus empty additions."""
    return {
        "actualEndTime": None, "burnRate": None, "costUSD": 0, "devices": [], "endTime": iso_ms(end),
        "entries": 0, "id": f"gap-{iso_ms(start)}", "isActive": False, "isGap": True, "models": [],
        "overlap": False, "projection": None, "startTime": iso_ms(start),
        "tokenCounts": {"cacheCreationInputTokens": 0, "cacheReadInputTokens": 0, "inputTokens": 0,
                        "outputTokens": 0},
        "totalTokens": 0,
    }


def token_limit_status(projected: int, limit: int) -> dict[str, Any]:
    """ccusage's tokenLimitStatus: ok, warning above 80 %, exceeds above 100 % (percentUsed null if limit 0)."""
    if limit > 0:
        pct: float | None = projected / limit * 100
        over, warn = pct > 100, pct > 80  # type: ignore[operator]
    else:
        pct = None
        over = warn = projected > 0
    return {"limit": limit, "percentUsed": pct, "projectedUsage": projected,
            "status": "exceeds" if over else "warning" if warn else "ok"}


def blocks_report(rows: Iterable[UsageRow], *, now_ms: int, session_hours: float = DEFAULT_HOURS,
                  tz: tzinfo | None = None, since: date | None = None, until: date | None = None,
                  order: str = "asc", active_only: bool = False, recent: bool = False,
                  token_limit: int | str | None = None, device: str | None = None) -> dict[str, Any]:
    """`ccusage claude blocks --json` over merged rows sorted by ts (non-Claude rows are skipped).

    now_ms: the current instant; session_hours: -n (float > 0); tz: zone for since/until (UTC if
    None); token_limit: an int >= 0, "max" (or "") or None; device: only that device's rows.
    """
    length = session_length_ms(session_hours)
    if order not in ("asc", "desc"):
        raise ConfigError(f"order must be asc or desc, not {str(order)[:20]!r}")
    claude = (r for r in rows if r.provider == "claude" and (device is None or r.device == device))
    items = identify(claude, length)
    items.sort(key=lambda b: b[0] if isinstance(b, tuple) else b.start)
    lo, hi = date_str(since), date_str(until)
    days = DayKeys(tz if tz is not None else timezone.utc) if (lo or hi) else None
    kept: list[tuple[Block | Gap, bool]] = []
    for b in items:
        start = b[0] if isinstance(b, tuple) else b.start
        if days is not None:
            day = days.day(start)
            if (lo is not None and day < lo) or (hi is not None and day > hi):
                continue
        active = not isinstance(b, tuple) and is_active(b, now_ms)
        if recent and not (start >= now_ms - RECENT_MS or active):
            continue
        if active_only and not active:
            continue
        kept.append((b, active))
    limit: int | None = None
    if token_limit in ("max", ""):
        best = max((b.total for b, act in kept if not isinstance(b, tuple) and not act), default=0)
        limit = best if best > 0 else None
    elif token_limit is not None:
        if isinstance(token_limit, bool) or not isinstance(token_limit, int) or token_limit < 0:
            raise ConfigError(f"token limit must be a non-negative integer or 'max', not {str(token_limit)[:40]!r}")
        limit = token_limit
    out = []
    for b, _active in kept:
        if isinstance(b, tuple):
            out.append(render_gap(*b))
            continue
        d = render_block(b, now_ms)
        if limit is not None and d["projection"] is not None:
            d["tokenLimitStatus"] = token_limit_status(d["projection"]["totalTokens"], limit)
            d = dict(sorted(d.items()))
        out.append(d)
    if order == "desc":
        out.reverse()
    return {"blocks": out}
