"""The gossip engine over an in-memory PeerClient: convergence, lying batches, epoch rotation."""

from __future__ import annotations

import asyncio
import random
import shutil
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from meshd.config import Config
from meshd.core.oplog import Batch, Record, Vector
from meshd.errors import PeerRefused
from meshd.store.forget import forget_body
from meshd.store.writer import ReplicaStore
from meshd.sync.gossip import Gossip, HandshakeReply, Hello
from tests.meshkit import synthetic_entries


class MemClient:
    """A PeerClient that calls another node's Gossip directly; `mangle` may rewrite the stream."""

    def __init__(self, server: Gossip, caller: Gossip, mangle=None) -> None:  # type: ignore[no-untyped-def]
        self.server, self.caller, self.mangle = server, caller, mangle

    async def handshake(self, hello: Hello) -> HandshakeReply:
        return await self.server.on_handshake(hello)

    async def pull(self, vector: Vector) -> AsyncIterator[Batch]:
        batches = [b async for b in self.server.serve_pull(vector, self.caller.store.device_id)]
        if self.mangle is not None:
            batches = self.mangle(batches)
        for b in batches:
            yield b

    async def notify(self, hello: Hello, vector: Vector) -> bool:
        if await self.server.on_notify(hello, vector):
            await self.server.sync(MemClient(self.caller, self.server), notify=False)
            return True
        return False


async def node(home: Path, n: int, tag: str) -> Gossip:
    store = await ReplicaStore(Config(home=home, device_id=None)).open()
    if n:
        def add() -> None:
            from meshd.store.replica import transaction
            with transaction(store.rw.conn):
                store.rw.append_usage(list(synthetic_entries(n, seed=hash(tag) % 1000, tag=tag)))
        await store._write(add)
    return Gossip(store, boot_id=tag)


def sql(g: Gossip, q: str, *args):  # type: ignore[no-untyped-def]
    conn = sqlite3.connect(f"file:{g.store.config.db_path}?mode=ro", uri=True)
    try:
        return conn.execute(q, args).fetchone()
    finally:
        conn.close()


def totals(g: Gossip) -> tuple[int, int]:
    row = sql(g, "SELECT COUNT(*), COALESCE(SUM(input + output), 0) FROM usage WHERE winner=1")
    return int(row[0]), int(row[1])


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.mark.parametrize("seed", range(6))
def test_three_nodes_converge_in_any_order(tmp_path: Path, seed: int) -> None:
    async def go() -> None:
        rng = random.Random(seed)
        nodes = [await node(tmp_path / f"h{i}", 300 + 50 * i, f"n{i}") for i in range(3)]

        def shuffle(bs: list[Batch]) -> list[Batch]:
            bs = list(bs)
            rng.shuffle(bs)
            return bs + bs[: rng.randint(0, len(bs))]  # reordered and partly re-delivered

        for _ in range(8):
            a, b = rng.sample(nodes, 2)
            await a.sync(MemClient(b, a, shuffle), notify=rng.random() < 0.5)
        for a in nodes:  # a final clean round
            for b in nodes:
                if a is not b:
                    await a.sync(MemClient(b, a))
        vs = [await g.store.vector() for g in nodes]
        assert vs[0] == vs[1] == vs[2] and len(vs[0]) == 3
        assert totals(nodes[0]) == totals(nodes[1]) == totals(nodes[2])
        assert totals(nodes[0])[0] == 300 + 350 + 400
        for g in nodes:
            await g.store.close()

    run(go())


def test_relay_reaches_a_device_never_met(tmp_path: Path) -> None:
    async def go() -> None:
        a, b, c = [await node(tmp_path / k, 40, k) for k in "abc"]
        await b.sync(MemClient(a, b), notify=False)   # b learns a
        await c.sync(MemClient(b, c), notify=False)   # c learns a through b
        assert (await c.store.vector()).get((a.store.device_id, a.store.epoch)) == 41  # 40 + device record
        for g in (a, b, c):
            await g.store.close()

    run(go())


def test_lying_prev_seq_batch_is_dropped_and_pulled_again(tmp_path: Path) -> None:
    async def go() -> None:
        a, b = await node(tmp_path / "a", 3000, "a"), await node(tmp_path / "b", 0, "b")
        lies = {"n": 0}

        def lie(bs: list[Batch]) -> list[Batch]:
            out = []
            for x in bs:
                if x.origin == a.store.device_id and lies["n"] == 0:
                    lies["n"] += 1  # claims to continue from a seq the receiver does not hold
                    out.append(replace(x, prev_seq=x.prev_seq + 5, last_seq=x.last_seq + 5, records=tuple(
                        Record(r.seq + 5, r.kind, r.body) for r in x.records)))
                    continue
                out.append(x)
            return out

        res = await b.sync(MemClient(a, b, lie))
        assert lies["n"] == 1 and res.dropped >= 1
        assert await b.store.vector() == await a.store.vector()
        # No hole was stored: the log is dense.
        cnt, hi = sql(b, "SELECT COUNT(*), MAX(seq) FROM log WHERE origin=?", a.store.device_id)
        assert cnt == hi == 3001
        for g in (a, b):
            await g.store.close()

    run(go())


