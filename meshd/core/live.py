"""The live monitor's model: one immutable snapshot of the mesh, and the time-dependent math on it. Pure.

A snapshot holds instants (block end, reading time, last sync), never ages: the renderer computes
ages, time left and the projection from `now`, so a snapshot stays valid between reads and the
view can tick every second without touching the replica.

Rate-limit readings and the plan are optional features: `None` means "this build or replica has
no such data" and `()` / a plan of `None` means "none recorded yet"; the view says which.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timezone, tzinfo

from meshd.core import blocks as core_blocks
from meshd.core.entry import UsageRow

WINDOW_MS = {"5h": 5 * 3_600_000, "7d": 7 * 86_400_000, "7d opus": 7 * 86_400_000, "7d sonnet": 7 * 86_400_000}
# Official-limit colours: below WARN_PCT green, below HIGH_PCT yellow, else red.
WARN_PCT = 70.0
HIGH_PCT = 90.0
BLOCK_LOOKBACK_MS = 3 * 86_400_000  # rows read to find the active block (as `meshctl status`)


@dataclass(frozen=True, slots=True)
class Totals:
    tokens: int = 0
    cost: float = 0.0

    def __add__(self, other: Totals) -> Totals:
        return Totals(self.tokens + other.tokens, self.cost + other.cost)


@dataclass(frozen=True, slots=True)
class DeviceShare:
    """One device's part of the active block."""

    name: str
    is_self: bool
    tokens: int
    cost: float
    share: float  # of the block's cost (tokens, entries when that is 0); shares sum to 1
    entries: int


@dataclass(frozen=True, slots=True)
class ActiveBlock:
    start_ms: int
    end_ms: int
    first_ms: int
    last_ms: int
    entries: int
    tokens: int
    cost: float
    cost_per_hour: float | None  # None while the block has a single instant of activity
    tokens_per_minute: float | None
    devices: tuple[DeviceShare, ...]
    overlap: bool
    models: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Split:
    """The seed's Local / Remote / Total lines for the active block."""

    local: Totals
    remote: Totals
    remote_hosts: int

    @property
    def total(self) -> Totals:
        return self.local + self.remote


@dataclass(frozen=True, slots=True)
class LimitReading:
    """The freshest official reading of one window ("5h" or "7d") from any machine."""

    window: str
    used_pct: float
    resets_at_ms: int | None
    recorded_ms: int
    device: str


@dataclass(frozen=True, slots=True)
class Peer:
    name: str
    device_id: str
    state: str  # online, offline, backoff, new, ...
    last_sync_ms: int | None
    address: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    price_usd: float | None  # None for "api" (pay as you go)


@dataclass(frozen=True)
class Snapshot:
    """Everything the live view shows, read at `taken_ms`."""

    taken_ms: int
    device_name: str
    device_id: str
    block: ActiveBlock | None
    split: Split | None
    today: str
    today_local: Totals
    today_remote: Totals
    month_cost: float | None = None  # API-equivalent cost of the month so far (for the plan line)
    limits: tuple[LimitReading, ...] | None = None  # None: this replica records no readings
    plan: Plan | None = None
    plan_known: bool = False  # False: this build has no plan setting yet
    daemon: bool = False
    peers: tuple[Peer, ...] | None = None  # None: no daemon to ask
    devices: int = 1  # devices the replica knows (self included)
    feed: str = "poll"  # "watch" (daemon's stream) or "poll" (re-reading the replica)
    tz: tzinfo = timezone.utc  # the zone times are shown in
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def today_total(self) -> Totals:
        return self.today_local + self.today_remote


def active_block(rows: Iterable[UsageRow], *, me: str, now_ms: int, session_hours: float = 5.0
                 ) -> tuple[ActiveBlock | None, Split | None]:
    """The active block over the merged Claude rows (sorted by ts) and its local/remote split."""
    length = core_blocks.session_length_ms(session_hours)
    items = core_blocks.identify((r for r in rows if r.provider == "claude"), length)
    b = next((x for x in reversed(items) if not isinstance(x, tuple)), None)
    if b is None or not core_blocks.is_active(b, now_ms):
        return None, None
    rate = core_blocks.burn_rate(b)
    devs = tuple(
        DeviceShare(d["device"], d["device"] == me, int(d["totalTokens"]), float(d["costUSD"]), float(d["share"]),
                    int(d["entries"]))
        for d in core_blocks.render_block(b, now_ms)["devices"]
    )
    block = ActiveBlock(
        start_ms=b.start, end_ms=b.end, first_ms=b.first, last_ms=b.last, entries=b.n, tokens=b.total,
        cost=b.cost, cost_per_hour=None if rate is None else rate["costPerHour"],
        tokens_per_minute=None if rate is None else rate["tokensPerMinute"], devices=devs,
        overlap=core_blocks.overlap(b.devices), models=tuple(b.models),
    )
    local = Totals()
    remote = Totals()
    for d in devs:
        if d.is_self:
            local = local + Totals(d.tokens, d.cost)
        else:
            remote = remote + Totals(d.tokens, d.cost)
    return block, Split(local, remote, sum(1 for d in devs if not d.is_self))


