"""Mutual TLS between peers, the peer-auth interceptor and revocation.

- Server: `ssl_server_credentials([(device key, device cert)], root_certificates=mesh CA,
  require_client_auth=True)`: a client without a certificate, or with one from another CA, fails
  in the TLS handshake (the client sees UNAVAILABLE). TLS 1.3 is what grpcio negotiates.
- Client: `ssl_channel_credentials(mesh CA, device key, device cert)` with
  `grpc.ssl_target_name_override` = `<peer-id>.meshd.invalid` when the peer's id is known, else
  `member.meshd.invalid` (any member of this mesh; the id is then learnt from the peer).
- `PeerAuthInterceptor` runs on every peer RPC: it takes the caller's device id from its
  certificate (auth context), refuses calls without one (UNAUTHENTICATED) and calls from revoked
  (forgotten) devices (PERMISSION_DENIED), and cancels a device's open calls when it is revoked.
  Handlers read the caller's id with `peer_device_id(context)`.
- Revocation = the replica's `forget` records (they gossip like any record): `ForgottenIds`
  reads them from the database and is refreshed by the daemon (cheap, cached).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import grpc
import orjson

from meshd.security import pki

log = logging.getLogger("meshd.tls")

_PEER_ID_KEY = "meshd.peer_device_id"


# -- credentials -------------------------------------------------------------------------------


def server_credentials(material: pki.MeshMaterial) -> grpc.ServerCredentials:
    """mTLS server credentials: our cert, the mesh CA as the only client trust root, client certs required."""
    return grpc.ssl_server_credentials(
        [(material.device_key_pem, material.device_cert_pem)],
        root_certificates=material.ca_cert_pem,
        require_client_auth=True,
    )


def channel_credentials(material: pki.MeshMaterial) -> grpc.ChannelCredentials:
    """mTLS client credentials: trust only the mesh CA, present our device certificate."""
    return grpc.ssl_channel_credentials(
        root_certificates=material.ca_cert_pem,
        private_key=material.device_key_pem,
        certificate_chain=material.device_cert_pem,
    )


def channel_options(peer_id: str | None) -> list[tuple[str, Any]]:
    """The name the client checks in the peer's certificate: the peer's own SAN when known."""
    name = pki.san_for(peer_id) if peer_id and pki.is_device_id(peer_id) else pki.MEMBER_SAN
    return [("grpc.ssl_target_name_override", name)]


def secure_channel(target: str, material: pki.MeshMaterial, peer_id: str | None = None,
                   options: Iterable[tuple[str, Any]] = ()) -> grpc.aio.Channel:
    return grpc.aio.secure_channel(target, channel_credentials(material), options=[*options, *channel_options(peer_id)])


# -- who is calling ----------------------------------------------------------------------------


def _first(ctx: dict[str, list[bytes]], key: str) -> str | None:
    v = ctx.get(key)
    if not v:
        return None
    x = v[0]
    return x.decode(errors="replace") if isinstance(x, bytes) else str(x)


def device_id_from_auth(auth: dict[str, list[bytes]]) -> str | None:
    """The device id a verified peer certificate names (CN and SAN `<id>.meshd.invalid` agree)."""
    if _first(auth, "transport_security_type") != "ssl":
        return None
    cn = _first(auth, "x509_common_name")
    sans = [s.decode(errors="replace") if isinstance(s, bytes) else str(s) for s in auth.get("x509_subject_alternative_name", [])]
    if not cn or not pki.is_device_id(cn):
        return None
    if sans and pki.san_for(cn) not in sans:
        return None
    if not _first(auth, "x509_pem_cert"):
        return None
    return cn


def peer_device_id(context: grpc.aio.ServicerContext) -> str | None:
    """The calling device's id (set by PeerAuthInterceptor; else read from the auth context)."""
    try:
        return device_id_from_auth(context.auth_context())
    except Exception:
        return None


