"""Official rate-limit readings: record format, hostile bodies, materialization, freshest per window."""

from __future__ import annotations

import sqlite3

import orjson
import pytest

from meshd.core import ratelimit as rl
from meshd.core.oplog import Batch, Record
from meshd.errors import LogRuleError
from meshd.store import limits
from meshd.store.db import init_schema
from meshd.store.forget import forget_body
from meshd.store.replica import Replica, transaction

A, B, C = "a" * 32, "b" * 32, "c" * 32
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
RESET_5H = T0 // 1000 + 3 * 3600
RESET_7D = T0 // 1000 + 4 * 86400


def fresh(device: str = A) -> Replica:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    init_schema(conn)
    return Replica(conn, device, 1, lambda e: 0.0)


def obs(at: int, five: float = 23.5, seven: float | None = 41.2) -> rl.Observation:
    w = [rl.Window("five_hour", five, RESET_5H)]
    if seven is not None:
        w.append(rl.Window("seven_day", seven, RESET_7D))
    return rl.Observation(at, "statusline", tuple(w))


def body(**kw: object) -> bytes:
    d: dict[str, object] = {"at": T0, "source": "statusline",
                            "windows": {"five_hour": {"used_percentage": 10, "resets_at": RESET_5H}}}
    d.update(kw)
    return orjson.dumps(d)


def test_body_round_trips():
    o = obs(T0)
    assert rl.parse_body(rl.to_body(o)) == o


@pytest.mark.parametrize(
    "bad",
    [
        b"", b"not json", b"[]", b"null", b'"x"', b"{}",
        body(at=0), body(at=-1), body(at=True), body(at=1.5), body(at="1"), body(at=1 << 50),
        body(source=""), body(source="X" * 10), body(source="a" * 33), body(source=5), body(source="a b"),
        body(windows=[]), body(windows="x"), body(windows={f"w{i}": {} for i in range(17)}),
        body(windows={"five_hour": 5}), body(windows={"x" * 65: {"used_percentage": 1}}),
        body(windows={"five_hour": {"used_percentage": -1}}),
        body(windows={"five_hour": {"used_percentage": 1000.5}}),
        body(windows={"five_hour": {"used_percentage": True}}),
        body(windows={"five_hour": {"used_percentage": "50"}}),
        body(windows={"five_hour": {}}),
        body(windows={"five_hour": {"used_percentage": 5, "resets_at": 1.5}}),
        body(windows={"five_hour": {"used_percentage": 5, "resets_at": -3}}),
        body(windows={"five_hour": {"used_percentage": 5, "resets_at": 1 << 60}}),
        b'{"at": 1e400}', b"x" * (rl.MAX_BODY + 1),
    ],
)
def test_hostile_bodies_are_refused(bad: bytes):
    with pytest.raises(LogRuleError):
        rl.parse_body(bad)


def test_unknown_windows_and_fields_of_a_newer_meshd_are_ignored():
    o = rl.parse_body(body(extra=1, windows={"five_hour": {"used_percentage": 5, "resets_at": None, "x": 2},
                                             "ten_year": {"used_percentage": 1}}))
    assert o.windows == (rl.Window("five_hour", 5.0, None),)