def today_split(per_device: Mapping[str, Totals], me: str) -> tuple[Totals, Totals]:
    """(local, remote) from today's totals per device name."""
    local = per_device.get(me, Totals())
    remote = Totals()
    for name, t in per_device.items():
        if name != me:
            remote = remote + t
    return local, remote


# --- time-dependent math (the renderer calls these with `now`) ---


def is_live(block: ActiveBlock | None, now_ms: int) -> bool:
    """The block is still the active one at `now` (ccusage: now < end and silence < its length)."""
    return block is not None and now_ms < block.end_ms and now_ms - block.last_ms < block.end_ms - block.start_ms


def minutes_left(block: ActiveBlock, now_ms: int) -> int:
    """Whole minutes until the block ends, rounded as ccusage's projection does (never negative)."""
    return max(0, int(math.floor((block.end_ms - now_ms) / 60000 + 0.5)))


def projection(block: ActiveBlock, now_ms: int) -> tuple[float, int] | None:
    """(cost, tokens) at the block's end at the current burn rate; None without a rate."""
    if block.cost_per_hour is None or block.tokens_per_minute is None:
        return None
    left = minutes_left(block, now_ms)
    return block.cost + block.cost_per_hour / 60 * left, int(block.tokens + block.tokens_per_minute * left + 0.5)


def elapsed_fraction(block: ActiveBlock, now_ms: int) -> float:
    span = block.end_ms - block.start_ms
    return 0.0 if span <= 0 else min(1.0, max(0.0, (now_ms - block.start_ms) / span))


def limit_level(pct: float) -> str:
    """"ok" (green), "warn" (yellow) or "high" (red) for an official percentage."""
    if not math.isfinite(pct) or pct >= HIGH_PCT:
        return "high"
    return "warn" if pct >= WARN_PCT else "ok"


def reading_expired(r: LimitReading, now_ms: int) -> bool:
    """The window the reading belongs to has reset since: its percentage no longer applies."""
    return r.resets_at_ms is not None and r.resets_at_ms <= now_ms


def window_elapsed(r: LimitReading, now_ms: int) -> float | None:
    """How much of the reading's window has passed at `now` (0..1): the pace its percentage compares to."""
    length = WINDOW_MS.get(r.window)
    if length is None or r.resets_at_ms is None or reading_expired(r, now_ms):
        return None
    return min(1.0, max(0.0, (now_ms - (r.resets_at_ms - length)) / length))


def freshest(readings: Iterable[LimitReading]) -> tuple[LimitReading, ...]:
    """Per window, the reading recorded last (ties: the higher percentage), "5h", "7d", then the rest."""
    best: dict[str, LimitReading] = {}
    for r in readings:
        cur = best.get(r.window)
        if cur is None or (r.recorded_ms, r.used_pct) > (cur.recorded_ms, cur.used_pct):
            best[r.window] = r
    order = {"5h": 0, "7d": 1}
    return tuple(sorted(best.values(), key=lambda r: (order.get(r.window, 9), r.window)))


def plan_multiple(plan: Plan | None, month_cost: float | None) -> float | None:
    """API-equivalent cost of the month as a multiple of the plan's price (None when unknown)."""
    if plan is None or plan.price_usd is None or not plan.price_usd or month_cost is None:
        return None
    return month_cost / plan.price_usd


def ago(ms: int) -> str:
    """A short age: 5s, 3m, 2h05m, 4d."""
    s = max(0, ms // 1000)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d"


def hm(minutes: int) -> str:
    """Minutes as 3h07m / 42m."""
    minutes = max(0, int(minutes))
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def peers_summary(peers: Sequence[Peer] | None) -> tuple[int, int]:
    """(online, not online) peers."""
    if not peers:
        return 0, 0
    on = sum(1 for p in peers if p.state == "online")
    return on, len(peers) - on