# -- revocation --------------------------------------------------------------------------------


def _forget_target(body: bytes) -> str | None:
    try:
        d = orjson.loads(body)
    except orjson.JSONDecodeError:
        s = bytes(body).decode(errors="replace").strip()
        return s if pki.is_device_id(s) else None
    if isinstance(d, str):
        return d if pki.is_device_id(d) else None
    if isinstance(d, dict):
        for k in ("device_id", "device", "target", "id", "forget"):
            v = d.get(k)
            if isinstance(v, str) and pki.is_device_id(v):
                return v
    return None


def forgotten_ids_from_db(conn: sqlite3.Connection) -> set[str]:
    """Every device id a `forget` record in the replica names (tombstones are never dropped)."""
    out: set[str] = set()
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "forgotten" in tables:
            cols = [r[1] for r in conn.execute("PRAGMA table_info(forgotten)")]
            col = "device_id" if "device_id" in cols else cols[0]
            out.update(str(r[0]) for r in conn.execute(f"SELECT {col} FROM forgotten"))
        for (body,) in conn.execute("SELECT body FROM log WHERE kind='forget'"):
            t = _forget_target(bytes(body))
            if t:
                out.add(t)
    except sqlite3.Error as e:
        log.warning("revocation: cannot read forget records: %s", e)
    return out


class ForgottenIds:
    """A cached view of the revoked device ids, re-read from the replica at most every `ttl` s."""

    def __init__(self, db_path: Path | None = None, *, ttl: float = 1.0, extra: Iterable[str] = ()) -> None:
        self.db_path = db_path
        self.ttl = ttl
        self.extra = set(extra)
        self._ids: set[str] = set()
        self._at = 0.0
        self._conn: sqlite3.Connection | None = None

    def add(self, device_id: str) -> None:
        self.extra.add(device_id)

    def refresh(self) -> set[str]:
        ids = set(self.extra)
        if self.db_path is not None and Path(self.db_path).exists():
            try:
                if self._conn is None:
                    self._conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5, isolation_level=None)
                ids |= forgotten_ids_from_db(self._conn)
            except sqlite3.Error as e:
                log.warning("revocation: cannot open %s: %s", self.db_path, e)
        self._ids = ids
        self._at = time.monotonic()
        return ids

    def __call__(self) -> set[str]:
        if time.monotonic() - self._at > self.ttl:
            return self.refresh()
        return self._ids

    def __contains__(self, device_id: object) -> bool:
        return device_id in self()


# -- the interceptor ---------------------------------------------------------------------------


class PeerAuthInterceptor(grpc.aio.ServerInterceptor):
    """Refuses peer RPCs without a mesh certificate or from revoked devices; cancels revoked calls.

    `open_methods`: full method names a certificate-less client may call (pairing, when it shares a
    server; by default none — pairing has its own listener). On a server created with
    `server_credentials`, TLS already refused foreign and missing certificates; this is the
    second line and the revocation check.
    """

    def __init__(self, revoked: Callable[[], set[str]], open_methods: Iterable[str] = ()) -> None:
        self.revoked = revoked
        self.open_methods = frozenset(open_methods)
        self.active: dict[str, set[asyncio.Event]] = {}
        self.refused = 0

    async def intercept_service(self, continuation, handler_call_details):  # type: ignore[no-untyped-def]
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method in self.open_methods:
            return handler
        return _wrap(handler, self, method)

    def check(self, context: grpc.aio.ServicerContext, method: str) -> tuple[grpc.StatusCode, str] | str:
        try:
            auth = context.auth_context()
        except Exception:
            auth = {}
        did = device_id_from_auth(auth)
        if did is None:
            self.refused += 1
            log.warning("refused %s from %s: no mesh certificate", method, context.peer())
            return grpc.StatusCode.UNAUTHENTICATED, "a mesh client certificate is required (pair with `meshctl join`)"
        if did in self.revoked():
            self.refused += 1
            log.warning("refused %s from revoked device %s (%s)", method, did[:12], context.peer())
            return grpc.StatusCode.PERMISSION_DENIED, f"device {did[:12]} was removed from this mesh"
        return did

    def _enter(self, did: str) -> asyncio.Event:
        ev = asyncio.Event()
        self.active.setdefault(did, set()).add(ev)
        return ev

    def _leave(self, did: str, ev: asyncio.Event) -> None:
        s = self.active.get(did)
        if s is not None:
            s.discard(ev)
            if not s:
                self.active.pop(did, None)

    def cut_revoked(self) -> int:
        """End every open call of a now-revoked device (PERMISSION_DENIED); returns how many.

        The daemon calls this after applying gossip (a forget record may have arrived) and on a timer.
        """
        revoked = self.revoked()
        n = 0
        for did in [d for d in self.active if d in revoked]:
            k = 0
            for ev in list(self.active.get(did, ())):
                if not ev.is_set():
                    ev.set()
                    k += 1
            n += k
            log.warning("revocation: closing %d open call(s) of device %s", k, did[:12])
        return n

    def open_calls(self, device_id: str) -> int:
        return len(self.active.get(device_id, ()))