def test_malformed_record_keeps_valid_prefix(tmp_path: Path) -> None:
    async def go() -> None:
        a, b = await node(tmp_path / "a", 10, "a"), await node(tmp_path / "b", 0, "b")

        def corrupt(bs: list[Batch]) -> list[Batch]:
            x = bs[0]
            recs = list(x.records)
            recs[5] = Record(recs[5].seq, "usage", b"{not json")
            return [replace(x, records=tuple(recs))]

        res = await b.sync(MemClient(a, b, corrupt), notify=False)
        assert res.malformed == 1 and res.errors
        assert (await b.store.vector())[(a.store.device_id, a.store.epoch)] == 5
        for g in (a, b):
            await g.store.close()

    run(go())


def test_restored_backup_starts_a_new_epoch(tmp_path: Path) -> None:
    async def go() -> None:
        a = await node(tmp_path / "a", 5, "a")
        await a.store.close()
        shutil.copytree(tmp_path / "a", tmp_path / "backup")  # the backup: 6 records
        a = await node(tmp_path / "a", 0, "a")
        await a.store.append_local("usage", [r.body for r in (await a.store.read_after(
            a.store.device_id, a.store.epoch, 0, 1 << 20)).records[1:4]])  # later writes: seq 7..9
        b = await node(tmp_path / "b", 3, "b")
        await b.sync(MemClient(a, b))
        await a.store.close()
        shutil.rmtree(tmp_path / "a")
        shutil.copytree(tmp_path / "backup", tmp_path / "a")  # restore: holds only seq 1..6
        a = await node(tmp_path / "a", 0, "a")
        old = a.store.epoch
        res = await a.sync(MemClient(b, a))
        assert res.rotated and a.store.epoch != old
        v = await a.store.vector()
        assert v[(a.store.device_id, old)] == 9  # the old epoch's records are kept, pulled back from b
        n = await a.store.append_local("device", [b'{"name":"a"}'])
        assert n == 1 and (await a.store.vector())[(a.store.device_id, a.store.epoch)] == 1
        for g in (a, b):
            await g.store.close()

    run(go())


def test_self_and_forgotten_peers_are_refused(tmp_path: Path) -> None:
    async def go() -> None:
        a, b = await node(tmp_path / "a", 1, "a"), await node(tmp_path / "b", 1, "b")
        with pytest.raises(PeerRefused):
            await a.sync(MemClient(a, a))
        await a.store.append_local("forget", [forget_body(b.store.device_id, False, 1)])
        with pytest.raises(PeerRefused):
            await a.on_handshake(b.hello())
        with pytest.raises(PeerRefused):
            await a.sync(MemClient(b, a))
        for g in (a, b):
            await g.store.close()

    run(go())


def test_forgotten_device_stays_forgotten_in_any_order(tmp_path: Path) -> None:
    async def go() -> None:
        a, b, c = [await node(tmp_path / k, 30, k) for k in "abc"]
        await a.sync(MemClient(c, a))
        assert totals(a)[0] == 60
        await a.store.append_local("forget", [forget_body(c.store.device_id, False, 1)])
        assert totals(a)[0] == 30
        await b.sync(MemClient(a, b))  # b gets the tombstone and c's log (relayed; kept, not counted)
        assert totals(b)[0] == 60 and (await b.store.vector()).get((c.store.device_id, c.store.epoch)) == 31
        await c.store.append_local("usage", [r.body for r in (await c.store.read_after(
            c.store.device_id, c.store.epoch, 1, 1 << 20)).records[:5]])
        with pytest.raises(PeerRefused):
            await b.sync(MemClient(c, b))
        d = await node(tmp_path / "d", 0, "d")  # c's later records relayed by a third party never count
        await d.sync(MemClient(c, d), notify=False)
        await b.sync(MemClient(d, b), notify=False)
        assert (await b.store.vector())[(c.store.device_id, c.store.epoch)] == 36
        assert totals(b)[0] == 60
        for x in (a, b, c, d):
            await x.store.close()

    run(go())


