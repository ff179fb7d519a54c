"""The peer service over real gRPC (plaintext, 127.0.0.1): a round works; bad input gets a clear
status, and the server keeps serving."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from meshd.config import Config
from meshd.rpc.creds import SERVER_OPTIONS, Insecure
from meshd.rpc.peer import GrpcPeerClient, PeerServicer
from meshd.store.writer import ReplicaStore
from meshd.sync.gossip import Gossip
from meshd.v1 import peer_pb2, peer_pb2_grpc
from tests.meshkit import synthetic_entries


async def _node(home: Path, n: int) -> Gossip:
    store = await ReplicaStore(Config(home=home)).open()

    def add() -> None:
        from meshd.store.replica import transaction
        with transaction(store.rw.conn):
            store.rw.append_usage(list(synthetic_entries(n, seed=1, tag=home.name)))
    await store._write(add)
    return Gossip(store, "boot")


def test_round_and_hostile_input(tmp_path: Path) -> None:
    async def go() -> None:
        a, b = await _node(tmp_path / "a", 500), await _node(tmp_path / "b", 10)
        creds = Insecure()
        server = grpc.aio.server(options=SERVER_OPTIONS)
        peer_pb2_grpc.add_PeerServiceServicer_to_server(PeerServicer(a, creds, lambda h, host, w: None), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = peer_pb2_grpc.PeerServiceStub(ch)
            bad = [
                stub.Handshake(peer_pb2.HandshakeRequest(hello=peer_pb2.Hello(device_id="x", epoch=1, protocol_version=1))),
                stub.Handshake(peer_pb2.HandshakeRequest(hello=peer_pb2.Hello(device_id="a" * 32, epoch=1, protocol_version=9))),
                stub.Handshake(peer_pb2.HandshakeRequest(hello=peer_pb2.Hello(device_id="a" * 32, epoch=1 << 63, protocol_version=1))),
                stub.Notify(peer_pb2.NotifyRequest(hello=peer_pb2.Hello(device_id=a.store.device_id, epoch=1, protocol_version=1))),
            ]
            codes = []
            for call in bad:
                with pytest.raises(grpc.aio.AioRpcError) as ei:
                    await call
                codes.append(ei.value.code())
            assert codes == [grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.PERMISSION_DENIED,
                             grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.PERMISSION_DENIED]
            for vec in ([peer_pb2.VectorEntry(origin="zz", epoch=1, max_seq=1)],
                        [peer_pb2.VectorEntry(origin="a" * 32, epoch=1, max_seq=1)] * 2):
                with pytest.raises(grpc.aio.AioRpcError) as ei:
                    async for _ in stub.Pull(peer_pb2.PullRequest(vector=vec)):
                        pass
                assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            res = await b.sync(GrpcPeerClient(ch, b.store.device_id))  # still serving, and a round works
            assert res.pulled == 501 and not res.errors
            assert await b.store.vector() == {**await a.store.vector(), **await b.store.vector()}
        await server.stop(0)
        for g in (a, b):
            await g.store.close()

    asyncio.run(go())
