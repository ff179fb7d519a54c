"""Hostile input on every peer RPC, both ways, over real mutual TLS on 127.0.0.1 (issue 4.5).

Server side: a member (valid certificate) sends random bytes, hypothesis-built messages with
extreme and inconsistent values, unknown fields, oversized requests and huge vectors to
Handshake, Pull and Notify, holds Pull streams open without reading them and opens more than its
share. The server is the daemon's own (`meshd.rpc.peer.peer_server`: auth interceptor, per-peer
limits, servicer over a real replica): it answers each call with a clear status, never with
UNKNOWN or INTERNAL, keeps serving everyone, never changes its log, and logs what it refused.

Client side: a hostile member serves lying batches (prev_seq, last_seq, seqs, origins, epochs,
our own log, oversized, unknown kinds, undecodable bytes) to our real `Gossip.sync` over
`GrpcPeerClient`: the sync ends with its errors counted or a gRPC error, every valid batch is
kept, the replica never holds a log with a hole, and our own epoch never moves.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import sqlite3
import threading
import time
from pathlib import Path

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshd.config import Config
from meshd.errors import PeerError
from meshd.rpc import creds as C
from meshd.rpc import peer as P
from meshd.security import tls
from meshd.security.testing import make_mesh
from meshd.store.writer import ReplicaStore
from meshd.sync.gossip import Gossip
from meshd.v1 import peer_pb2 as pb
from tests.meshkit import build_replica

SVC = "/meshd.v1.PeerService/"
CLEAR = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.PERMISSION_DENIED,
         grpc.StatusCode.RESOURCE_EXHAUSTED}
U64 = (1 << 64) - 1


def _ident(b: bytes) -> bytes:
    return b


@pytest.fixture(autouse=True)
def _fresh_refusal_log() -> None:
    P.refusals.seen.clear()  # the flood of earlier tests must not throttle the lines a test checks


class LoopThread:
    """An asyncio loop in a daemon thread, for servers the (synchronous) tests call into."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 60):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class Victim:
    """The daemon's peer server over a real replica, in its own loop thread."""

    def __init__(self, home: Path, slow_reader: float) -> None:
        self.home = home
        self.slow_reader = slow_reader
        self.lt = LoopThread()
        self.limits = P.PeerLimits()
        self.contacts: list[tuple[str, bool]] = []

        async def start() -> None:
            self.store = await ReplicaStore(Config(home=home)).open()
            self.gossip = Gossip(self.store, "victim")
            self.creds = C.load_credentials(home, self.store.device_id)
            self.server = P.peer_server(self.gossip, self.creds,
                                        lambda h, host, w: self.contacts.append((h.device_id, w)),
                                        slow_reader=slow_reader, limits=self.limits)
            self.port = self.creds.add_port(self.server, "127.0.0.1:0")
            await self.server.start()

        self.lt.run(start())
        self.device_id = self.store.device_id

    def log_rows(self) -> int:
        conn = sqlite3.connect(f"file:{self.home / 'meshd.db'}?mode=ro", uri=True)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM log").fetchone()[0])
        finally:
            conn.close()

    def close(self) -> None:
        async def stop() -> None:
            await self.server.stop(0)
            await self.store.close()

        self.lt.run(stop())
        self.lt.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("peerfuzz")
    homes = [root / n for n in ("victim", "member", "member2", "big")]
    build_replica(homes[0], 300, seed=1, tag="v")
    build_replica(homes[3], 60_000, seed=2, tag="big")  # a Pull of this fills every window
    mesh = make_mesh(homes)
    victim, big = Victim(homes[0], slow_reader=30.0), Victim(homes[3], slow_reader=1.5)
    yield {"victim": victim, "big": big, "member": mesh.material[1], "member2": mesh.material[2], "root": root}
    victim.close()
    big.close()


def _channel(port: int, material) -> grpc.Channel:  # type: ignore[no-untyped-def]
    return grpc.secure_channel(f"127.0.0.1:{port}", tls.channel_credentials(material),
                               options=[*C.CHANNEL_OPTIONS, *tls.channel_options(None)])


