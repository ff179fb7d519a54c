"""The peer service (server side) and GrpcPeerClient (implements sync.gossip.PeerClient).

Servicers are adapters: convert, call the gossip engine, map errors to status codes.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

import grpc

from meshd.core.oplog import Batch, Vector
from meshd.errors import PeerError, PeerRefused
from meshd.rpc import convert
from meshd.rpc.creds import Credentials, metadata, peer_host
from meshd.sync.gossip import Gossip, HandshakeReply, Hello
from meshd.v1 import peer_pb2, peer_pb2_grpc

log = logging.getLogger("meshd.rpc")

Contact = Callable[[Hello, str | None, bool], None]  # (hello, caller host, wants a pull back)


class PeerServicer(peer_pb2_grpc.PeerServiceServicer):
    """meshd.v1.PeerService over the gossip engine."""

    def __init__(self, gossip: Gossip, creds: Credentials, on_contact: Contact) -> None:
        self.gossip = gossip
        self.creds = creds
        self.on_contact = on_contact

    async def _hello(self, m: peer_pb2.Hello, context: grpc.aio.ServicerContext) -> Hello:
        try:
            h = convert.hello_from_pb(m)
        except PeerError as e:
            await self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(e))
        verified = self.creds.caller_id(context) if self.creds.name == "mtls" else None
        if verified is not None and verified != h.device_id:
            await self._abort(context, grpc.StatusCode.PERMISSION_DENIED,
                              f"hello names device {h.device_id[:12]} but the certificate names {verified[:12]}")
        return h

    async def _abort(self, context: grpc.aio.ServicerContext, code: grpc.StatusCode, msg: str):  # type: ignore[no-untyped-def]
        log.warning("peer %s: %s: %s", context.peer(), code.name, msg)
        await context.abort(code, msg)

    async def _refused(self, context: grpc.aio.ServicerContext, e: PeerError):  # type: ignore[no-untyped-def]
        code = grpc.StatusCode.PERMISSION_DENIED if isinstance(e, PeerRefused) else grpc.StatusCode.INVALID_ARGUMENT
        await self._abort(context, code, str(e))

    async def Handshake(self, request, context):  # type: ignore[no-untyped-def]
        h = await self._hello(request.hello, context)
        try:
            reply = await self.gossip.on_handshake(h)
        except PeerError as e:
            await self._refused(context, e)
        self.on_contact(h, peer_host(context.peer()), False)
        return convert.handshake_to_pb(reply)

    async def Pull(self, request, context):  # type: ignore[no-untyped-def]
        caller = self.creds.caller_id(context)
        if caller is not None and caller in await self.gossip.store.forgotten():
            await self._abort(context, grpc.StatusCode.PERMISSION_DENIED, f"device {caller[:12]} was forgotten")
        try:
            vector = convert.vector_from_pb(request.vector)
            async for b in self.gossip.serve_pull(vector, caller, request.max_records):
                yield convert.batch_to_pb(b)
        except PeerError as e:
            await self._refused(context, e)

    async def Notify(self, request, context):  # type: ignore[no-untyped-def]
        h = await self._hello(request.hello, context)
        try:
            will = await self.gossip.on_notify(h, convert.vector_from_pb(request.vector))
        except PeerError as e:
            await self._refused(context, e)
        self.on_contact(h, peer_host(context.peer()), will)
        return peer_pb2.NotifyResponse(will_pull=will)


class GrpcPeerClient:
    """A PeerClient over one gRPC channel."""

    def __init__(self, channel: grpc.aio.Channel, my_id: str, *, timeout: float = 5.0,
                 pull_timeout: float = 300.0) -> None:
        self.stub = peer_pb2_grpc.PeerServiceStub(channel)
        self.md = metadata(my_id)
        self.timeout = timeout
        self.pull_timeout = pull_timeout

    async def handshake(self, hello: Hello) -> HandshakeReply:
        r = await self.stub.Handshake(peer_pb2.HandshakeRequest(hello=convert.hello_to_pb(hello)),
                                      timeout=self.timeout, metadata=self.md)
        return convert.handshake_from_pb(r)

    async def pull(self, vector: Vector) -> AsyncIterator[Batch]:
        call = self.stub.Pull(peer_pb2.PullRequest(vector=convert.vector_to_pb(vector)),
                              timeout=self.pull_timeout, metadata=self.md)
        try:
            async for m in call:
                yield convert.batch_from_pb(m)
        finally:
            call.cancel()

    async def notify(self, hello: Hello, vector: Vector) -> bool:
        r = await self.stub.Notify(peer_pb2.NotifyRequest(hello=convert.hello_to_pb(hello),
                                                          vector=convert.vector_to_pb(vector)),
                                   timeout=self.timeout, metadata=self.md)
        return bool(r.will_pull)
