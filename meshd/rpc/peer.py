"""The peer service (server side) and GrpcPeerClient (implements sync.gossip.PeerClient).

Servicers are adapters: convert, call the gossip engine, map errors to status codes.
"""

from __future__ import annotations

import asyncio
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

# Limits on what one peer may hold open (a member is trusted with data, not with our resources).
MAX_CALLS_PER_PEER = 8  # concurrent peer RPCs of one device (or one address without mTLS)
MAX_PULLS_PER_PEER = 2  # of which Pull streams
MAX_CONCURRENT_RPCS = 64  # the whole peer server
SLOW_READER_SECONDS = 30.0  # a Pull whose caller reads nothing for this long is ended
PULL = "/meshd.v1.PeerService/Pull"


class RefusalLog:
    """Logs refusals per peer, at most `burst` lines per `window` seconds each, so a peer that
    floods us with bad calls cannot flood the log; the suppressed count is logged when it resumes."""

    def __init__(self, burst: int = 20, window: float = 60.0) -> None:
        self.burst = burst
        self.window = window
        self.seen: dict[str, tuple[float, int, int]] = {}  # key -> (window start, lines, suppressed)

    def warning(self, key: str, msg: str, *args: object) -> None:
        import time

        now = time.monotonic()
        start, lines, quiet = self.seen.get(key, (now, 0, 0))
        if now - start > self.window:
            if quiet:
                log.warning("peer %s: %d more refusals were not logged", key[:40], quiet)
            start, lines, quiet = now, 0, 0
        if lines < self.burst:
            log.warning(msg, *args)
            lines += 1
        else:
            quiet += 1
        if len(self.seen) > 10_000:
            self.seen.clear()
        self.seen[key] = (start, lines, quiet)


refusals = RefusalLog()


class Malformed:
    """A request whose bytes are not the message they should be (answered INVALID_ARGUMENT)."""

    def __init__(self, what: str, why: str) -> None:
        self.what = what
        self.why = why


def _lenient(cls):  # type: ignore[no-untyped-def]
    def parse(data: bytes):  # type: ignore[no-untyped-def]
        try:
            return cls.FromString(data)
        except Exception as e:  # DecodeError, or anything protobuf raises on hostile bytes
            return Malformed(cls.__name__, str(e)[:120])
    return parse


def add_peer_service(server: grpc.aio.Server, servicer: PeerServicer) -> None:
    """Register meshd.v1.PeerService: like the generated helper, but bytes that do not parse reach
    the servicer as `Malformed` (a clear INVALID_ARGUMENT) instead of grpc's generic INTERNAL."""
    ser = {"Handshake": peer_pb2.HandshakeResponse, "Pull": peer_pb2.PullResponse, "Notify": peer_pb2.NotifyResponse}
    handlers = {
        "Handshake": grpc.unary_unary_rpc_method_handler(
            servicer.Handshake, _lenient(peer_pb2.HandshakeRequest), ser["Handshake"].SerializeToString),
        "Pull": grpc.unary_stream_rpc_method_handler(
            servicer.Pull, _lenient(peer_pb2.PullRequest), ser["Pull"].SerializeToString),
        "Notify": grpc.unary_unary_rpc_method_handler(
            servicer.Notify, _lenient(peer_pb2.NotifyRequest), ser["Notify"].SerializeToString),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("meshd.v1.PeerService", handlers),))


def peer_server(gossip: Gossip, creds: Credentials, on_contact: Contact, *, options: list | None = None,
                slow_reader: float = SLOW_READER_SECONDS, limits: PeerLimits | None = None) -> grpc.aio.Server:
    """The peer gRPC server as the daemon runs it (the caller adds a port and starts it):
    the credentials' interceptors (mTLS identity, revocation), per-peer limits, the service."""
    from meshd.rpc.creds import SERVER_OPTIONS

    server = grpc.aio.server(interceptors=[*creds.interceptors, limits or PeerLimits()],
                             options=options if options is not None else SERVER_OPTIONS,
                             maximum_concurrent_rpcs=MAX_CONCURRENT_RPCS)
    add_peer_service(server, PeerServicer(gossip, creds, on_contact, slow_reader=slow_reader))
    return server


def caller_key(context: grpc.aio.ServicerContext) -> str:
    """Who is calling, for limits: the device id from the certificate, else the caller's host."""
    from meshd.security import tls

    did = tls.peer_device_id(context)
    if did:
        return did
    return peer_host(context.peer()) or context.peer()