async def _race(aw: Any, ev: asyncio.Event) -> tuple[bool, Any]:
    """Await `aw` unless `ev` fires first; (True, result) or (False, None) after cancelling `aw`."""
    task = asyncio.ensure_future(aw)
    if ev.is_set():
        task.cancel()
        return False, None
    stop = asyncio.ensure_future(ev.wait())
    try:
        done, _ = await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        stop.cancel()
        raise
    if task in done:
        stop.cancel()
        return True, task.result()
    task.cancel()
    return False, None


_REVOKED_MSG = "this device was removed from the mesh; closing the call"


def _wrap(handler: grpc.RpcMethodHandler, icpt: PeerAuthInterceptor, method: str) -> grpc.RpcMethodHandler:
    def unary_result(fn):  # type: ignore[no-untyped-def]
        async def wrapped(request_or_iterator, context):  # type: ignore[no-untyped-def]
            r = icpt.check(context, method)
            if not isinstance(r, str):
                await context.abort(*r)
            ev = icpt._enter(r)
            try:
                res = fn(request_or_iterator, context)
                if not inspect.isawaitable(res):
                    return res
                ok, value = await _race(res, ev)
                if not ok:
                    await context.abort(grpc.StatusCode.PERMISSION_DENIED, _REVOKED_MSG)
                return value
            finally:
                icpt._leave(r, ev)

        return wrapped

    def stream_result(fn):  # type: ignore[no-untyped-def]
        async def wrapped(request_or_iterator, context):  # type: ignore[no-untyped-def]
            r = icpt.check(context, method)
            if not isinstance(r, str):
                await context.abort(*r)
            ev = icpt._enter(r)
            try:
                res = fn(request_or_iterator, context)
                if hasattr(res, "__aiter__"):
                    it = res.__aiter__()
                    try:
                        while True:
                            try:
                                ok, item = await _race(it.__anext__(), ev)
                            except StopAsyncIteration:
                                break
                            if not ok:
                                await context.abort(grpc.StatusCode.PERMISSION_DENIED, _REVOKED_MSG)
                            yield item
                    finally:
                        aclose = getattr(it, "aclose", None)
                        if aclose is not None:
                            try:
                                await aclose()
                            except Exception:
                                pass
                elif inspect.isawaitable(res):  # a handler that writes with context.write
                    ok, _ = await _race(res, ev)
                    if not ok:
                        await context.abort(grpc.StatusCode.PERMISSION_DENIED, _REVOKED_MSG)
                elif res is not None:
                    for item in res:
                        if ev.is_set():
                            await context.abort(grpc.StatusCode.PERMISSION_DENIED, _REVOKED_MSG)
                        yield item
            finally:
                icpt._leave(r, ev)

        return wrapped
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(unary_result(handler.unary_unary), handler.request_deserializer, handler.response_serializer)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(unary_result(handler.stream_unary), handler.request_deserializer, handler.response_serializer)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(stream_result(handler.unary_stream), handler.request_deserializer, handler.response_serializer)
    if handler.stream_stream:
        return grpc.stream_stream_rpc_method_handler(stream_result(handler.stream_stream), handler.request_deserializer, handler.response_serializer)
    return handler


