"""Channel credentials, as one pluggable piece: the rest of meshd never picks a transport.

`MutualTls` (the default whenever the home belongs to a mesh) wraps meshd.security's
PeerSecurity: mTLS 1.3, the caller's device id from its certificate, revocation in an
interceptor. `Insecure` is plaintext for tests only (`meshd run --insecure-dev`); callers then
claim their id in metadata, which proves nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import grpc

MAX_MESSAGE = 4 << 20  # what a client accepts: batches stay under 1 MiB, with room to spare
MAX_REQUEST = 1 << 20  # what the peer server accepts: hellos and vectors (10,000 logs is ~400 KB)
MAX_STREAMS_PER_CONNECTION = 16  # HTTP/2 streams one connection may open (per-peer limits: rpc/peer.py)
ID_METADATA = "meshd-device-id"

# p2p-anchors.md §4: set keepalive on both sides, or idle pings earn GOAWAY too_many_pings.
# Liveness comes from the push-pull rounds themselves (each call has a deadline; a failed call
# drops the channel), so keepalive pings only reap dead connections: every 5 minutes is plenty,
# and an idle round then costs one Handshake call (~600 B on the wire). BDP probing is off: its
# PINGs followed every small response (~350 B each) and loopback/LAN windows do not need it.
KEEPALIVE_MS = 300_000
SERVER_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.so_reuseport", 0),  # a port another daemon holds is an error, not a silent share
    ("grpc.max_receive_message_length", MAX_REQUEST),
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.max_concurrent_streams", MAX_STREAMS_PER_CONNECTION),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 25_000),
    ("grpc.keepalive_time_ms", KEEPALIVE_MS),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.http2.bdp_probe", 0),
]
CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.keepalive_time_ms", KEEPALIVE_MS),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 1),
    # A restarted peer is dialled within a second, not after gRPC's default 1..120 s backoff.
    ("grpc.initial_reconnect_backoff_ms", 300),
    ("grpc.min_reconnect_backoff_ms", 300),
    ("grpc.max_reconnect_backoff_ms", 3_000),
    ("grpc.enable_retries", 0),
    ("grpc.http2.bdp_probe", 0),
]


class Credentials(Protocol):
    """What the daemon needs from a transport."""

    name: str
    interceptors: list[grpc.aio.ServerInterceptor]

    def add_port(self, server: grpc.aio.Server, listen: str) -> int: ...
    def channel(self, target: str, peer_id: str | None = None) -> grpc.aio.Channel: ...
    def caller_id(self, context: grpc.aio.ServicerContext) -> str | None: ...
    def refresh(self) -> None: ...


class Insecure:
    """Plaintext; the caller's id is only claimed (metadata). For tests and --insecure-dev."""

    name = "insecure"

    def __init__(self) -> None:
        self.interceptors: list[grpc.aio.ServerInterceptor] = []

    def add_port(self, server: grpc.aio.Server, listen: str) -> int:
        return server.add_insecure_port(listen)

    def channel(self, target: str, peer_id: str | None = None) -> grpc.aio.Channel:
        return grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)

    def caller_id(self, context: grpc.aio.ServicerContext) -> str | None:
        for k, v in context.invocation_metadata() or ():
            if k == ID_METADATA:
                return str(v)
        return None

    def refresh(self) -> None:
        pass


class MutualTls:
    """Mutual TLS with the mesh CA (meshd.security.tls.PeerSecurity); ids come from certificates."""

    name = "mtls"

    def __init__(self, security: Any, revoked: Callable[[], set[str]] | None = None) -> None:
        self.security = security
        if revoked is not None:  # a cheap in-memory revocation set instead of re-reading the db
            from meshd.security import tls

            security.interceptor = tls.PeerAuthInterceptor(revoked)
        self.interceptors: list[grpc.aio.ServerInterceptor] = [security.interceptor]
        self._cheap = revoked is not None

    def add_port(self, server: grpc.aio.Server, listen: str) -> int:
        return int(self.security.add_port(server, listen))

    def channel(self, target: str, peer_id: str | None = None) -> grpc.aio.Channel:
        return self.security.channel(target, peer_id, options=CHANNEL_OPTIONS)

    def caller_id(self, context: grpc.aio.ServicerContext) -> str | None:
        from meshd.security import tls

        return tls.peer_device_id(context)

    def refresh(self) -> None:
        """End open calls of devices revoked since the last refresh."""
        if self._cheap:
            self.security.interceptor.cut_revoked()
        else:
            self.security.cut_revoked()


def load_credentials(home: Path, device_id: str, *, insecure: bool = False,
                     revoked: Callable[[], set[str]] | None = None) -> Credentials:
    """mTLS from `<home>/tls/` (KeyMaterialError when the home is in no mesh), or Insecure."""
    if insecure:
        return Insecure()
    from meshd.security import tls

    return MutualTls(tls.PeerSecurity.load(home, device_id), revoked)


def metadata(device_id: str) -> tuple[tuple[str, str], ...]:
    """Call metadata every peer call carries (the claimed id; TLS proves it under mTLS)."""
    return ((ID_METADATA, device_id),)


def peer_host(peer: str) -> str | None:
    """The host part of grpc's `context.peer()` ("ipv4:10.0.0.2:5123", "ipv6:[::1]:5123")."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0] or None
    if kind == "ipv6":
        h = rest.rpartition(":")[0]
        return h if h.startswith("[") else f"[{h}]"
    return None


def options(extra: Iterable[tuple[str, Any]] = ()) -> list[tuple[str, Any]]:
    return [*SERVER_OPTIONS, *extra]