def test_from_statusline_is_lenient():
    rate = {"five_hour": {"used_percentage": 23.5, "resets_at": RESET_5H},
            "seven_day": {"used_percentage": 105, "resets_at": "2026-01-05T00:00:00Z"}}
    o = rl.from_statusline(rate, T0)
    assert o is not None
    assert [(w.name, w.used_percentage, w.resets_at) for w in o.windows] == [
        ("five_hour", 23.5, RESET_5H), ("seven_day", 105.0, T0 // 1000 + 4 * 86400)]
    # milliseconds instead of seconds are understood
    o = rl.from_statusline({"five_hour": {"used_percentage": 1, "resets_at": RESET_5H * 1000}}, T0)
    assert o is not None and o.windows[0].resets_at == RESET_5H
    for junk in (None, [], "x", 5, {}, {"five_hour": None}, {"five_hour": {"used_percentage": "5"}},
                 {"five_hour": {"used_percentage": float("nan")}}, {"five_hour": {"used_percentage": 1e9}},
                 {"five_hour": {"used_percentage": True}}, {"other": {"used_percentage": 5}}):
        assert rl.from_statusline(junk, T0) is None, junk
    # bad reset times are dropped, the percentage is kept
    for r in ("yesterday", "2026-01-01T00:00:00", -5, True, 1e30, "9" * 100):
        o = rl.from_statusline({"five_hour": {"used_percentage": 5, "resets_at": r}}, T0)
        assert o is not None and o.windows[0].resets_at is None, r


def test_freshest_reading_per_window_across_devices():
    a, b = fresh(A), fresh(B)
    with transaction(a.conn):
        assert limits.record_reading(a, obs(T0, 20, 40))
    with transaction(b.conn):
        assert limits.record_reading(b, obs(T0 + 60_000, 25, None))  # only the 5h window
    # exchange logs
    for src, dst in ((a, b), (b, a)):
        batch = src.read_after(src.device_id, 1, 0)
        assert batch is not None
        with transaction(dst.conn):
            dst.apply_batch(batch)
    for r in (a, b):
        f = limits.freshest(r.conn, T0 + 120_000)
        assert f["five_hour"].used_percentage == 25 and f["five_hour"].origin == B
        assert f["five_hour"].age_ms == 60_000 and not f["five_hour"].expired
        assert f["seven_day"].used_percentage == 40 and f["seven_day"].origin == A
        assert f["seven_day"].age_ms == 120_000
    # after the 5h window reset, the reading is flagged as expired
    f = limits.freshest(a.conn, RESET_5H * 1000 + 1)
    assert f["five_hour"].expired and not f["seven_day"].expired


def test_repeats_are_not_recorded_but_changes_and_stale_repeats_are():
    a = fresh(A)
    with transaction(a.conn):
        assert limits.record_reading(a, obs(T0))
        assert not limits.record_reading(a, obs(T0 + 1000))  # same values: a refresh
        assert limits.record_reading(a, obs(T0 + 2000, five=24))  # changed
        assert not limits.record_reading(a, obs(T0 + 1500, five=30))  # older than the last one
        assert limits.record_reading(a, obs(T0 + 2000 + 15 * 60_000, five=24))  # unchanged, but stale
    assert a.held(A, 1) == 3


def test_future_readings_and_forgotten_devices_do_not_count():
    a = fresh(A)
    peer = Batch(B, 1, 0, 1, (Record(1, "ratelimit", rl.to_body(obs(T0 + 86_400_000, five=99))),))
    with transaction(a.conn):
        a.apply_batch(peer)
        limits.record_reading(a, obs(T0, five=10))
    assert limits.freshest(a.conn, T0)["five_hour"].used_percentage == 10  # B's clock is a day ahead
    c = Batch(C, 1, 0, 1, (Record(1, "ratelimit", rl.to_body(obs(T0 + 1000, five=50))),))
    with transaction(a.conn):
        a.apply_batch(c)
    assert limits.freshest(a.conn, T0 + 2000)["five_hour"].origin == C
    with transaction(a.conn):
        a.append_local("forget", [forget_body(C, False, T0)])
    assert limits.freshest(a.conn, T0 + 2000)["five_hour"].origin == A


def test_a_hostile_reading_refuses_the_whole_batch():
    a = fresh(A)
    bad = Batch(B, 1, 0, 2, (Record(1, "ratelimit", rl.to_body(obs(T0))), Record(2, "ratelimit", b"{}")))
    with pytest.raises(LogRuleError):
        with transaction(a.conn):
            a.apply_batch(bad)
    assert a.held(B, 1) == 0
    assert limits.freshest(a.conn, T0) == {}


def test_rebuild_replays_readings_and_skips_what_an_older_meshd_let_in(tmp_path):
    from meshd.store.db import connect

    path = tmp_path / "r.db"
    conn = connect(path)
    init_schema(conn)
    r = Replica(conn, A, 1, lambda e: 0.0)
    with transaction(conn):
        limits.record_reading(r, obs(T0, five=33))
        # a record an older meshd stored without checking it
        conn.execute("INSERT INTO log VALUES(?,?,?,?,?)", (B, 1, 1, "ratelimit", b"garbage"))
        conn.execute("INSERT INTO vector VALUES(?,?,?)", (B, 1, 1))
        conn.execute("UPDATE meta SET value='5' WHERE key='schema'")
    conn.close()
    conn = connect(path)
    assert init_schema(conn)  # stale: derived tables dropped
    r = Replica(conn, A, 1, lambda e: 0.0)
    with transaction(conn):
        r.rebuild()
    assert limits.freshest(conn, T0)["five_hour"].used_percentage == 33


def test_split_shares_the_percentage_by_cost():
    assert rl.split(40.0, {}) == []
    assert rl.split(40.0, {"a": 0.0, "b": -1.0}) == []
    out = rl.split(40.0, {"a": 1.0, "b": 3.0, "c": 0.0})
    assert out == [{"device": "b", "share": 0.75, "percentagePoints": 30.0},
                   {"device": "a", "share": 0.25, "percentagePoints": 10.0}]
    tie = rl.split(10.0, {"z": 1.0, "y": 1.0})
    assert [d["device"] for d in tie] == ["y", "z"]


def test_elapsed_percentage_of_a_window():
    h = 3_600_000
    assert rl.elapsed_percentage("five_hour", T0 + 5 * h, T0) == 0.0
    assert rl.elapsed_percentage("five_hour", T0 + 4 * h, T0) == 20.0
    assert rl.elapsed_percentage("five_hour", T0, T0 + h) == 100.0  # past the reset: capped
    assert rl.elapsed_percentage("five_hour", T0 + 10 * h, T0) == 0.0  # a reset further out than the window
    assert rl.elapsed_percentage("seven_day", T0 + 7 * 24 * h // 2, T0) == 50.0
    assert rl.elapsed_percentage("five_hour", None, T0) is None
    assert rl.elapsed_percentage("ten_year", T0, T0) is None