def _call(ch: grpc.Channel, method: str, payload: bytes, timeout: float = 10) -> tuple[grpc.StatusCode, str]:
    try:
        if method == "Pull":
            for _ in ch.unary_stream(SVC + method, request_serializer=_ident, response_deserializer=_ident)(
                    payload, timeout=timeout):
                pass
        else:
            ch.unary_unary(SVC + method, request_serializer=_ident, response_deserializer=_ident)(
                payload, timeout=timeout)
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as e:
        return e.code(), e.details() or ""  # type: ignore[attr-defined]


def _still_serves(v: Victim, material) -> None:  # type: ignore[no-untyped-def]
    hello = pb.Hello(device_id=material.device_id, epoch=7, protocol_version=1)
    with _channel(v.port, material) as ch:
        code, msg = _call(ch, "Handshake", pb.HandshakeRequest(hello=hello).SerializeToString())
    assert code == grpc.StatusCode.OK, (code, msg)


# -- the server under attack ---------------------------------------------------------------------


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["Handshake", "Pull", "Notify"]), payload=st.binary(max_size=600))
def test_random_bytes_get_a_clear_status(world, method: str, payload: bytes) -> None:  # type: ignore[no-untyped-def]
    v = world["victim"]
    rows = v.log_rows()
    with _channel(v.port, world["member"]) as ch:
        code, msg = _call(ch, method, payload)
    assert code in CLEAR, (code, msg)
    assert v.log_rows() == rows


def test_undecodable_bytes_are_invalid_argument_and_logged(world, caplog) -> None:  # type: ignore[no-untyped-def]
    v = world["victim"]
    caplog.set_level(logging.WARNING, "meshd.rpc")
    with _channel(v.port, world["member"]) as ch:
        for method in ("Handshake", "Pull", "Notify"):
            code, msg = _call(ch, method, b"\x0a\xff\xff\xff\xff\x0f")  # a length past the end
            assert code == grpc.StatusCode.INVALID_ARGUMENT and "malformed" in msg, (method, code, msg)
    assert "malformed" in caplog.text
    _still_serves(v, world["member"])


def _ids(world) -> st.SearchStrategy[str]:  # type: ignore[no-untyped-def]
    return st.one_of(st.sampled_from([world["victim"].device_id, world["member"].device_id,
                                      world["member2"].device_id, "", "0" * 32, "A" * 32]),
                     st.text(max_size=80))


_u64 = st.one_of(st.sampled_from([0, 1, (1 << 63) - 1, 1 << 63, U64]), st.integers(0, U64))
_u32 = st.one_of(st.sampled_from([0, 1, 65535, 65536, (1 << 32) - 1]), st.integers(0, (1 << 32) - 1))


def _hellos(world) -> st.SearchStrategy[pb.Hello]:  # type: ignore[no-untyped-def]
    return st.builds(lambda d, e, pv, b, lp, dg: pb.Hello(device_id=d, epoch=e, protocol_version=pv, boot_id=b,
                                                          listen_port=lp, vector_digest=dg),
                     _ids(world), _u64, st.one_of(st.just(1), _u32), st.text(max_size=100), _u32,
                     st.binary(max_size=80))


def _vectors(world) -> st.SearchStrategy[list[pb.VectorEntry]]:  # type: ignore[no-untyped-def]
    return st.lists(st.builds(lambda o, e, s: pb.VectorEntry(origin=o, epoch=e, max_seq=s), _ids(world), _u64, _u64),
                    max_size=12)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hostile_messages_get_a_clear_status(world, data) -> None:  # type: ignore[no-untyped-def]
    v = world["victim"]
    method = data.draw(st.sampled_from(["Handshake", "Pull", "Notify"]))
    if method == "Handshake":
        msg = pb.HandshakeRequest(hello=data.draw(_hellos(world)))
    elif method == "Pull":
        msg = pb.PullRequest(vector=data.draw(_vectors(world)), max_records=data.draw(st.sampled_from([0, 1, U64])))
    else:
        msg = pb.NotifyRequest(hello=data.draw(_hellos(world)), vector=data.draw(_vectors(world)))
    raw = msg.SerializeToString() + data.draw(st.sampled_from([b"", b"\xfa\x3f\x03abc", b"\x98\x06\x01"]))  # unknown fields
    rows = v.log_rows()
    with _channel(v.port, world["member"]) as ch:
        code, detail = _call(ch, method, raw)
    assert code in CLEAR, (code, detail)
    assert v.log_rows() == rows, "a peer call changed the server's log"


