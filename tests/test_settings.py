"""Replicated settings: body checks, last writer wins by (hlc, origin), order-independent on real SQLite."""

from __future__ import annotations

import sqlite3

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshd.core import hlc
from meshd.core import settings as cs
from meshd.core.oplog import Batch, Record
from meshd.errors import LogRuleError
from meshd.store import settings as ss
from meshd.store.db import init_schema
from meshd.store.forget import forget_body
from meshd.store.replica import Replica, transaction

A, B, C = "a" * 32, "b" * 32, "c" * 32
T0 = 1_767_225_600_000


def fresh(device: str = A) -> Replica:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    init_schema(conn)
    return Replica(conn, device, 1, lambda e: 0.0)


def rec(key: str, value: object, h: int) -> bytes:
    return orjson.dumps({"key": key, "value": value, "hlc": h})


def test_make_checks_keys_and_values():
    assert cs.make("plan", "max5x", 5).value == "max5x"
    assert cs.make("budget:-home-me-proj", 50, 5).value == 50.0
    assert cs.make("budget:x", None, 5).value is None
    assert cs.make("theme", "dark", 5).value == "dark"  # a newer meshd's key
    for key, value in [("plan", "gold"), ("plan", 5), ("budget:x", 0), ("budget:x", -1), ("budget:x", 1e10),
                       ("budget:x", "5"), ("budget:x", True), ("budget:x", float("inf")), ("budget:", 5),
                       ("budget: x", 5), ("budget:a\nb", 5), ("budget:" + "x" * 256, 5), ("", 1),
                       ("PLAN", "pro"), ("a b", 1), (5, 1), ("theme", "x" * 1001), ("theme", [1]),
                       ("theme", {"a": 1}), ("theme", 1 << 60)]:
        with pytest.raises(ValueError):
            cs.make(key, value, 5)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [
    b"", b"junk", b"[]", b"{}", b'{"key":"plan","value":"pro"}', rec("plan", "pro", 0), rec("plan", "pro", -1),
    rec("plan", "pro", hlc.MAX_HLC + 1), orjson.dumps({"key": "plan", "value": "pro", "hlc": True}),
    orjson.dumps({"key": "plan", "value": "pro", "hlc": 1.5}), rec("plan", "gold", 1), rec("budget:x", -5, 1),
    rec("x" * 300, 1, 1), b"{" + b" " * 3000 + b"}",
])
def test_hostile_setting_bodies_are_refused(bad: bytes):
    with pytest.raises(LogRuleError):
        cs.parse_body(bad)


def test_put_and_read_plan_and_budgets():
    r = fresh()
    with transaction(r.conn):
        ss.put(r, "plan", "max5x", T0)
        ss.put(r, cs.budget_key("proj-a"), 100, T0)
        ss.put(r, cs.budget_key("proj-b"), 50.5, T0)
    assert ss.plan(r.conn) == "max5x"
    assert ss.budgets(r.conn) == {"proj-a": 100.0, "proj-b": 50.5}
    with transaction(r.conn):
        ss.put(r, "plan", "max20x", T0 - 10_000)  # the wall clock went back: still the later write
        ss.put(r, cs.budget_key("proj-a"), None, T0)  # removal
    assert ss.plan(r.conn) == "max20x"
    assert ss.budgets(r.conn) == {"proj-b": 50.5}
    with pytest.raises(ValueError):
        with transaction(r.conn):
            ss.put(r, "plan", "platinum", T0)
    assert r.held(A, 1) == 5


def test_a_local_write_beats_every_write_seen_even_from_a_clock_ahead():
    a = fresh(A)
    ahead = hlc.pack(T0 + 3_600_000, 0)  # B's clock is an hour ahead
    with transaction(a.conn):
        a.apply_batch(Batch(B, 1, 0, 1, (Record(1, "setting", rec("plan", "pro", ahead)),)))
        s = ss.put(a, "plan", "api", T0)
    assert s.hlc > ahead
    assert ss.plan(a.conn) == "api"


