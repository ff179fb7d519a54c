"""The peer table: states, jittered exponential backoff (capped), one address per device."""

from __future__ import annotations

import random

from meshd.clock import FakeClock
from meshd.sync.peers import PeerTable

A = "a" * 32


def s(clock: FakeClock) -> float:
    return clock.now_ms() / 1000


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    clock = FakeClock(1_000_000)
    t = PeerTable(30, backoff_base=0.5, backoff_cap=15, rng=random.Random(1))
    t.add("10.0.0.2:47474", "static", s(clock))
    delays = []
    for _ in range(10):
        assert [p.address for p in t.due(s(clock))] == ["10.0.0.2:47474"]
        t.started("10.0.0.2:47474", s(clock))
        assert t.due(s(clock)) == []  # busy
        d = t.failed("10.0.0.2:47474", "UNAVAILABLE", s(clock))
        delays.append(d)
        assert t.due(s(clock)) == []
        clock.advance(int(d * 1000) + 1)
    assert all(0.25 <= d <= 15 for d in delays)
    assert delays[3] > delays[0] and max(delays) <= 15 and delays[-1] >= 7.5
    p = t.get("10.0.0.2:47474")
    assert p is not None and p.state == "offline" and p.failures == 10 and p.last_error == "UNAVAILABLE"


def test_success_resets_and_schedules_a_jittered_interval() -> None:
    clock = FakeClock(0)
    t = PeerTable(30, rng=random.Random(2))
    t.add("h:1", "mdns", 0)
    t.started("h:1", 0)
    t.failed("h:1", "x", 0)
    t.started("h:1", 1)
    t.succeeded("h:1", A, 1)
    p = t.get("h:1")
    assert p is not None and p.state == "online" and p.failures == 0 and p.device_id == A
    assert 1 + 24 <= p.next_attempt <= 1 + 36
    assert t.due(20) == [] and t.wait(20) > 0
    clock.advance(40_000)
    assert [q.address for q in t.due(s(clock))] == ["h:1"]


def test_hint_brings_an_offline_peer_forward() -> None:
    t = PeerTable(30, backoff_base=10, backoff_cap=10, rng=random.Random(3))
    t.add("h:1", "known", 0)
    t.started("h:1", 0)
    t.failed("h:1", "down", 0)
    assert t.due(1) == []
    t.add("h:1", "mdns", 2)  # an mDNS hint: dial again now (liveness still comes from the dial)
    assert [p.address for p in t.due(2)] == ["h:1"]


def test_one_address_per_device_and_forgotten_never_dialled() -> None:
    t = PeerTable(30, rng=random.Random(4))
    for a in ("10.0.0.2:1", "192.168.1.2:1"):
        t.add(a, "mdns", 0, A)
    assert len(t.due(0)) == 1
    t.started("10.0.0.2:1", 0)
    t.succeeded("10.0.0.2:1", A, 0)
    assert t.get("192.168.1.2:1") is None  # the duplicate non-static address is merged away
    assert t.forget(A) == 1
    assert t.due(1000) == []
    t.add("10.9.9.9:1", "inbound", 1000, A)
    assert t.due(1000) == [] and t.get("10.9.9.9:1").state == "forgotten"  # type: ignore[union-attr]


def test_self_is_never_dialled_again() -> None:
    t = PeerTable(30)
    t.add("127.0.0.1:47474", "static", 0)
    t.started("127.0.0.1:47474", 0)
    t.refuse("127.0.0.1:47474", "self", "that peer is this device itself")
    assert t.due(10_000) == []