class PeerLimits(grpc.aio.ServerInterceptor):
    """Caps the calls one peer holds open at once; beyond them RESOURCE_EXHAUSTED (and a log line)."""

    def __init__(self, per_peer: int = MAX_CALLS_PER_PEER, pulls_per_peer: int = MAX_PULLS_PER_PEER) -> None:
        self.per_peer = per_peer
        self.pulls_per_peer = pulls_per_peer
        self.calls: dict[str, int] = {}
        self.pulls: dict[str, int] = {}
        self.refused = 0

    async def intercept_service(self, continuation, handler_call_details):  # type: ignore[no-untyped-def]
        handler = await continuation(handler_call_details)
        if handler is None or not handler_call_details.method.startswith("/meshd.v1.PeerService/"):
            return handler
        is_pull = handler_call_details.method == PULL
        limits = self

        def admit(context: grpc.aio.ServicerContext) -> str | None:
            key = caller_key(context)
            if limits.calls.get(key, 0) >= limits.per_peer or (
                    is_pull and limits.pulls.get(key, 0) >= limits.pulls_per_peer):
                limits.refused += 1
                refusals.warning(key, "peer %s: refused %s: too many open calls", key[:12],
                                 handler_call_details.method)
                return None
            limits.calls[key] = limits.calls.get(key, 0) + 1
            if is_pull:
                limits.pulls[key] = limits.pulls.get(key, 0) + 1
            return key

        def leave(key: str) -> None:
            for d in ((limits.calls, limits.pulls) if is_pull else (limits.calls,)):
                d[key] -= 1
                if d[key] <= 0:
                    del d[key]

        busy = (grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"too many open calls from this peer (at most {self.per_peer}, {self.pulls_per_peer} pulls)")
        if handler.unary_unary:
            fn = handler.unary_unary

            async def unary(request, context):  # type: ignore[no-untyped-def]
                key = admit(context)
                if key is None:
                    await context.abort(*busy)
                try:
                    return await fn(request, context)
                finally:
                    leave(key)

            return grpc.unary_unary_rpc_method_handler(unary, handler.request_deserializer,
                                                       handler.response_serializer)
        if handler.unary_stream:
            sfn = handler.unary_stream

            async def stream(request, context):  # type: ignore[no-untyped-def]
                key = admit(context)
                if key is None:
                    await context.abort(*busy)
                try:
                    res = sfn(request, context)
                    if hasattr(res, "__aiter__"):
                        async for item in res:
                            await context.write(item)
                    else:
                        await res
                finally:
                    leave(key)

            return grpc.unary_stream_rpc_method_handler(stream, handler.request_deserializer,
                                                        handler.response_serializer)
        return handler


class PeerServicer(peer_pb2_grpc.PeerServiceServicer):
    """meshd.v1.PeerService over the gossip engine."""

    def __init__(self, gossip: Gossip, creds: Credentials, on_contact: Contact, *,
                 slow_reader: float = SLOW_READER_SECONDS) -> None:
        self.gossip = gossip
        self.creds = creds
        self.on_contact = on_contact
        self.slow_reader = slow_reader

    async def _parsed(self, request, context: grpc.aio.ServicerContext) -> None:  # type: ignore[no-untyped-def]
        if isinstance(request, Malformed):
            await self._abort(context, grpc.StatusCode.INVALID_ARGUMENT,
                              f"malformed {request.what} message: {request.why}")

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
        refusals.warning(caller_key(context), "peer %s: %s: %s", context.peer(), code.name, msg)
        await context.abort(code, msg)

    async def _refused(self, context: grpc.aio.ServicerContext, e: PeerError):  # type: ignore[no-untyped-def]
        code = grpc.StatusCode.PERMISSION_DENIED if isinstance(e, PeerRefused) else grpc.StatusCode.INVALID_ARGUMENT
        await self._abort(context, code, str(e))

    async def Handshake(self, request, context):  # type: ignore[no-untyped-def]
        await self._parsed(request, context)
        h = await self._hello(request.hello, context)
        try:
            reply = await self.gossip.on_handshake(h)
        except PeerError as e:
            await self._refused(context, e)
        self.on_contact(h, peer_host(context.peer()), False)
        return convert.handshake_to_pb(reply)

    async def Pull(self, request, context):  # type: ignore[no-untyped-def]
        """Writes with context.write under a timeout: a caller that stops reading is cut off
        (DEADLINE_EXCEEDED) after SLOW_READER_SECONDS instead of holding the stream forever."""
        await self._parsed(request, context)
        caller = self.creds.caller_id(context)
        if caller is not None and caller in await self.gossip.store.forgotten():
            await self._abort(context, grpc.StatusCode.PERMISSION_DENIED, f"device {caller[:12]} was forgotten")
        try:
            vector = convert.vector_from_pb(request.vector)
            stream = self.gossip.serve_pull(vector, caller, request.max_records)
            try:
                async for b in stream:
                    try:
                        await asyncio.wait_for(context.write(convert.batch_to_pb(b)), self.slow_reader)
                    except asyncio.TimeoutError:
                        await self._abort(context, grpc.StatusCode.DEADLINE_EXCEEDED,
                                          f"the caller read nothing for {self.slow_reader:.0f} s; stream ended")
            finally:
                await stream.aclose()
        except PeerError as e:
            await self._refused(context, e)

    async def Notify(self, request, context):  # type: ignore[no-untyped-def]
        await self._parsed(request, context)
        h = await self._hello(request.hello, context)
        try:
            will = await self.gossip.on_notify(h, convert.vector_from_pb(request.vector))
        except PeerError as e:
            await self._refused(context, e)
        self.on_contact(h, peer_host(context.peer()), will)
        return peer_pb2.NotifyResponse(will_pull=will)


