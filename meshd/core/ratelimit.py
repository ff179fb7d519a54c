"""Official rate-limit readings (Claude Code's statusline `rate_limits`), as log records. Pure.

A `ratelimit` record body is JSON:

    {"at": 1767225600000,                 # when the reading was observed, epoch ms
     "source": "statusline",              # where it came from (short token)
     "windows": {"five_hour": {"used_percentage": 23.5, "resets_at": 1767240000},
                 "seven_day": {"used_percentage": 41.2, "resets_at": 1767744000}}}

`resets_at` is epoch seconds, as Claude Code sends it (null when unknown). Bodies come from peers,
so `parse_body` bounds every field and raises LogRuleError on anything else; window names it does
not know are ignored (a newer meshd may record more windows). `from_statusline` is the lenient
reader of Claude Code's stdin: it never raises, it drops what it cannot use.
"""

from __future__ import annotations

import math
from collections import namedtuple

from meshd.errors import LogRuleError

# Plain named tuples, no dataclasses: `meshctl statusline` imports this module on every refresh.

HOUR_MS = 3_600_000
# Window name -> its length in ms (the window began at resets_at - length).
WINDOWS: dict[str, int] = {
    "five_hour": 5 * HOUR_MS,
    "seven_day": 7 * 24 * HOUR_MS,
    "seven_day_opus": 7 * 24 * HOUR_MS,
    "seven_day_sonnet": 7 * 24 * HOUR_MS,
}
MAX_BODY = 4096
MAX_PCT = 1000.0  # Claude Code has sent 105; anything far beyond is garbage
MAX_AT_MS = (1 << 46) - 1
MAX_RESETS_S = MAX_AT_MS // 1000
_SOURCE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-.")


class Window(namedtuple("Window", "name used_percentage resets_at")):
    """One window of a reading: name, used_percentage, resets_at (epoch seconds or None)."""

    __slots__ = ()
    name: str
    used_percentage: float
    resets_at: int | None

    def starts_ms(self) -> int | None:
        """When this window began (resets_at minus its length), epoch ms."""
        if self.resets_at is None:
            return None
        return self.resets_at * 1000 - WINDOWS[self.name]


class Observation(namedtuple("Observation", "at_ms source windows")):
    """A reading: when it was observed (epoch ms), where from, and its windows (sorted by name)."""

    __slots__ = ()
    at_ms: int
    source: str
    windows: tuple[Window, ...]

    def same_values(self, other: Observation | None) -> bool:
        """True when `other` carries the same windows, percentages and reset times (any `at`)."""
        return other is not None and sorted(self.windows, key=lambda w: w.name) == sorted(
            other.windows, key=lambda w: w.name
        )


RECORD_EVERY_MS = 15 * 60_000  # an unchanged reading is recorded again after this long (its age stays honest)


def should_record(last: Observation | None, obs: Observation, min_interval_ms: int = RECORD_EVERY_MS) -> bool:
    """Whether `obs` goes into the log after this device's `last` recorded reading: when it changed,
    or repeats it after `min_interval_ms`; never when it is not newer (a clock that went back)."""
    if last is None:
        return True
    if obs.at_ms <= last.at_ms:
        return False
    return not (obs.same_values(last) and obs.at_ms - last.at_ms < min_interval_ms)


def elapsed_percentage(window: str, resets_at_ms: int | None, now_ms: int) -> float | None:
    """How much of the window has passed at `now` (0-100), to set against the percentage used:
    using more than has elapsed means running out before the reset. None when unknown."""
    length = WINDOWS.get(window)
    if length is None or resets_at_ms is None:
        return None
    return min(100.0, max(0.0, 100.0 * (now_ms - (resets_at_ms - length)) / length))


def split(used_percentage: float, costs: dict[str, float]) -> list[dict[str, object]]:
    """Each device's part of a window's percentage, in proportion to its cost since the window began
    (most first); empty when nobody has cost."""
    total = sum(c for c in costs.values() if c > 0)
    if total <= 0:
        return []
    out = [{"device": d, "share": c / total, "percentagePoints": used_percentage * c / total}
           for d, c in costs.items() if c > 0]
    out.sort(key=lambda x: (-x["share"], x["device"]))  # type: ignore[operator]
    return out