def test_oversized_and_huge_requests(world, caplog) -> None:  # type: ignore[no-untyped-def]
    v = world["victim"]
    caplog.set_level(logging.WARNING, "meshd.rpc")
    big = pb.PullRequest(vector=[pb.VectorEntry(origin="%032x" % i, epoch=1, max_seq=1) for i in range(30_000)])
    assert len(big.SerializeToString()) > C.MAX_REQUEST
    many = pb.PullRequest(vector=[pb.VectorEntry(origin="%032x" % i, epoch=1, max_seq=1) for i in range(10_001)])
    assert len(many.SerializeToString()) < C.MAX_REQUEST
    huge_seqs = pb.PullRequest(vector=[pb.VectorEntry(origin="%032x" % i, epoch=(1 << 63) - 1, max_seq=(1 << 63) - 1)
                                       for i in range(50)])
    fat_hello = pb.HandshakeRequest(hello=pb.Hello(device_id=world["member"].device_id, epoch=1, protocol_version=1,
                                                   boot_id="b" * 5000))
    with _channel(v.port, world["member"]) as ch:
        assert _call(ch, "Pull", big.SerializeToString())[0] == grpc.StatusCode.RESOURCE_EXHAUSTED
        code, msg = _call(ch, "Pull", many.SerializeToString())
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "10001 logs" in msg, (code, msg)
        assert _call(ch, "Pull", huge_seqs.SerializeToString())[0] == grpc.StatusCode.OK  # streams what it lacks
        assert _call(ch, "Handshake", fat_hello.SerializeToString())[0] == grpc.StatusCode.INVALID_ARGUMENT
    assert "10001 logs" in caplog.text
    _still_serves(v, world["member"])


def test_a_hello_that_names_another_device_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    v = world["victim"]
    for claimed in (world["member2"].device_id, v.device_id):
        hello = pb.Hello(device_id=claimed, epoch=1, protocol_version=1, listen_port=1)
        with _channel(v.port, world["member"]) as ch:
            code, msg = _call(ch, "Notify", pb.NotifyRequest(hello=hello).SerializeToString())
        assert code == grpc.StatusCode.PERMISSION_DENIED and "certificate" in msg, (code, msg)
    assert not [c for c in v.contacts if c[0] != world["member"].device_id]


def test_stream_limits_and_slow_readers(world, caplog) -> None:  # type: ignore[no-untyped-def]
    """Pulls that are never read: a peer gets two at once, the third is RESOURCE_EXHAUSTED, other
    peers are unaffected, and the server ends unread streams after its slow-reader timeout."""
    big = world["big"]
    caplog.set_level(logging.WARNING)
    ch = _channel(big.port, world["member"])
    pull = ch.unary_stream(SVC + "Pull", request_serializer=_ident, response_deserializer=_ident)
    try:
        held = []
        for _ in range(P.MAX_PULLS_PER_PEER):
            it = pull(pb.PullRequest().SerializeToString(), timeout=60)
            next(it)  # one batch, then never read again
            held.append(it)
        with pytest.raises(grpc.RpcError) as e:
            for _ in pull(pb.PullRequest().SerializeToString(), timeout=10):
                pass
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, e.value
        assert big.limits.refused >= 1 and "too many open calls" in caplog.text
        with _channel(big.port, world["member2"]) as other:  # another member pulls everything meanwhile
            assert _call(other, "Pull", pb.PullRequest(max_records=5000).SerializeToString())[0] == grpc.StatusCode.OK
        time.sleep(big.slow_reader + 1.5)  # read nothing for longer than the server waits
        for it in held:  # the server gave up on them: buffered batches, then DEADLINE_EXCEEDED
            with pytest.raises(grpc.RpcError) as e:
                for _ in it:
                    pass
            assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, e.value
            assert "read nothing" in (e.value.details() or "")
        code, msg = _call(ch, "Pull", pb.PullRequest(max_records=10).SerializeToString())  # slots are free again
        assert code == grpc.StatusCode.OK, (code, msg)
    finally:
        ch.close()