async def _restored_pair(tmp_path: Path) -> tuple[Gossip, Gossip, int]:
    """a (6 records) is backed up, writes 3 more that b pulls, then a is restored from the backup."""
    a = await node(tmp_path / "a", 5, "a")
    await a.store.close()
    shutil.copytree(tmp_path / "a", tmp_path / "backup")
    a = await node(tmp_path / "a", 0, "a")
    await a.store.append_local("device", [b'{"name":"a1"}', b'{"name":"a2"}', b'{"name":"a3"}'])
    b = await node(tmp_path / "b", 3, "b")
    await b.sync(MemClient(a, b))
    await a.store.close()
    shutil.rmtree(tmp_path / "a")
    shutil.copytree(tmp_path / "backup", tmp_path / "a")
    a = await node(tmp_path / "a", 0, "a")
    return a, b, a.store.epoch


def test_restored_backup_is_detected_when_the_peer_calls_us(tmp_path: Path) -> None:
    """Inbound detection: b's Notify (or Pull) shows it holds more of a's current log than a does."""
    async def go() -> None:
        for how in ("notify", "pull"):
            a, b, old = await _restored_pair(tmp_path / how)
            v = await b.store.vector()
            if how == "notify":
                assert await a.on_notify(b.hello(), v)  # a lacks records: it will pull
            else:
                assert [x async for x in a.serve_pull(v, b.store.device_id)] == []
            assert a.store.epoch != old, how
            await a.store.append_local("device", [b'{"name":"after"}'])
            va = await a.store.vector()
            assert va[(a.store.device_id, a.store.epoch)] == 1 and va[(a.store.device_id, old)] == 6
            await a.sync(MemClient(b, a))  # the old epoch's tail comes back from b, no seq reused
            await b.sync(MemClient(a, b))
            assert await a.store.vector() == await b.store.vector()
            assert (await a.store.vector())[(a.store.device_id, old)] == 9
            assert sql(a, "SELECT group_concat(body, '|') FROM (SELECT body FROM log WHERE origin=? AND epoch=?"
                       " ORDER BY seq)", a.store.device_id, old) == \
                sql(b, "SELECT group_concat(body, '|') FROM (SELECT body FROM log WHERE origin=? AND epoch=?"
                    " ORDER BY seq)", a.store.device_id, old)
            for g in (a, b):
                await g.store.close()

    run(go())


def test_restored_backup_rotates_once_however_many_detect_it(tmp_path: Path) -> None:
    async def go() -> None:
        a, b, old = await _restored_pair(tmp_path)
        v = await b.store.vector()
        results = await asyncio.gather(a.on_notify(b.hello(), v), a.on_notify(b.hello(), v),
                                       a.sync(MemClient(b, a), notify=False))
        assert results[2].rotated in (True, False)
        epochs = {e for (o, e) in await a.store.vector() if o == a.store.device_id}
        assert a.store.epoch != old and epochs <= {old, a.store.epoch}
        assert sql(a, "SELECT COUNT(DISTINCT value) FROM meta WHERE key='epoch'")[0] == 1
        for g in (a, b):
            await g.store.close()

    run(go())


def test_a_peer_that_holds_less_of_our_log_is_no_restore(tmp_path: Path) -> None:
    async def go() -> None:
        a, b = await node(tmp_path / "a", 5, "a"), await node(tmp_path / "b", 0, "b")
        await b.sync(MemClient(a, b))
        old = a.store.epoch
        await a.store.append_local("device", [b'{"name":"x"}'])  # a is ahead of b: normal
        assert not (await a.sync(MemClient(b, a), notify=False)).rotated
        await a.on_notify(b.hello(), await b.store.vector())
        assert [x async for x in a.serve_pull(await b.store.vector(), b.store.device_id)]
        assert a.store.epoch == old
        for g in (a, b):
            await g.store.close()

    run(go())


def test_a_peer_that_resends_what_we_hold_is_stopped(tmp_path: Path) -> None:
    async def go() -> None:
        a, b = await node(tmp_path / "a", 20, "a"), await node(tmp_path / "b", 0, "b")
        await b.sync(MemClient(a, b), notify=False)
        old = await a.store.read_after(a.store.device_id, a.store.epoch, 0, 1 << 20)
        sent = [0]

        class Replayer(MemClient):
            async def pull(self, vector: Vector) -> AsyncIterator[Batch]:
                for _ in range(10_000):
                    sent[0] += 1
                    yield old

        before = await b.store.vector()
        await b.store.append_local("device", [b'{"name":"b"}'])  # so the digests differ: a real pull
        res = await b.sync(Replayer(a, b), notify=False)
        assert res.pulled == 0 and not res.errors
        assert sent[0] < 200, "kept reading a peer that only re-sends what we hold"
        assert (await b.store.vector())[(a.store.device_id, a.store.epoch)] == before[(a.store.device_id,
                                                                                       a.store.epoch)]
        for g in (a, b):
            await g.store.close()

    run(go())
