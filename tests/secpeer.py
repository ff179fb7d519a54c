"""A stand-in peer for security tests in other processes / network namespaces.

    python tests/secpeer.py serve HOME LISTEN            # mTLS echo server + pairing (port+1); prints READY
    python tests/secpeer.py call HOME|- TARGET MODE [PEER_ID]
        MODE: member (HOME's certificate), plaintext, certless, foreign (a fresh other-mesh cert)
        prints the gRPC status name (OK:<caller id> on success)
    python tests/secpeer.py peer HOME TARGET         # meshd.v1.PeerService with HOME's certificate:
        prints "<Handshake status> <Pull status> <Notify status>" (a real daemon's peer API)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import grpc  # noqa: E402

from meshd.security import pki, tls  # noqa: E402
from meshd.security.testing import foreign_material  # noqa: E402

METHOD = "/meshd.test.Echo/Say"


def _ident(b: bytes) -> bytes:
    return b


async def serve(home: Path, listen: str) -> None:
    sec = tls.PeerSecurity.load(home)

    async def say(req: bytes, ctx) -> bytes:  # type: ignore[no-untyped-def]
        return (tls.peer_device_id(ctx) or "?").encode()

    server = grpc.aio.server(interceptors=[sec.interceptor])
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        "meshd.test.Echo", {"Say": grpc.unary_unary_rpc_method_handler(say, _ident, _ident)})])
    port = sec.add_port(server, listen)
    await server.start()
    pport = await sec.start_pairing(f"{listen.rpartition(':')[0]}:{port}")
    print(f"READY {port} {pport}", flush=True)
    await sec.watch(0.5)


async def call(home: str, target: str, mode: str, peer_id: str | None) -> str:
    opts = tls.channel_options(peer_id)
    if mode == "plaintext":
        ch = grpc.aio.insecure_channel(target)
    elif mode == "certless":
        ch = grpc.aio.secure_channel(target, grpc.ssl_channel_credentials(pki.load_material(Path(home)).ca_cert_pem), opts)
    elif mode == "foreign":
        m = foreign_material(Path(tempfile.mkdtemp()), "f" * 32)
        ca = pki.load_material(Path(home)).ca_cert_pem if home != "-" else m.ca_cert_pem
        ch = grpc.aio.secure_channel(target, grpc.ssl_channel_credentials(ca, m.device_key_pem, m.device_cert_pem), opts)
    else:
        ch = tls.secure_channel(target, pki.load_material(Path(home)), peer_id)
    async with ch:
        try:
            r = await ch.unary_unary(METHOD, request_serializer=_ident, response_deserializer=_ident)(b"", timeout=8)
            return f"OK:{r.decode()}"
        except grpc.aio.AioRpcError as e:
            return f"{e.code().name}:{e.details()}"


async def peer(home: str, target: str) -> str:
    """Handshake, Pull and Notify as the device HOME's certificate names; their status names."""
    from meshd.v1 import peer_pb2, peer_pb2_grpc

    m = pki.load_material(Path(home))
    hello = peer_pb2.Hello(device_id=m.device_id, epoch=1, protocol_version=1)
    out = []
    async with tls.secure_channel(target, m, None) as ch:
        stub = peer_pb2_grpc.PeerServiceStub(ch)
        for call in (lambda: stub.Handshake(peer_pb2.HandshakeRequest(hello=hello), timeout=8),
                     lambda: _drain(stub.Pull(peer_pb2.PullRequest(), timeout=8)),
                     lambda: stub.Notify(peer_pb2.NotifyRequest(hello=hello), timeout=8)):
            try:
                await call()
                out.append("OK")
            except grpc.aio.AioRpcError as e:
                out.append(e.code().name)
    return " ".join(out)


async def _drain(call) -> None:  # type: ignore[no-untyped-def]
    async for _ in call:
        pass


def main() -> None:
    if sys.argv[1] == "peer":
        print(asyncio.run(peer(sys.argv[2], sys.argv[3])))
    elif sys.argv[1] == "serve":
        asyncio.run(serve(Path(sys.argv[2]), sys.argv[3]))
    else:
        print(asyncio.run(call(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else None)))


if __name__ == "__main__":
    main()
