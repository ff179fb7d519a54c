"""The replica on real SQLite: log rules, version vector, order-independent dedup winner."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshd.core.entry import UsageEntry
from meshd.core.oplog import Batch, Record
from meshd.errors import LogRuleError
from meshd.store.db import init_schema
from meshd.store.replica import Replica, transaction

A = "a" * 32
B = "b" * 32
C = "c" * 32


def fresh(device: str = A, epoch: int = 1) -> Replica:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    init_schema(conn)
    return Replica(conn, device, epoch, lambda e: e.total_tokens * 1e-6)


def entry(i: int, **kw: object) -> UsageEntry:
    base = dict(ts=1_700_000_000_000 + i * 1000, provider="claude", model="claude-sonnet-4-5",
                session_id="s", project="p", input_tokens=10, output_tokens=5, message_id=f"m{i}",
                request_id=f"r{i}")
    base.update(kw)
    return UsageEntry(**base)  # type: ignore[arg-type]


def totals(r: Replica) -> tuple[int, int]:
    row = r.conn.execute("SELECT COUNT(*), COALESCE(SUM(input + output + cw5 + cw1 + cr), 0) FROM usage WHERE winner=1").fetchone()
    return row[0], row[1]


def test_append_assigns_contiguous_seqs_and_advances_vector():
    r = fresh()
    with transaction(r.conn):
        assert r.append_usage([entry(1), entry(2)]) == (1, 2)
    with transaction(r.conn):
        assert r.append_usage([entry(3)]) == (3, 3)
    assert r.vector() == {(A, 1): 3}
    seqs = [s for (s,) in r.conn.execute("SELECT seq FROM log ORDER BY seq")]
    assert seqs == [1, 2, 3]


def test_batches_replicate_and_redelivery_is_harmless():
    src, dst = fresh(A), fresh(B)
    with transaction(src.conn):
        src.append_usage([entry(i) for i in range(50)])
    b = src.read_after(A, 1, 0)
    assert b is not None and b.prev_seq == 0 and b.last_seq == 50
    for _ in range(2):
        with transaction(dst.conn):
            dst.apply_batch(b)
    assert dst.vector() == {(A, 1): 50}
    assert totals(dst) == totals(src)


@pytest.mark.parametrize("n", [1, 99, 100, 101, 250, 300])
def test_log_rows_are_stored_exactly_whatever_the_batch_size(n: int) -> None:
    # _store writes log rows LOG_ROWS_PER_INSERT (100) per statement, the rest one by one.
    src, dst = fresh(A), fresh(B)
    with transaction(src.conn):
        src.append_local("device", [b'{"name":"n%d","at":%d}' % (i, i) for i in range(3)])
        src.append_usage([entry(i, input_tokens=i) for i in range(n)])
    b = src.read_after(A, 1, 0)
    assert b is not None and len(b.records) == n + 3
    with transaction(dst.conn):
        assert dst.apply_batch(b) == n + 3
    q = "SELECT origin, epoch, seq, kind, body FROM log ORDER BY origin, epoch, seq"
    assert dst.conn.execute(q).fetchall() == src.conn.execute(q).fetchall()
    assert dst.read_after(A, 1, 0) == b and totals(dst) == totals(src)


def test_batch_with_lying_prev_seq_is_refused_and_changes_nothing():
    src, dst = fresh(A), fresh(B)
    with transaction(src.conn):
        src.append_usage([entry(i) for i in range(10)])
    b = src.read_after(A, 1, 5)
    assert b is not None
    with pytest.raises(LogRuleError):
        with transaction(dst.conn):
            dst.apply_batch(b)
    assert dst.vector() == {}
    assert totals(dst) == (0, 0)


def test_batch_with_hole_or_bad_kind_or_origin_is_refused():
    dst = fresh(B)
    good = Record(1, "usage", orjson.dumps(entry(1).to_record()))
    for bad in (
        Batch(A, 1, 0, 2, (good, Record(3, "usage", good.body))),
        Batch(A, 1, 0, 1, (Record(1, "evil", b"{}"),)),
        Batch("not-a-device", 1, 0, 1, (good,)),
        Batch(A, 0, 0, 1, (good,)),
        Batch(A, 1, 0, 1, (Record(1, "usage", b"{not json"),)),
        Batch(A, 1, 0, 1, (Record(1, "usage", b'{"t": "x"}'),)),
    ):
        with pytest.raises(LogRuleError):
            with transaction(dst.conn):
                dst.apply_batch(bad)
    assert dst.vector() == {}


def test_peer_holding_more_of_my_current_log_is_refused():
    me = fresh(A, 7)
    with pytest.raises(LogRuleError):
        with transaction(me.conn):
            me.apply_batch(Batch(A, 7, 0, 1, (Record(1, "usage", orjson.dumps(entry(1).to_record())),)))


copies = st.lists(
    st.tuples(
        st.sampled_from([A, B, C]),
        st.integers(0, 3),  # which message
        st.booleans(),  # sidechain
        st.integers(0, 5),  # extra output tokens
        st.booleans(),  # has speed
        st.sampled_from(["r1", "r2", None]),  # request id: replays use other ids
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(copies=copies, perm_seed=st.randoms(use_true_random=False))
def test_dedup_winner_is_independent_of_arrival_order(copies, perm_seed):
    # Build each device's log, then deliver the logs' records to two replicas in different orders.
    logs: dict[str, list[UsageEntry]] = {A: [], B: [], C: []}
    for dev, msg, side, extra, speed, rid in copies:
        logs[dev].append(entry(msg, is_sidechain=side, output_tokens=5 + extra, request_id=rid,
                               speed="standard" if speed else None, ts=1_700_000_000_000 + len(logs[dev])))
    batches = []
    for dev, es in logs.items():
        for seq, e in enumerate(es, start=1):
            batches.append(Batch(dev, 1, seq - 1, seq, (Record(seq, "usage", orjson.dumps(e.to_record())),)))

    def deliver(order: list[Batch]) -> list[tuple[str, int, int]]:
        r = fresh("d" * 32)
        pending = list(order)
        while pending:  # apply in the given order, retrying those that arrive before their prefix
            rest = []
            for b in pending:
                try:
                    with transaction(r.conn):
                        r.apply_batch(b)
                except LogRuleError:
                    rest.append(b)
            pending = rest
        return sorted(r.conn.execute("SELECT origin, epoch, seq, winner, dwinner FROM usage"
                                     " WHERE winner=1 OR dwinner=1").fetchall())

    shuffled = list(batches)
    perm_seed.shuffle(shuffled)
    assert deliver(batches) == deliver(shuffled) == deliver(list(reversed(batches)))


def test_a_new_replica_gets_large_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    import sqlite3

    from meshd.store.db import PAGE_SIZE, connect, init_schema

    conn = connect(tmp_path / "new.db")
    init_schema(conn)
    assert conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE
    conn.close()
    old = sqlite3.connect(tmp_path / "old.db")
    old.execute("CREATE TABLE t(x)")  # created with SQLite's default page size
    old.close()
    conn = connect(tmp_path / "old.db")
    assert conn.execute("PRAGMA page_size").fetchone()[0] == 4096
    init_schema(conn)
    conn.close()