# -- one object for the daemon ------------------------------------------------------------------


class PeerSecurity:
    """Everything the daemon needs: credentials, interceptor, revocation, pairing listener.

        sec = PeerSecurity.load(home, device_id)        # KeyMaterialError: run meshctl init/join first
        server = grpc.aio.server(interceptors=[sec.interceptor], ...)
        port = sec.add_port(server, listen)              # mTLS, client certs required
        ch = sec.channel("10.0.0.2:47474", peer_id)      # mTLS client, checks the peer's SAN
        await sec.start_pairing(listen)                  # CA holders only; no-op elsewhere
        sec.revoked_now(device_id) / sec.cut_revoked()   # after applying gossip
    """

    def __init__(self, home: Path, material: pki.MeshMaterial, db_path: Path | None = None) -> None:
        self.home = Path(home)
        self.material = material
        self.revoked = ForgottenIds(db_path if db_path is not None else self.home / "meshd.db")
        self.interceptor = PeerAuthInterceptor(self.revoked)
        self.pairing_server: grpc.aio.Server | None = None
        self.pairing_port: int | None = None

    @classmethod
    def load(cls, home: Path, device_id: str | None = None, db_path: Path | None = None) -> PeerSecurity:
        return cls(home, pki.load_material(home, expect_device_id=device_id), db_path)

    @property
    def fingerprint(self) -> str:
        return self.material.fingerprint

    @property
    def device_id(self) -> str:
        return self.material.device_id

    def server_credentials(self) -> grpc.ServerCredentials:
        return server_credentials(self.material)

    def add_port(self, server: grpc.aio.Server, listen: str) -> int:
        return server.add_secure_port(listen, server_credentials(self.material))

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return channel_credentials(self.material)

    def channel(self, target: str, peer_id: str | None = None, options: Iterable[tuple[str, Any]] = ()) -> grpc.aio.Channel:
        return secure_channel(target, self.material, peer_id, options)

    def revoked_now(self, device_id: str) -> bool:
        return device_id in self.revoked.refresh()

    def cut_revoked(self) -> int:
        self.revoked.refresh()
        return self.interceptor.cut_revoked()

    async def start_pairing(self, listen: str, pairing_listen: str | None = None) -> int | None:
        """Serve meshd.v1.Pairing on `pairing_listen` (default: peer port + 1) if we hold the CA key."""
        if not self.material.is_ca_holder:
            return None
        from meshd.security import pairing

        where = pairing.pairing_listen(listen, pairing_listen)
        self.pairing_server, self.pairing_port = await pairing.start_pairing_server(
            self.home, self.material, where, revoked=self.revoked.refresh)
        host = where.rpartition(":")[0]
        pairing.write_pairing_address(self.home, f"{host}:{self.pairing_port}")
        log.info("pairing: listening on %s:%d", host, self.pairing_port)
        return self.pairing_port

    async def watch(self, interval: float = 2.0) -> None:
        """Run forever: end revoked devices' open calls within `interval` of the forget arriving."""
        while True:
            await asyncio.sleep(interval)
            try:
                self.cut_revoked()
            except Exception as e:  # never let the watcher die
                log.warning("revocation watcher: %s", e)

    async def stop(self, grace: float = 1.0) -> None:
        if self.pairing_server is not None:
            await self.pairing_server.stop(grace)
            self.pairing_server = None