# -- the client under attack: a hostile member serves lying batches -------------------------------


class Hostile:
    """A member's server that answers Pull with whatever raw messages the current example sets."""

    def __init__(self, home: Path, material, lt: LoopThread) -> None:  # type: ignore[no-untyped-def]
        self.frames: list[bytes] = []
        self.material = material
        self.reply: bytes | None = None  # the Handshake answer (None: a valid one)

        async def handshake(req: bytes, ctx) -> bytes:  # type: ignore[no-untyped-def]
            if self.reply is not None:
                return self.reply
            return pb.HandshakeResponse(hello=pb.Hello(device_id=material.device_id, epoch=5, protocol_version=1),
                                        held_of_you=0).SerializeToString()

        async def pull(req: bytes, ctx):  # type: ignore[no-untyped-def]
            for f in list(self.frames):
                yield f

        async def notify(req: bytes, ctx) -> bytes:  # type: ignore[no-untyped-def]
            return b"\x08\x01"

        async def start() -> None:
            sec = tls.PeerSecurity.load(home)
            self.server = grpc.aio.server()
            self.server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("meshd.v1.PeerService", {
                "Handshake": grpc.unary_unary_rpc_method_handler(handshake, _ident, _ident),
                "Pull": grpc.unary_stream_rpc_method_handler(pull, _ident, _ident),
                "Notify": grpc.unary_unary_rpc_method_handler(notify, _ident, _ident)})])
            self.port = sec.add_port(self.server, "127.0.0.1:0")
            await self.server.start()

        lt.run(start())


@pytest.fixture(scope="module")
def duel(world):  # type: ignore[no-untyped-def]
    root = world["root"]
    homes = [root / "client", root / "hostile"]
    build_replica(homes[0], 50, seed=4, tag="c")
    mesh = make_mesh(homes)
    lt = LoopThread()
    hostile = Hostile(homes[1], mesh.material[1], lt)
    yield {"client": homes[0], "hostile": hostile, "material": mesh.material[0]}
    lt.run(hostile.server.stop(0))
    lt.close()


ORIGIN = "c" * 32


def _rec(seq: int, kind: str = "device", body: bytes = b'{"name":"x"}') -> pb.Record:
    return pb.Record(seq=seq, kind=kind, body=body)


@functools.lru_cache(maxsize=1)
def _big_frames() -> tuple[bytes, bytes]:
    """Batches too big to accept (built once): 20 records of 60 KB, and 100,001 tiny records."""
    over = pb.PullResponse(origin=ORIGIN, epoch=11, prev_seq=0, last_seq=20,
                           records=[_rec(i + 1, body=b'{"name":"%s"}' % (b"y" * 60_000)) for i in range(20)])
    many = pb.PullResponse(origin=ORIGIN, epoch=12, prev_seq=0, last_seq=100_001,
                           records=[_rec(i + 1, body=b"") for i in range(100_001)])
    return over.SerializeToString(), many.SerializeToString()


