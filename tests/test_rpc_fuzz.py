"""Hostile input to the RPCs a stranger can reach: the pairing listener (no certificate needed).

Random bytes, malformed and oversized protobuf, out-of-order and over-long streams: the server
answers each with a clear gRPC status, never crashes, and keeps serving (a valid join still works
afterwards). The peer RPCs proper are fuzzed where they are defined (meshd/rpc).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshd.security import pairing, pki
from meshd.v1 import pairing_pb2 as pb

JOIN = "/meshd.v1.Pairing/Join"
A, B = "a" * 32, "b" * 32
CLEAR = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION,
         grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.PERMISSION_DENIED,
         grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}


@pytest.fixture(scope="module")
def server(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A pairing server in its own thread and loop, with a generous rate limit."""
    import threading

    home = tmp_path_factory.mktemp("inviter")
    material = pki.init_mesh(home, A)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, object] = {}

    async def start() -> None:
        from meshd.v1 import pairing_pb2_grpc

        srv = grpc.aio.server(options=[("grpc.max_receive_message_length", pairing.MAX_MESSAGE)])
        pairing_pb2_grpc.add_PairingServicer_to_server(
            pairing.PairingServicer(home, material, limiter=pairing.RateLimiter(per_peer=10**6, total=10**6)), srv)
        box["port"] = srv.add_insecure_port("127.0.0.1:0")
        box["srv"] = srv
        await srv.start()
        ready.set()

    t = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    t.start()
    assert ready.wait(10)
    yield home, box["port"]
    asyncio.run_coroutine_threadsafe(box["srv"].stop(0), loop).result(10)  # type: ignore[attr-defined]
    loop.call_soon_threadsafe(loop.stop)


def _send(port: int, frames: list[bytes]) -> grpc.StatusCode:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        call = ch.stream_stream(JOIN, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        try:
            for _ in call(iter(frames), timeout=10):
                pass
            return grpc.StatusCode.OK
        except grpc.RpcError as e:
            return e.code()  # type: ignore[no-any-return]


def _still_serves(home: Path, port: int) -> None:
    code, _ = pairing.InviteStore(home).create(60)
    import secrets

    m = asyncio.run(pairing.join_async(home.parent / f"j{code.code_id}", code, f"127.0.0.1:{port}",
                                       secrets.token_hex(16)))
    assert m.fingerprint == pki.mesh_fingerprint(home)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.lists(st.binary(max_size=300), min_size=0, max_size=4))
def test_random_bytes(server, frames) -> None:  # type: ignore[no-untyped-def]
    _, port = server
    code = _send(port, frames)
    assert code in CLEAR | {grpc.StatusCode.OK}, code


start_msgs = st.builds(
    lambda v, cid, pake: pb.JoinMessage(start=pb.Start(version=v, code_id=cid, pake=pake)).SerializeToString(),
    st.integers(0, 2**32 - 1), st.text(max_size=10), st.binary(max_size=200))
finish_msgs = st.builds(
    lambda c, n, s: pb.JoinMessage(finish=pb.Finish(confirm=c, nonce=n, sealed_csr=s)).SerializeToString(),
    st.binary(max_size=64), st.binary(max_size=20), st.binary(max_size=400))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.lists(st.one_of(start_msgs, finish_msgs), min_size=1, max_size=3))
def test_malformed_protocol_messages(server, frames) -> None:  # type: ignore[no-untyped-def]
    _, port = server
    assert _send(port, frames) in CLEAR


def test_oversized_message_is_refused(server) -> None:  # type: ignore[no-untyped-def]
    home, port = server
    big = pb.JoinMessage(start=pb.Start(version=1, code_id="abcd", pake=b"x" * (pairing.MAX_MESSAGE + 10)))
    assert _send(port, [big.SerializeToString()]) == grpc.StatusCode.RESOURCE_EXHAUSTED
    _still_serves(home, port)


def test_unknown_fields_and_live_invite_garbage_pake(server) -> None:  # type: ignore[no-untyped-def]
    home, port = server
    code, _ = pairing.InviteStore(home).create(60)
    msg = pb.JoinMessage(start=pb.Start(version=1, code_id=code.code_id, pake=b"\x41" + b"\x00" * 32))
    raw = msg.SerializeToString() + b"\xfa\x3f\x03abc"  # unknown field 1023
    status = _send(port, [raw])
    assert status in CLEAR
    assert pairing.InviteStore(home).state(code.code_id) in ("claimed", "burned")  # the attempt consumed it
    _still_serves(home, port)
