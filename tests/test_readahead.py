"""sync/readahead.py: order, errors in their place, and a consumer that stops early."""

from __future__ import annotations

import asyncio

import pytest

from meshd.sync.readahead import read_ahead


class Source:
    """An async stream that records how far it was read and whether it was closed."""

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.n, self.fail_at = n, fail_at
        self.produced = 0
        self.closed = False

    async def gen(self):  # type: ignore[no-untyped-def]
        try:
            for i in range(self.n):
                if i == self.fail_at:
                    raise ValueError(f"broken at {i}")
                await asyncio.sleep(0)
                self.produced += 1
                yield i
        finally:
            self.closed = True


def test_items_arrive_in_order_and_the_producer_runs_ahead() -> None:
    async def main() -> list[int]:
        src = Source(50)
        out = []
        async for x in read_ahead(src.gen(), 3):
            await asyncio.sleep(0.001)  # a slow consumer: the producer fills the queue meanwhile
            assert src.produced >= min(x + 1, 50)
            out.append(x)
        assert src.closed
        return out

    assert asyncio.run(main()) == list(range(50))


def test_an_error_comes_after_the_items_before_it() -> None:
    async def main() -> list[int]:
        got: list[int] = []
        with pytest.raises(ValueError, match="broken at 7"):
            async for x in read_ahead(Source(20, fail_at=7).gen(), 4):
                got.append(x)
        return got

    assert asyncio.run(main()) == list(range(7))


def test_stopping_early_cancels_the_producer_and_closes_the_source() -> None:
    async def main() -> Source:
        src = Source(10_000)
        agen = read_ahead(src.gen(), 2)
        async for x in agen:
            if x == 5:
                break
        await agen.aclose()
        await asyncio.sleep(0.01)
        return src

    src = asyncio.run(main())
    assert src.closed and src.produced < 20


def test_store_reads_the_next_batch_ahead_and_stays_exact_when_the_log_grows(tmp_path, monkeypatch) -> None:
    """ReplicaStore.read_after reads a stream's next batch ahead; records appended meanwhile
    are not lost (the batch read ahead is a prefix, the next ask carries the rest)."""
    import orjson

    from meshd.config import Config
    from meshd.store.writer import ReplicaStore

    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "none"))
    body = orjson.dumps({"t": 1, "p": "claude", "m": "m", "s": "s", "j": "j", "x": "y" * 400})

    async def main() -> list[int]:
        store = await ReplicaStore(Config(home=tmp_path / "h", device_id=None)).open()
        try:
            await store.append_local("usage", [body] * 6000)
            me, ep = store.device_id, store.epoch
            seqs: list[int] = []
            after = 0
            grew = False
            while (b := await store.read_after(me, ep, after, 1 << 20)) is not None:
                assert b.prev_seq == after and [r.seq for r in b.records] == list(range(after + 1, b.last_seq + 1))
                seqs += [r.seq for r in b.records]
                after = b.last_seq
                if not grew:  # the next batch is being read ahead now; the log grows meanwhile
                    assert store._ahead
                    await store.append_local("usage", [body] * 3000)
                    grew = True
            return seqs
        finally:
            await store.close()

    seqs = asyncio.run(main())
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) == 9000 + 1  # + the device record