def to_body(obs: Observation) -> bytes:
    """The record body of an observation (sorted keys: equal readings give equal bytes)."""
    import orjson

    return orjson.dumps(
        {
            "at": obs.at_ms,
            "source": obs.source,
            "windows": {w.name: {"used_percentage": w.used_percentage, "resets_at": w.resets_at} for w in obs.windows},
        },
        option=orjson.OPT_SORT_KEYS,
    )


def _int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def parse_body(body: bytes) -> Observation:
    """Validate a `ratelimit` record body from any peer; LogRuleError when it breaks the format."""
    from meshd.core.oplog import load_object

    d = load_object(body, "ratelimit", MAX_BODY)
    at, source, windows = d.get("at"), d.get("source", "statusline"), d.get("windows")
    if not _int(at) or not 0 < at <= MAX_AT_MS:  # type: ignore[operator]
        raise LogRuleError("ratelimit record: 'at' must be epoch milliseconds")
    if not isinstance(source, str) or not 0 < len(source) <= 32 or not set(source) <= _SOURCE_CHARS:
        raise LogRuleError("ratelimit record: 'source' must be a short lowercase token")
    if not isinstance(windows, dict) or len(windows) > 16:
        raise LogRuleError("ratelimit record: 'windows' must be an object of at most 16 windows")
    out: list[Window] = []
    for name, w in windows.items():
        if len(name) > 64:
            raise LogRuleError("ratelimit record: window name too long")
        if not isinstance(w, dict):
            raise LogRuleError("ratelimit record: a window must be an object")
        pct, resets = w.get("used_percentage"), w.get("resets_at")
        if isinstance(pct, bool) or not isinstance(pct, (int, float)) or not 0 <= pct <= MAX_PCT:
            raise LogRuleError("ratelimit record: 'used_percentage' must be a number in [0, 1000]")
        if resets is not None and (not _int(resets) or not 0 < resets <= MAX_RESETS_S):
            raise LogRuleError("ratelimit record: 'resets_at' must be epoch seconds or null")
        if name in WINDOWS:  # unknown windows: a newer meshd's; kept in the log, not shown here
            out.append(Window(name, float(pct), resets))
    return Observation(at, source, tuple(sorted(out, key=lambda x: x.name)))


def _resets_seconds(v: object) -> int | None:
    """Claude Code sends epoch seconds; the OAuth endpoint an ISO string. Milliseconds are tolerated."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)) and math.isfinite(v) and v > 0:
        s = int(v / 1000) if v > 1e11 else int(v)
        return s if 0 < s <= MAX_RESETS_S else None
    if isinstance(v, str) and 0 < len(v) <= 64:
        from datetime import datetime

        try:
            dt = datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if dt.tzinfo is None:
            return None
        s = int(dt.timestamp())
        return s if 0 < s <= MAX_RESETS_S else None
    return None


def from_statusline(rate_limits: object, at_ms: int, source: str = "statusline") -> Observation | None:
    """The observation in a statusline payload's `rate_limits`, or None when it carries none usable."""
    if not isinstance(rate_limits, dict):
        return None
    out: list[Window] = []
    for name in WINDOWS:
        w = rate_limits.get(name)
        if not isinstance(w, dict):
            continue
        pct = w.get("used_percentage", w.get("utilization"))
        if isinstance(pct, bool) or not isinstance(pct, (int, float)) or not math.isfinite(pct):
            continue
        if not 0 <= pct <= MAX_PCT:
            continue
        out.append(Window(name, round(float(pct), 3), _resets_seconds(w.get("resets_at"))))
    if not out or not 0 < at_ms <= MAX_AT_MS:
        return None
    return Observation(at_ms, source, tuple(sorted(out, key=lambda x: x.name)))
