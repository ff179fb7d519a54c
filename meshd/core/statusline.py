"""The one line `meshctl statusline` prints for Claude Code. Pure: every number comes in.

    $3.21 block 2h13m left $4.10/h | $45.67 today | 5h 23% 3m ago @laptop · 7d 41% | here 62%

Block and today are mesh-wide costs; the official percentages are the freshest reading from any
machine (with its age and, when it is another machine's, the name); `here` is this machine's part of
the cost since the 5-hour window began (of the active block when no official window is known),
i.e. its share of the percentage used, split across devices in proportion to their cost.

The numbers come as a *snapshot*, a JSON-able dict computed from the replica (cli/statusline.py):

    {"block": {"cost", "start", "end", "burn"} | None, "today": float, "dayEnd": ms,
     "limits": {window: {"pct", "at", "resets" (ms | None), "device" (name | None: this machine)}},
     "buckets": [[ts, this machine's cost, everyone's cost], ...]   # Claude, the last hours
     "daemon": bool, "multi": bool (other devices known), "expires": ms, ...}

`compose` turns a snapshot, the reading Claude Code just passed (if any) and `now` into a Line, so a
snapshot can be cached between refreshes and the line stays exact: ages, time left and expiry are
computed at `now`. No dataclasses here: this module is imported on every refresh.
"""

from __future__ import annotations

import math
from collections import namedtuple
from collections.abc import Iterable
from typing import Any

MAX_STDIN = 1 << 20  # Claude Code's payload is a few KB; anything larger is not worth parsing
FIVE_HOURS_MS = 5 * 3_600_000
LABELS = {"five_hour": "5h", "seven_day": "7d"}
SHOWN = ("five_hour", "seven_day")

Limit = namedtuple("Limit", "window used_percentage age_ms device expired")


class Line:
    """What the line shows; None fields are left out."""

    __slots__ = ("block_cost", "block_left_min", "burn_per_hour", "today_cost", "limits", "share", "note", "message")

    def __init__(self, block_cost: float | None = None, block_left_min: int | None = None,
                 burn_per_hour: float | None = None, today_cost: float = 0.0, limits: list[Limit] | None = None,
                 share: float | None = None, note: str | None = None, message: str | None = None) -> None:
        self.block_cost = block_cost  # None: no active block
        self.block_left_min = block_left_min
        self.burn_per_hour = burn_per_hour
        self.today_cost = today_cost
        self.limits = limits if limits is not None else []
        self.share = share  # this machine's part, 0..1
        self.note = note  # appended, e.g. "mesh offline"
        self.message = message  # instead of the numbers, e.g. "meshd: no data yet (...)"


def fmt_age(ms: int) -> str:
    s = max(0, ms) // 1000
    if s < 60:
        return "now" if s < 10 else f"{s}s ago"
    if s < 3600:
        return f"{s // 60}m ago"
    if s < 86400:
        return f"{s // 3600}h ago"
    return f"{s // 86400}d ago"


def fmt_cost(x: float) -> str:
    if not math.isfinite(x):
        return "$?"
    return f"${x:,.2f}"


def fmt_minutes(m: int) -> str:
    m = max(0, m)
    return f"{m // 60}h{m % 60:02d}m" if m >= 60 else f"{m}m"


def render(line: Line, width: int | None = None) -> str:
    """The line; with a `width` (Claude Code passes COLUMNS), the least important parts go first:
    the note, this machine's share, the readings' ages and sources, then the readings."""
    if line.message:
        return line.message if width is None or len(line.message) <= width else line.message[: max(1, width)]
    parts: list[str] = []
    if line.block_cost is None:
        parts.append("no active block")
    else:
        b = f"{fmt_cost(line.block_cost)} block"
        if line.block_left_min is not None:
            b += f" {fmt_minutes(line.block_left_min)} left"
        if line.burn_per_hour is not None:
            b += f" {fmt_cost(line.burn_per_hour)}/h"
        parts.append(b)
    parts.append(f"{fmt_cost(line.today_cost)} today")

    def limits(detail: bool) -> str:
        lim = []
        for x in line.limits:
            label = LABELS.get(x.window, x.window)
            if x.expired:
                lim.append(f"{label} reset")
                continue
            s = f"{label} {x.used_percentage:.0f}%"
            if detail and x.age_ms >= 60_000:
                s += f" {fmt_age(x.age_ms)}"
            if detail and x.device:
                s += f" @{x.device[:16]}"
            lim.append(s)
        return " · ".join(lim)

    share_part = f"here {100 * line.share:.0f}%" if line.share is not None else ""
    candidates = [  # from the fullest to the barest
        [limits(True), share_part, line.note or ""],
        [limits(True), share_part],
        [limits(True)],
        [limits(False)],
        [],
    ]
    for extra in candidates:
        text = " | ".join(parts + [p for p in extra if p])
        if width is None or len(text) <= width:
            return text
    return text[: max(1, width)] if width else text


def share(costs: Iterable[tuple[int, str, float]], me: str, since_ms: int) -> float | None:
    """This device's part of the cost of (ts, device, cost) rows at or after `since_ms`; None if no cost."""
    mine = total = 0.0
    for ts, dev, cost in costs:
        if ts >= since_ms and cost > 0:
            total += cost
            if dev == me:
                mine += cost
    return mine / total if total > 0 else None


def compose(snap: dict[str, Any], obs, now: int) -> Line:  # type: ignore[no-untyped-def]
    """The line for `now` from a snapshot and the reading on stdin (a core.ratelimit.Observation or None)."""
    line = Line(today_cost=float(snap.get("today") or 0.0))
    block = snap.get("block")
    block_start = None
    if block and now < block["end"]:
        line.block_cost = float(block["cost"])
        line.block_left_min = int((block["end"] - now) / 60000 + 0.5)
        line.burn_per_hour = block.get("burn")
        block_start = block["start"]
    own = {w.name: w for w in obs.windows} if obs is not None else {}
    limits = snap.get("limits") or {}
    window_start = None
    for name in SHOWN:
        if name in own:  # what Claude Code just said is the freshest there is
            w = own[name]
            resets = None if w.resets_at is None else w.resets_at * 1000
            line.limits.append(Limit(name, w.used_percentage, 0, None, resets is not None and resets <= now))
        elif name in limits:
            f = limits[name]
            resets = f.get("resets")
            line.limits.append(Limit(name, f["pct"], max(0, now - f["at"]), f.get("device"),
                                     resets is not None and resets <= now))
        else:
            continue
        if name == "five_hour" and resets is not None and resets > now:
            window_start = resets - FIVE_HOURS_MS
    since = window_start if window_start is not None else block_start
    if since is not None:
        rows = snap.get("buckets") or ()
        line.share = share([(ts, "me", m) for ts, m, _t in rows] + [(ts, "", t - m) for ts, m, t in rows], "me", since)
    if snap.get("multi") and not snap.get("daemon"):
        line.note = "mesh offline"
    return line