def _frames(me: str, my_epoch: int, held_me: int) -> st.SearchStrategy[list[tuple[str, bytes]]]:
    """Lists of (label, serialized PullResponse or raw bytes)."""
    def batch(origin: str, epoch: int, prev: int, last: int, recs: list[pb.Record]) -> bytes:
        return pb.PullResponse(origin=origin, epoch=epoch, prev_seq=prev, last_seq=last, records=recs).SerializeToString()

    lying = st.one_of(
        st.builds(lambda k, gap: ("prev_seq lies", batch(ORIGIN, 9, gap, gap + k, [_rec(gap + i + 1) for i in range(k)])),
                  st.integers(1, 5), st.integers(1000, 10**6)),
        st.builds(lambda k: ("last_seq lies", batch(ORIGIN, 8, 0, k + 3, [_rec(i + 1) for i in range(k)])),
                  st.integers(1, 5)),
        st.builds(lambda k: ("seq hole", batch(ORIGIN, 7, 0, k + 1, [_rec(1)] + [_rec(i + 3) for i in range(k)])),
                  st.integers(1, 5)),
        st.just(("unknown kind", batch(ORIGIN, 6, 0, 1, [_rec(1, kind="rm -rf")]))),
        st.just(("huge body", batch(ORIGIN, 5, 0, 1, [_rec(1, body=b"x" * (70 * 1024))]))),
        st.just(("batch over 1 MiB", _big_frames()[0])),
        st.just(("100,001 records", _big_frames()[1])),
        st.just(("bad usage body", batch(ORIGIN, 4, 0, 2, [_rec(1), _rec(2, kind="usage", body=b"{not json")]))),
        st.just(("origin not an id", batch("../../etc", 1, 0, 1, [_rec(1)]))),
        st.just(("epoch 0", batch(ORIGIN, 0, 0, 1, [_rec(1)]))),
        st.just(("epoch 2^64-1", batch(ORIGIN, U64, 0, 1, [_rec(1)]))),
        st.just(("seq 2^64-1", batch(ORIGIN, 3, U64 - 1, U64, [_rec(U64)]))),
        st.just(("empty batch", batch(ORIGIN, 2, 0, 0, []))),
        st.just(("our log, a gap", batch(me, my_epoch, held_me + 10, held_me + 11, [_rec(held_me + 11)]))),
        st.just(("our log, old news", batch(me, my_epoch, 0, 1, [_rec(1, kind="usage", body=b"forged")]))),
        st.just(("our log, lies", batch(me, my_epoch, held_me, held_me + 5, [_rec(held_me + 1)]))),
        st.just(("unknown field", batch(ORIGIN, 1, 0, 1, [_rec(1)]) + b"\xfa\x3f\x03abc")),  # valid: kept
        st.binary(min_size=1, max_size=50).map(lambda b: ("random bytes", b)),
    )
    return st.lists(lying, min_size=1, max_size=5)


def _integrity(home: Path) -> dict[tuple[str, int], int]:
    conn = sqlite3.connect(f"file:{home / 'meshd.db'}?mode=ro", uri=True)
    try:
        vec = {(o, int(e)): int(s) for o, e, s in conn.execute("SELECT origin, epoch, max_seq FROM vector")}
        for (o, e, n, lo, hi) in conn.execute("SELECT origin, epoch, COUNT(*), MIN(seq), MAX(seq) FROM log"
                                              " GROUP BY origin, epoch"):
            assert (n, lo, hi) == (vec.get((o, int(e))), 1, vec.get((o, int(e)))), f"log {o[:8]}/{e} has a hole"
        return vec
    finally:
        conn.close()


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_lying_batches_are_refused_and_valid_ones_kept(duel, data, caplog) -> None:  # type: ignore[no-untyped-def]
    hostile: Hostile = duel["hostile"]
    caplog.set_level(logging.INFO)

    async def go() -> None:
        store = await ReplicaStore(Config(home=duel["client"])).open()
        try:
            me, epoch = store.device_id, store.epoch
            held_me = await store.held(me, epoch)
            before = await store.vector()
            fresh = secrets.token_hex(16)  # a new log (per example) the peer may legitimately relay
            k = data.draw(st.integers(1, 4))
            valid = pb.PullResponse(origin=fresh, epoch=1, prev_seq=0, last_seq=k,
                                    records=[_rec(i + 1) for i in range(k)]).SerializeToString()
            bad = data.draw(_frames(me, epoch, held_me))
            hostile.frames = [valid] + [f for _, f in bad]
            g = Gossip(store, "client")
            sec = tls.PeerSecurity.load(duel["client"])
            async with sec.channel(f"127.0.0.1:{hostile.port}", None, C.CHANNEL_OPTIONS) as ch:
                try:
                    res = await g.sync(P.GrpcPeerClient(ch, me, timeout=10, pull_timeout=20), notify=False)
                except grpc.aio.AioRpcError as e:
                    pytest.fail(f"the round ended with {e.code()}: {e.details()}")
                assert not res.rotated
            after = await store.vector()
            assert after[(fresh, 1)] == k, "the valid batch before the lies was not kept"
            assert store.epoch == epoch and after[(me, epoch)] == held_me, "our own log moved"
            assert {lg: s for lg, s in after.items() if lg in before} == before
            for lg, s in after.items():
                if lg not in before and lg != (fresh, 1):
                    assert lg[0] == ORIGIN, lg  # only well-formed batches of plausible logs landed
            labels = [lbl for lbl, _ in bad]
            if any(x not in ("random bytes", "our log, old news", "unknown field") for x in labels):
                assert "refused a" in caplog.text or "dropped a batch" in caplog.text, labels
        finally:
            await store.close()
        _integrity(duel["client"])

    asyncio.run(go())


