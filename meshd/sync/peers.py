"""The peer table: where peers are, whether they answer, and when to dial them next. Pure.

Addresses come from static config, mDNS hints, earlier runs ("known") and inbound calls; liveness
only from gRPC results. Failed peers back off exponentially with jitter, capped, and are never
dropped (a paired machine that sleeps for a week is dialled again when it wakes).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

SOURCES = ("static", "known", "mdns", "inbound")


@dataclass
class Peer:
    """One dialable address and what we know about the device behind it."""

    address: str
    source: str
    device_id: str | None = None
    state: str = "new"  # new | online | offline | self | forgotten
    last_success: float = 0.0
    last_attempt: float = 0.0
    last_error: str = ""
    failures: int = 0
    next_attempt: float = 0.0
    records_behind: int = 0
    busy: bool = False

    @property
    def dialable(self) -> bool:
        return self.state not in ("self", "forgotten")


class PeerTable:
    """Peers by address; `now` is always passed in (seconds, any monotonic origin)."""

    def __init__(self, interval: float, *, backoff_base: float = 0.5, backoff_cap: float = 15.0,
                 rng: random.Random | None = None) -> None:
        self.interval = interval
        self.base = backoff_base
        self.cap = max(backoff_cap, backoff_base)
        self.rng = rng or random.Random()
        self.peers: dict[str, Peer] = {}
        self.refused: set[str] = set()  # forgotten device ids

    def add(self, address: str, source: str, now: float, device_id: str | None = None) -> Peer:
        """Learn an address (a hint: an offline peer is dialled soon again)."""
        p = self.peers.get(address)
        if p is None:
            p = self.peers[address] = Peer(address, source, device_id, next_attempt=now)
        else:
            if SOURCES.index(source) < SOURCES.index(p.source):
                p.source = source
            if device_id and not p.device_id:
                p.device_id = device_id
            if p.state == "offline":
                p.next_attempt = min(p.next_attempt, now)
        if p.device_id in self.refused:
            p.state = "forgotten"
        return p

    def get(self, address: str) -> Peer | None:
        return self.peers.get(address)

    def by_device(self, device_id: str) -> Peer | None:
        """The best address of a device: online first, then most recently successful."""
        cands = [p for p in self.peers.values() if p.device_id == device_id and p.dialable]
        return max(cands, key=lambda p: (p.state == "online", p.last_success), default=None)

    def due(self, now: float) -> list[Peer]:
        """Peers to dial now: dialable, idle, their time has come; one address per device."""
        out: list[Peer] = []
        seen: set[str] = set()
        ready = [p for p in self.peers.values() if p.dialable and not p.busy and p.next_attempt <= now]
        ready.sort(key=lambda p: (p.state != "online", -p.last_success, SOURCES.index(p.source)))
        for p in ready:
            if p.device_id:
                if p.device_id in seen:
                    continue
                seen.add(p.device_id)
            out.append(p)
        return out

    def wait(self, now: float) -> float:
        """Seconds until the next peer is due (the interval when there is none)."""
        nxt = [p.next_attempt for p in self.peers.values() if p.dialable and not p.busy]
        return max(0.0, min(nxt, default=now + self.interval) - now)

    def started(self, address: str, now: float) -> None:
        p = self.peers[address]
        p.busy = True
        p.last_attempt = now

    def succeeded(self, address: str, device_id: str, now: float) -> None:
        """A round worked: online, next round after a jittered interval."""
        p = self.peers[address]
        p.busy = False
        p.device_id = device_id
        p.state = "online"
        p.failures = 0
        p.last_error = ""
        p.last_success = now
        p.next_attempt = now + self.interval * self.rng.uniform(0.8, 1.2)
        # The same device learnt under another, non-static address is the same peer: keep one.
        for a in [a for a, q in self.peers.items() if a != address and q.device_id == device_id
                  and q.source != "static" and q.state != "online"]:
            del self.peers[a]

    def failed(self, address: str, error: str, now: float) -> float:
        """A round failed: offline, next attempt after a capped, jittered exponential backoff."""
        p = self.peers[address]
        p.busy = False
        p.failures += 1
        p.last_error = error[:300]
        if p.dialable:
            p.state = "offline"
        delay = min(self.cap, self.base * 2 ** (p.failures - 1)) * self.rng.uniform(0.5, 1.0)
        p.next_attempt = now + delay
        return delay

    def refuse(self, address: str, state: str, error: str) -> None:
        """Stop dialling an address for good: it is ourselves ("self") or a forgotten device."""
        p = self.peers[address]
        p.busy = False
        p.state = state
        p.last_error = error[:300]

    def forget(self, device_id: str) -> int:
        """Refuse a device from now on; returns the entries marked."""
        self.refused.add(device_id)
        n = 0
        for p in self.peers.values():
            if p.device_id == device_id:
                p.state = "forgotten"
                n += 1
        return n

    def online(self) -> list[Peer]:
        return [p for p in self.peers.values() if p.state == "online"]
