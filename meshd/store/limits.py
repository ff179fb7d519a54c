"""Official rate-limit readings materialized from `ratelimit` records, and the freshest per window.

The `ratelimits` table keeps, per (device, window), that device's latest reading (by observation
time; equal times: the later record of its log). Reads pick the freshest reading of each window
across all devices that are not forgotten, so a machine that sleeps still shows what another one
saw a minute ago.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from meshd.core.ratelimit import RECORD_EVERY_MS, WINDOWS, Observation, Window, parse_body, should_record, to_body

FUTURE_SKEW_MS = 10 * 60_000  # readings stamped further ahead than this (a wrong clock) are ignored


@dataclass(frozen=True, slots=True)
class Fresh:
    """The freshest reading of one window."""

    window: str
    used_percentage: float
    resets_at_ms: int | None
    at_ms: int
    age_ms: int
    origin: str
    source: str
    expired: bool  # the window has reset since: the percentage no longer applies

    @property
    def starts_ms(self) -> int | None:
        return None if self.resets_at_ms is None else self.resets_at_ms - WINDOWS[self.window]

    def to_json(self, names: dict[str, str] | None = None) -> dict[str, object]:
        return {
            "window": self.window,
            "usedPercentage": self.used_percentage,
            "resetsAt": self.resets_at_ms,
            "observedAt": self.at_ms,
            "ageSeconds": self.age_ms // 1000,
            "deviceId": self.origin,
            "device": (names or {}).get(self.origin, self.origin[:8]),
            "source": self.source,
            "expired": self.expired,
        }


def apply_ratelimit(conn: sqlite3.Connection, origin: str, body: bytes) -> None:
    """Materialize one `ratelimit` record (LogRuleError when the body is malformed)."""
    obs = parse_body(body)
    conn.executemany(
        "INSERT INTO ratelimits(origin, win, at, used_pct, resets_at, source) VALUES(?,?,?,?,?,?)"
        " ON CONFLICT(origin, win) DO UPDATE SET at=excluded.at, used_pct=excluded.used_pct,"
        " resets_at=excluded.resets_at, source=excluded.source WHERE excluded.at >= ratelimits.at",
        [
            (origin, w.name, obs.at_ms, w.used_percentage, None if w.resets_at is None else w.resets_at * 1000,
             obs.source)
            for w in obs.windows
        ],
    )


def freshest(conn: sqlite3.Connection, now_ms: int) -> dict[str, Fresh]:
    """Window name -> the freshest reading from any device that is not forgotten."""
    out: dict[str, Fresh] = {}
    for win, at, pct, resets, origin, source in conn.execute(
        "SELECT win, at, used_pct, resets_at, origin, source FROM ratelimits"
        " WHERE at <= ? AND origin NOT IN (SELECT device_id FROM forgotten)"
        " ORDER BY win, at DESC, origin",
        (now_ms + FUTURE_SKEW_MS,),
    ):
        if win in out or win not in WINDOWS:
            continue
        out[win] = Fresh(win, pct, resets, at, max(0, now_ms - at), origin, source,
                         resets is not None and resets <= now_ms)
    return out


def latest_own(conn: sqlite3.Connection, origin: str) -> Observation | None:
    """This device's latest recorded reading (every window of it), for change detection."""
    rows = conn.execute(
        "SELECT win, at, used_pct, resets_at, source FROM ratelimits WHERE origin=?", (origin,)
    ).fetchall()
    if not rows:
        return None
    at = max(r[1] for r in rows)
    wins = tuple(
        Window(w, pct, None if resets is None else resets // 1000)
        for w, a, pct, resets, _s in sorted(rows) if a == at
    )
    return Observation(at, rows[0][4], wins)


def record_reading(replica, obs: Observation, *, min_interval_ms: int = RECORD_EVERY_MS) -> bool:  # type: ignore[no-untyped-def]
    """Append `obs` to this device's log when core.ratelimit.should_record says so (a changed
    reading, or an unchanged one after `min_interval_ms`). Call inside a write transaction."""
    if not should_record(latest_own(replica.conn, replica.device_id), obs, min_interval_ms):
        return False
    replica.append_local("ratelimit", [to_body(obs)])
    return True