@pytest.mark.parametrize("what", ["undecodable", "another device", "ourselves", "protocol 9", "epoch 0",
                                  "held_of_you 2^64-1", "huge boot id"])
def test_hostile_handshake_replies_fail_the_round_cleanly(duel, what: str) -> None:  # type: ignore[no-untyped-def]
    hostile: Hostile = duel["hostile"]

    async def go() -> None:
        store = await ReplicaStore(Config(home=duel["client"])).open()
        try:
            me, epoch = store.device_id, store.epoch
            hid = hostile.material.device_id
            hello = {"another device": pb.Hello(device_id="d" * 32, epoch=5, protocol_version=1),
                     "ourselves": pb.Hello(device_id=me, epoch=epoch, protocol_version=1),
                     "protocol 9": pb.Hello(device_id=hid, epoch=5, protocol_version=9),
                     "epoch 0": pb.Hello(device_id=hid, epoch=0, protocol_version=1),
                     "huge boot id": pb.Hello(device_id=hid, epoch=5, protocol_version=1, boot_id="b" * 10_000),
                     }.get(what, pb.Hello(device_id=hid, epoch=5, protocol_version=1))
            hostile.reply = b"\x0a\xff\xff\xff\xff\x0f" if what == "undecodable" else pb.HandshakeResponse(
                hello=hello, held_of_you=U64 if what == "held_of_you 2^64-1" else 0).SerializeToString()
            hostile.frames = []
            before = await store.vector()
            sec = tls.PeerSecurity.load(duel["client"])
            async with sec.channel(f"127.0.0.1:{hostile.port}", hid, C.CHANNEL_OPTIONS) as ch:  # TLS-pinned
                with pytest.raises(PeerError) as e:
                    await Gossip(store, "client").sync(P.GrpcPeerClient(ch, me, timeout=10, expect_id=hid),
                                                       notify=False)
            assert str(e.value)
            assert store.epoch == epoch and await store.vector() == before
        finally:
            hostile.reply = None
            await store.close()

    asyncio.run(go())


def test_refusal_log_is_throttled_per_peer(caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.WARNING, "meshd.rpc")
    r = P.RefusalLog(burst=3, window=0.2)
    for i in range(50):
        r.warning("flooder", "refused %d", i)
    r.warning("other", "refused other")
    assert caplog.text.count("refused ") == 4 and "refused other" in caplog.text
    time.sleep(0.25)
    r.warning("flooder", "refused again")
    assert "47 more refusals were not logged" in caplog.text and "refused again" in caplog.text


def test_a_message_over_the_client_limit_ends_the_round_and_keeps_what_came_before(duel) -> None:  # type: ignore[no-untyped-def]
    hostile: Hostile = duel["hostile"]

    async def go() -> None:
        store = await ReplicaStore(Config(home=duel["client"])).open()
        try:
            fresh = secrets.token_hex(16)
            hostile.frames = [
                pb.PullResponse(origin=fresh, epoch=1, prev_seq=0, last_seq=2, records=[_rec(1), _rec(2)]).SerializeToString(),
                pb.PullResponse(origin=ORIGIN, epoch=13, prev_seq=0, last_seq=1,
                                records=[_rec(1, body=b"z" * (C.MAX_MESSAGE + 1))]).SerializeToString(),
            ]
            sec = tls.PeerSecurity.load(duel["client"])
            async with sec.channel(f"127.0.0.1:{hostile.port}", None, C.CHANNEL_OPTIONS) as ch:
                with pytest.raises(grpc.aio.AioRpcError) as e:
                    await Gossip(store, "client").sync(P.GrpcPeerClient(ch, store.device_id, timeout=10), notify=False)
            assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            v = await store.vector()
            assert v[(fresh, 1)] == 2 and (ORIGIN, 13) not in v
        finally:
            hostile.frames = []
            await store.close()
        _integrity(duel["client"])

    asyncio.run(go())