def test_equal_stamps_are_broken_by_device_id():
    a = fresh(A)
    h = hlc.pack(T0, 0)
    with transaction(a.conn):
        a.apply_batch(Batch(C, 1, 0, 1, (Record(1, "setting", rec("plan", "max20x", h)),)))
        a.apply_batch(Batch(B, 1, 0, 1, (Record(1, "setting", rec("plan", "pro", h)),)))
    assert ss.current(a.conn)["plan"] == ("max20x", h, C)


def test_a_forgotten_devices_writes_drop_out():
    a = fresh(A)
    with transaction(a.conn):
        ss.put(a, "plan", "pro", T0)
        a.apply_batch(Batch(B, 1, 0, 1, (Record(1, "setting", rec("plan", "max5x", hlc.pack(T0 + 5, 0))),)))
    assert ss.plan(a.conn) == "max5x"
    with transaction(a.conn):
        a.append_local("forget", [forget_body(B, False, T0)])
    assert ss.plan(a.conn) == "pro"


KEYS = ["plan", "budget:p"]
VALUES = {"plan": ["pro", "max5x", "max20x", "api", None], "budget:p": [1.0, 2.5, 100.0, None]}
write = st.tuples(st.sampled_from([A, B, C]), st.sampled_from(KEYS), st.integers(0, 4), st.integers(1, 4))


@settings(max_examples=150, deadline=None)
@given(st.lists(write, min_size=1, max_size=25), st.randoms(use_true_random=False))
def test_every_replica_agrees_whatever_the_arrival_order(writes, rnd):
    """Logs delivered in random interleavings and chunkings give the same settings on every replica,
    equal to the rule: per key, the highest (hlc, origin) among each origin's last write by hlc."""
    logs: dict[str, list[Record]] = {A: [], B: [], C: []}
    for origin, key, vi, h in writes:  # small hlc range: plenty of ties
        vals = VALUES[key]
        logs[origin].append(Record(len(logs[origin]) + 1, "setting", rec(key, vals[vi % len(vals)], h)))
    # The rule, computed directly.
    latest: dict[tuple[str, str], tuple[int, object]] = {}
    for origin, recs in logs.items():
        for r in recs:
            d = orjson.loads(r.body)
            cur = latest.get((origin, d["key"]))
            if cur is None or d["hlc"] >= cur[0]:
                latest[(origin, d["key"])] = (d["hlc"], d["value"])
    expect: dict[str, tuple[object, int, str]] = {}
    best: dict[str, tuple[int, str, object]] = {}
    for (origin, key), (h, v) in latest.items():
        if key not in best or (h, origin) > best[key][:2]:
            best[key] = (h, origin, v)
    for key, (h, origin, v) in best.items():
        if v is not None:
            expect[key] = (v, h, origin)
    results = []
    for _ in range(3):
        r = fresh("d" * 32)
        chunks = []
        for origin, recs in logs.items():
            i = 0
            while i < len(recs):
                n = rnd.randint(1, 3)
                chunks.append((origin, recs[i : i + n]))
                i += n
        # random interleaving that keeps each log's order
        pending = {o: [c for c in chunks if c[0] == o] for o in logs}
        while any(pending.values()):
            o = rnd.choice([k for k, v in pending.items() if v])
            _o, part = pending[o].pop(0)
            with transaction(r.conn):
                r.apply_batch(Batch(o, 1, part[0].seq - 1, part[-1].seq, tuple(part)))
        results.append(ss.current(r.conn))
    assert results[0] == results[1] == results[2] == expect


def test_a_forgotten_devices_far_future_clock_stops_driving_ours():
    a = fresh(A)
    with transaction(a.conn):
        a.apply_batch(Batch(B, 1, 0, 1, (Record(1, "setting", rec("plan", "pro", hlc.MAX_HLC)),)))
    with pytest.raises(ValueError):  # nothing can sort after the largest stamp: the write is refused
        with transaction(a.conn):
            ss.put(a, "plan", "api", T0)
    with transaction(a.conn):
        a.append_local("forget", [forget_body(B, False, T0)])
        s = ss.put(a, "plan", "api", T0)
    assert hlc.unpack(s.hlc) == (T0, 0) and ss.plan(a.conn) == "api"