class GrpcPeerClient:
    """A PeerClient over one gRPC channel. A Handshake or Notify response that does not parse
    raises PeerError (the round fails with a clear reason); a Pull message that does not parse is
    refused, logged and skipped (the batches around it are kept or re-pulled)."""

    def __init__(self, channel: grpc.aio.Channel, my_id: str, *, timeout: float = 5.0,
                 pull_timeout: float = 300.0, expect_id: str | None = None) -> None:
        self.expect_id = expect_id  # the device the channel was dialled (and TLS-pinned) for
        ser = lambda m: m.SerializeToString()  # noqa: E731
        self._handshake = channel.unary_unary("/meshd.v1.PeerService/Handshake", request_serializer=ser,
                                              response_deserializer=_lenient(peer_pb2.HandshakeResponse))
        self._pull = channel.unary_stream(PULL, request_serializer=ser,
                                          response_deserializer=_lenient(peer_pb2.PullResponse))
        self._notify = channel.unary_unary("/meshd.v1.PeerService/Notify", request_serializer=ser,
                                           response_deserializer=_lenient(peer_pb2.NotifyResponse))
        self.md = metadata(my_id)
        self.timeout = timeout
        self.pull_timeout = pull_timeout
        self.malformed = 0
        self.peer = getattr(channel, "_target", "") or "the peer"

    @staticmethod
    def _parsed(m):  # type: ignore[no-untyped-def]
        if m is None or isinstance(m, Malformed):
            why = m.why if isinstance(m, Malformed) else "empty"
            raise PeerError(f"the peer sent a malformed {m.what if m is not None else 'message'}: {why}")
        return m

    async def handshake(self, hello: Hello) -> HandshakeReply:
        r = await self._handshake(peer_pb2.HandshakeRequest(hello=convert.hello_to_pb(hello)),
                                  timeout=self.timeout, metadata=self.md)
        reply = convert.handshake_from_pb(self._parsed(r))
        if self.expect_id and reply.hello.device_id != self.expect_id:
            raise PeerRefused(f"the peer's certificate names device {self.expect_id[:12]} but it answered as "
                              f"{reply.hello.device_id[:12]}")
        return reply

    async def pull(self, vector: Vector) -> AsyncIterator[Batch]:
        call = self._pull(peer_pb2.PullRequest(vector=convert.vector_to_pb(vector)),
                          timeout=self.pull_timeout, metadata=self.md)
        try:
            async for m in call:
                if m is None or isinstance(m, Malformed):  # refuse it, keep reading: later batches may be good
                    self.malformed += 1
                    log.warning("refused a malformed batch from %s: %s", self.peer,
                                m.why if isinstance(m, Malformed) else "empty message")
                    continue
                yield convert.batch_from_pb(m)
        finally:
            call.cancel()

    async def notify(self, hello: Hello, vector: Vector) -> bool:
        r = await self._notify(peer_pb2.NotifyRequest(hello=convert.hello_to_pb(hello),
                                                      vector=convert.vector_to_pb(vector)),
                               timeout=self.timeout, metadata=self.md)
        return bool(self._parsed(r).will_pull)
