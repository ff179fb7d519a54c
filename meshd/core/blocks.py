"""ccusage's 5-hour session blocks over the merged entries of all devices, plus per-device shares. Pure.

A block starts at its first entry floored to the UTC hour. An entry more than D after the block's
start, or more than D after the previous entry, closes the block (strict `>`); in the second case
a gap block [last entry + D, next entry] is emitted. A block is active when `now - last entry < D`
and `now < start + D`. Rows may be pre-summed buckets (`ts` first entry, `ts_last` last entry)
that never straddle an hour boundary (store/usage.py), so the result is the same as per entry.

Overlap: a block is marked when two devices' activity intervals inside it — [first entry, last
entry] per device, a point for a single entry — intersect.
"""

from __future__ import annotations

from datetime import date, tzinfo
from typing import Any

from meshd.core.entry import UsageRow
from meshd.core.periods import DayKeys, iso_ms
from meshd.core.reports import NOT_A_MODEL

HOUR_MS = 3_600_000
RECENT_MS = 3 * 86_400_000


class Block:
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

    def add(self, r: UsageRow) -> None:
        if self.first < 0:
            self.first = r.ts
        self.last = max(self.last, r.ts_last)
        self.n += r.count
        self.input += r.input_tokens
        self.output += r.output_tokens
        self.cc += r.cache_creation_tokens
        self.cr += r.cache_read_tokens
        self.cost += r.cost
        if r.model not in NOT_A_MODEL:
            self.models.setdefault(r.model, None)
        d = self.devices.get(r.device)
        if d is None:
            self.devices[r.device] = [r.count, r.total_tokens, r.cost, r.ts, r.ts_last]
        else:
            d[0] += r.count
            d[1] += r.total_tokens
            d[2] += r.cost
            d[3] = min(d[3], r.ts)
            d[4] = max(d[4], r.ts_last)
        if r.usage_limit_reset is not None and self.limit_reset is None:
            self.limit_reset = r.usage_limit_reset

    @property
    def total(self) -> int:
        return self.input + self.output + self.cc + self.cr


def identify(rows: list[UsageRow], length_ms: int) -> list[Block | tuple[int, int]]:
    """Blocks in time order; gaps are (start, end) tuples."""
    out: list[Block | tuple[int, int]] = []
    cur: Block | None = None
    for r in rows:
        if cur is not None:
            gap = r.ts - cur.last > length_ms
            if r.ts - cur.start > length_ms or gap:
                out.append(cur)
                if gap:
                    out.append((cur.last + length_ms, r.ts))
                cur = None
        if cur is None:
            cur = Block(r.ts - r.ts % HOUR_MS, length_ms)
        cur.add(r)
    if cur is not None:
        out.append(cur)
    return out


def overlap(devices: dict[str, list[Any]]) -> bool:
    """True when two devices' [first, last] activity intervals intersect."""
    spans = sorted((d[3], d[4]) for d in devices.values())
    reach = -1
    for i, (a, b) in enumerate(spans):
        if i and a <= reach:
            return True
        reach = max(reach, b)
    return False


def _render_block(b: Block, now: int) -> dict[str, Any]:
    active = now - b.last < (b.end - b.start) and now < b.end
    share_base = b.cost if b.cost > 0 else float(b.total or 1)
    out: dict[str, Any] = {
        "id": iso_ms(b.start), "startTime": iso_ms(b.start), "endTime": iso_ms(b.end),
        "actualEndTime": iso_ms(b.last), "isActive": active, "isGap": False, "entries": b.n,
        "tokenCounts": {"inputTokens": b.input, "outputTokens": b.output,
                        "cacheCreationInputTokens": b.cc, "cacheReadInputTokens": b.cr},
        "totalTokens": b.total, "costUSD": b.cost, "models": list(b.models),
        "burnRate": None, "projection": None,
        "devices": sorted(
            ({"device": name, "entries": d[0], "totalTokens": d[1], "costUSD": d[2],
              "share": (d[2] if b.cost > 0 else d[1]) / share_base,
              "firstEntry": iso_ms(d[3]), "lastEntry": iso_ms(d[4])} for name, d in b.devices.items()),
            key=lambda d: (-d["costUSD"], d["device"]),
        ),
        "overlap": overlap(b.devices),
    }
    if b.limit_reset is not None:
        out["usageLimitResetTime"] = iso_ms(b.limit_reset * 1000)
    minutes = (b.last - b.first) / 60000
    if active and minutes > 0:
        tpm = b.total / minutes
        cph = b.cost / minutes * 60
        out["burnRate"] = {"tokensPerMinute": tpm, "tokensPerMinuteForIndicator": (b.input + b.output) / minutes,
                           "costPerHour": cph}
        remaining = round((b.end - now) / 60000)
        out["projection"] = {"totalTokens": round(b.total + tpm * remaining),
                             "totalCost": round((b.cost + cph / 60 * remaining) * 100) / 100,
                             "remainingMinutes": remaining}
    return out


def _render_gap(start: int, end: int) -> dict[str, Any]:
    return {
        "id": f"gap-{iso_ms(start)}", "startTime": iso_ms(start), "endTime": iso_ms(end), "actualEndTime": None,
        "isActive": False, "isGap": True, "entries": 0,
        "tokenCounts": {"inputTokens": 0, "outputTokens": 0, "cacheCreationInputTokens": 0, "cacheReadInputTokens": 0},
        "totalTokens": 0, "costUSD": 0, "models": [], "burnRate": None, "projection": None,
        "devices": [], "overlap": False,
    }


def blocks_report(rows: list[UsageRow], *, now_ms: int, session_hours: float = 5.0, tz: tzinfo | None = None,
                  since: date | None = None, until: date | None = None, order: str = "asc",
                  active_only: bool = False, recent: bool = False,
                  token_limit: int | str | None = None) -> dict[str, Any]:
    """`ccusage blocks --json` over merged rows (Claude only; the caller filters providers)."""
    length = int(round(session_hours * HOUR_MS))
    rendered = []
    days = DayKeys(tz) if tz is not None else None
    for b in identify(rows, length):
        d = _render_gap(*b) if isinstance(b, tuple) else _render_block(b, now_ms)
        start = b[0] if isinstance(b, tuple) else b.start
        if active_only and not d["isActive"]:
            continue
        if recent and not (start >= now_ms - RECENT_MS or d["isActive"]):
            continue
        if days is not None and (since or until):
            day = days.day(start)
            if (since and day < since.isoformat()) or (until and day > until.isoformat()):
                continue
        rendered.append(d)
    if token_limit is not None:
        limit = token_limit
        if limit == "max":
            limit = max((d["totalTokens"] for d in rendered if not d["isGap"] and not d["isActive"]), default=0)
        if isinstance(limit, int) and limit > 0:
            for d in rendered:
                if d["isActive"]:
                    projected = (d["projection"] or {}).get("totalTokens", d["totalTokens"])
                    pct = projected / limit * 100
                    d["tokenLimitStatus"] = {"limit": limit, "projectedUsage": projected, "percentUsed": pct,
                                             "status": "exceeds" if pct > 100 else "warning" if pct > 80 else "ok"}
    if order == "desc":
        rendered.reverse()
    return {"blocks": rendered}
