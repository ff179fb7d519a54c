"""Hybrid logical clock: monotonic under any wall clock, ordered after everything seen."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshd.core import hlc


def test_pack_round_trips_and_sorts_like_the_pair():
    assert hlc.unpack(hlc.pack(1_767_225_600_000, 7)) == (1_767_225_600_000, 7)
    assert hlc.pack(5, hlc.MAX_COUNTER) < hlc.pack(6, 0)
    with pytest.raises(ValueError):
        hlc.pack(-1)
    with pytest.raises(ValueError):
        hlc.pack(1, hlc.MAX_COUNTER + 1)
    with pytest.raises(ValueError):
        hlc.pack(hlc.MAX_WALL_MS + 1)


def test_valid_rejects_bools_zero_negative_and_huge():
    assert hlc.valid(hlc.pack(1, 0))
    for bad in (True, False, 0, -5, hlc.MAX_HLC + 1, 1.5, "1", None):
        assert not hlc.valid(bad), bad


def test_send_follows_the_wall_clock_and_never_goes_back():
    a = hlc.send(0, 1000)
    assert hlc.unpack(a) == (1000, 0)
    b = hlc.send(a, 1000)  # same millisecond
    assert hlc.unpack(b) == (1000, 1)
    c = hlc.send(b, 400)  # the wall clock stepped back
    assert c > b and hlc.unpack(c) == (1000, 2)
    d = hlc.send(c, 2000)
    assert hlc.unpack(d) == (2000, 0)


def test_counter_overflow_borrows_the_next_millisecond():
    last = hlc.pack(1000, hlc.MAX_COUNTER)
    assert hlc.unpack(hlc.send(last, 1000)) == (1001, 0)


def test_exhausted_clock_raises():
    with pytest.raises(ValueError):
        hlc.send(hlc.MAX_HLC, 0)


def test_receive_orders_after_a_peer_ahead_of_our_wall_clock():
    remote = hlc.pack(50_000, 3)
    r = hlc.receive(hlc.pack(1000, 0), remote, 2000)
    assert r > remote and hlc.unpack(r) == (50_000, 4)
    assert hlc.send(r, 2000) > r


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 10_000), st.integers(1, hlc.MAX_HLC >> 20)), max_size=60))
def test_every_event_sorts_after_all_it_has_seen(events):
    clock = 0
    seen = 0
    for is_receive, now, remote in events:
        new = hlc.receive(clock, remote, now) if is_receive else hlc.send(clock, now)
        assert new > clock and new > (remote if is_receive else 0)
        assert hlc.unpack(new)[0] >= min(now, hlc.MAX_WALL_MS)
        seen = max(seen, new)
        clock = new
    assert clock == seen
