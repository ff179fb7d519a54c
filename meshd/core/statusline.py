"""The one line `meshctl statusline` prints for Claude Code. Pure: every number comes in.

    $3.21 block 2h13m left $4.10/h | $45.67 today | 5h 23% 3m ago @laptop · 7d 41% | here 62%

Block and today are mesh-wide costs; the official percentages are the freshest reading from any
machine (with its age and, when it is another machine's, the name); `here` is this machine's part of
the cost since the 5-hour window began (of the active block when no official window is known),
i.e. its share of the percentage used, split across devices in proportion to their cost.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_STDIN = 1 << 20  # Claude Code's payload is a few KB; anything larger is not worth parsing

LABELS = {"five_hour": "5h", "seven_day": "7d"}


@dataclass(frozen=True, slots=True)
class Limit:
    window: str
    used_percentage: float
    age_ms: int
    device: str | None  # None: this machine
    expired: bool


@dataclass(slots=True)
class Line:
    block_cost: float | None = None  # None: no active block
    block_left_min: int | None = None
    burn_per_hour: float | None = None
    today_cost: float = 0.0
    limits: list[Limit] = field(default_factory=list)
    share: float | None = None  # this machine's part, 0..1
    note: str | None = None  # appended, e.g. "mesh offline"
    message: str | None = None  # instead of the numbers, e.g. "meshd: no data yet (...)"


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


def render(line: Line) -> str:
    if line.message:
        return line.message
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
    lim = []
    for x in line.limits:
        label = LABELS.get(x.window, x.window)
        if x.expired:
            lim.append(f"{label} reset")
            continue
        s = f"{label} {x.used_percentage:.0f}%"
        if x.age_ms >= 60_000:
            s += f" {fmt_age(x.age_ms)}"
        if x.device:
            s += f" @{x.device[:16]}"
        lim.append(s)
    if lim:
        parts.append(" · ".join(lim))
    if line.share is not None:
        parts.append(f"here {100 * line.share:.0f}%")
    if line.note:
        parts.append(line.note)
    return " | ".join(parts)


def share(costs: Iterable[tuple[int, str, float]], me: str, since_ms: int) -> float | None:
    """This device's part of the cost of (ts, device, cost) rows at or after `since_ms`; None if no cost."""
    mine = total = 0.0
    for ts, dev, cost in costs:
        if ts >= since_ms and cost > 0:
            total += cost
            if dev == me:
                mine += cost
    return mine / total if total > 0 else None
