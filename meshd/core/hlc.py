"""Hybrid logical clocks (Kulkarni et al.), pure: the wall time is always passed in.

A timestamp is (wall_ms, counter) packed into one integer, `wall_ms << 16 | counter`, so it sorts
as a number, fits SQLite's signed INTEGER and orjson. `send` stamps a local event so that it sorts
after every timestamp this device has seen; `receive` folds in a peer's timestamp. Last-writer-wins
registers compare (hlc, origin): two replicas that hold the same writes pick the same winner
whatever order the writes arrived in.
"""

from __future__ import annotations

COUNTER_BITS = 16
MAX_COUNTER = (1 << COUNTER_BITS) - 1
MAX_WALL_MS = (1 << 46) - 1  # year 4199; keeps the packed value below 2**62
MAX_HLC = (MAX_WALL_MS << COUNTER_BITS) | MAX_COUNTER


def pack(wall_ms: int, counter: int = 0) -> int:
    """One sortable integer from (wall_ms, counter); ValueError when either is out of range."""
    if not 0 <= wall_ms <= MAX_WALL_MS or not 0 <= counter <= MAX_COUNTER:
        raise ValueError(f"hlc out of range: ({wall_ms}, {counter})")
    return (wall_ms << COUNTER_BITS) | counter


def unpack(hlc: int) -> tuple[int, int]:
    """(wall_ms, counter) of a packed timestamp."""
    return hlc >> COUNTER_BITS, hlc & MAX_COUNTER


def valid(hlc: object) -> bool:
    """True for a packed timestamp in range (bools are not timestamps)."""
    return isinstance(hlc, int) and not isinstance(hlc, bool) and 0 < hlc <= MAX_HLC


def _advance(wall: int, counter: int, now_ms: int) -> int:
    """The smallest timestamp strictly after (wall, counter) and not before `now_ms`."""
    now_ms = max(0, min(now_ms, MAX_WALL_MS))
    if now_ms > wall:
        return pack(now_ms, 0)
    if counter < MAX_COUNTER:
        return pack(wall, counter + 1)
    if wall < MAX_WALL_MS:  # the counter overflowed: borrow the next millisecond
        return pack(wall + 1, 0)
    raise ValueError("hlc exhausted")


def send(last: int, now_ms: int) -> int:
    """The timestamp of a local event, given the latest timestamp seen (0 if none) and the wall time."""
    wall, counter = unpack(max(last, 0))
    return _advance(wall, counter, now_ms)


def receive(last: int, remote: int, now_ms: int) -> int:
    """The local clock after seeing a peer's timestamp: after both, and not before the wall time."""
    wall, counter = unpack(max(last, remote, 0))
    return _advance(wall, counter, now_ms)
