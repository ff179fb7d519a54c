"""`meshd run`: the composition root. One asyncio process: peer gRPC server (TCP), local gRPC
server (Unix socket in a 0700 folder), ingest loop, anti-entropy loop, mDNS discovery.

SQLite work runs on the store's writer/reader threads (meshd/store/writer.py), never on the loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from meshd import __version__
from meshd.config import Config
from meshd.errors import LogRuleError, MeshError, PeerError, PeerRefused, SelfPeer
from meshd.rpc import convert
from meshd.rpc.creds import Credentials, load_credentials
from meshd.rpc.local import LocalServicer, socket_path
from meshd.rpc.peer import GrpcPeerClient, peer_server
from meshd.store.writer import ReplicaStore
from meshd.sync.gossip import Gossip, Hello, SyncResult, behind
from meshd.sync.peers import PeerTable
from meshd.v1 import local_pb2, local_pb2_grpc

log = logging.getLogger("meshd")

INGEST_POLL = 1.0  # without a file watch (not Linux, watch limit): how often ingest looks for new lines
WATCHED_POLL = 5.0  # with inotify: the safety-net poll (new roots, missed events, meshctl appends)
HOUSEKEEPING = 2.0  # refresh the cached vector and the revoked set (also right after each pull)
WATCH_SETTLE = 0.005  # after a file event, let the writer finish its line before ingesting
REVOKE_GRACE = 0.2  # seconds members' in-flight calls get when revocation closes every connection
FIRST_ROUND_CAP = 2.5  # seconds the first sync round may delay ingest (restored-backup check)


@dataclass
class Options:
    listen: str
    peers: tuple[str, ...]
    mdns: bool
    sync_interval: float
    insecure: bool = False
    api_listen: str | None = None  # the local API over TCP as well (mutual TLS only)


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Daemon:
    """Everything `meshd run` runs, wired together."""

    def __init__(self, config: Config, opts: Options) -> None:
        self.config = config
        self.opts = opts
        self.store = ReplicaStore(config)
        self.table = PeerTable(opts.sync_interval, backoff_cap=max(5.0, min(15.0, opts.sync_interval)))
        self.boot_id = secrets.token_hex(8)
        self.started_ms = wall_ms()
        self.loops_started = 0.0  # monotonic time the main loops began (the first-ingest wait counts from it)
        self.stop_event = asyncio.Event()
        self.wake = asyncio.Event()
        self.ingest_due = asyncio.Event()
        self.revoked: set[str] = set()
        self.channels: dict[str, grpc.aio.Channel] = {}
        self.pinned: dict[str, str | None] = {}  # address -> the device id its channel checks in TLS
        self.unpin_next: set[str] = set()  # addresses whose pinned dial failed: learn the id again
        self.again: set[str] = set()
        self.notifying: dict[str, bool] = {}
        self.tasks: set[asyncio.Task[object]] = set()
        self.vector: dict[tuple[str, int], int] = {}
        from meshd.rpc.queries import QueryRunner, VectorFeed

        self.feed = VectorFeed()  # wakes local API watchers when the vector changes
        self.queries: QueryRunner | None = None  # the local API's read-only query threads
        self.saved: dict[str, float] = {}
        self.port = 0
        self.creds: Credentials | None = None
        self.gossip: Gossip | None = None
        self.discovery = None
        self.health = health.aio.HealthServicer()
        self.peer_server: grpc.aio.Server | None = None
        self.server_lock = asyncio.Lock()

    # -- lifecycle -----------------------------------------------------------------------------

    async def run(self) -> int:
        await self.store.open()
        self.creds = load_credentials(self.config.home, self.store.device_id, insecure=self.opts.insecure,
                                      revoked=lambda: self.revoked)
        self.revoked = await self.store.forgotten()
        if self.opts.api_listen and getattr(self.creds, "security", None) is None:
            raise MeshError("--api-listen serves the local API with mutual TLS, which needs a mesh",
                            hint="run `meshctl init` or `meshctl join` first (never with --insecure-dev)")
        host, _, port = self.opts.listen.rpartition(":")
        self.gossip = Gossip(self.store, self.boot_id, on_applied=self._after_pull)
        await self._serve_peers(self.opts.listen)
        self.gossip.listen_port = self.port
        local_server = await self._start_local()
        api_server = await self._start_api_tcp(self.opts.api_listen) if self.opts.api_listen else None
        sec = getattr(self.creds, "security", None)
        if sec is not None:
            try:
                await sec.start_pairing(f"{host}:{self.port}", self.config.extra.get("pairing_listen"))  # type: ignore[arg-type]
            except Exception as e:
                log.warning("pairing listener not started: %s", e)
        await self._load_peers()
        if self.opts.mdns:
            await self._start_mdns(host)
        await self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        await self.health.set("meshd.v1.PeerService", health_pb2.HealthCheckResponse.SERVING)
        await self.health.set("meshd.v1.LocalService", health_pb2.HealthCheckResponse.SERVING)
        shown = host if host not in ("", "0.0.0.0") else "0.0.0.0"
        sys.stderr.write(f"meshd: listening on {shown}:{self.port} as {self.store.device_id}\n")
        sys.stderr.flush()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop_event.set)
        self.loops_started = time.monotonic()
        self._spawn(self._main_loops())
        await self.stop_event.wait()
        log.info("shutting down")
        await self.health.enter_graceful_shutdown()
        self.feed.close()
        if self.discovery is not None:
            await self.discovery.close()
        tasks = list(self.tasks)
        for t in tasks:
            t.cancel()
        await asyncio.wait(tasks, timeout=3) if tasks else None
        async with self.server_lock:
            if self.peer_server is not None:
                await self.peer_server.stop(2)
        await local_server.stop(1)
        if api_server is not None:
            await api_server.stop(1)
        if sec is not None:
            await sec.stop(0.5)
        for ch in self.channels.values():
            await ch.close()
        await self.store.close()
        if self.queries is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.queries.close)
        return 0

    async def _serve_peers(self, listen: str) -> None:
        """Start the peer gRPC server (mTLS, the auth interceptor, limits) on `listen`."""
        assert self.creds is not None and self.gossip is not None
        server = peer_server(self.gossip, self.creds, self._contact)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        port = self._bind(server, listen, "")
        await server.start()
        self.peer_server, self.port = server, port

    def _bind(self, server: grpc.aio.Server, listen: str, what: str) -> int:
        """Add a TCP port with the mesh credentials; MeshError (one line) when it cannot be had."""
        assert self.creds is not None
        try:
            port = self.creds.add_port(server, listen)
        except RuntimeError as e:
            raise MeshError(f"cannot listen on {listen}{what}: {e}") from None
        if not port:
            raise MeshError(f"cannot listen on {listen}{what} (address in use?)")
        return port

    async def _close_peer_connections(self) -> None:
        """Close every open peer connection: grpc cannot close one client's connection, so the peer
        server is replaced on the same port. Used when a device is revoked; members reconnect at
        once (their next call), the revoked device's calls are refused by the interceptor."""
        host = self.opts.listen.rpartition(":")[0]
        async with self.server_lock:
            if self.peer_server is None or self.stop_event.is_set():
                return
            await self.peer_server.stop(REVOKE_GRACE)
            self.peer_server = None
            for attempt in range(50):
                try:
                    await self._serve_peers(f"{host}:{self.port}")
                    log.info("revocation: closed every peer connection; serving again on port %d", self.port)
                    return
                except MeshError as e:
                    if attempt == 49:
                        log.error("revocation: cannot serve peers again: %s; stopping", e)
                        self.stop_event.set()
                        return
                    await asyncio.sleep(0.1)

    async def _start_local(self) -> grpc.aio.Server:
        path = socket_path(self.config.home)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.parent.stat().st_uid != os.getuid():
            raise MeshError(f"{path.parent} belongs to another user; refusing to put the local socket there")
        os.chmod(path.parent, 0o700)
        if path.exists():
            path.unlink()
        server = grpc.aio.server()
        from meshd.rpc.queries import QueryRunner

        self.queries = QueryRunner(self.config)
        self._add_local_services(server)
        try:
            server.add_insecure_port(f"unix://{path}")
        except RuntimeError as e:
            raise MeshError(f"cannot create the local socket {path}: {e}") from None
        await server.start()
        return server

    def _add_local_services(self, server: grpc.aio.Server) -> None:
        """LocalService, health and reflection on one server (the Unix socket, or TCP with mTLS)."""
        assert self.queries is not None
        local_pb2_grpc.add_LocalServiceServicer_to_server(
            LocalServicer(self, config=self.config, device_id=self.store.device_id, runner=self.queries,
                          feed=self.feed), server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        try:
            from grpc_reflection.v1alpha import reflection

            from meshd.v1 import local_pb2 as lp

            reflection.enable_server_reflection(
                [lp.DESCRIPTOR.services_by_name["LocalService"].full_name, reflection.SERVICE_NAME,
                 health.SERVICE_NAME], server)
        except ImportError:
            pass

    async def _start_api_tcp(self, listen: str) -> grpc.aio.Server:
        """The local API on TCP, only when asked for, and then only with mutual TLS: callers need a
        certificate from this mesh's CA, revoked devices are refused like on the peer port."""
        assert self.creds is not None
        server = grpc.aio.server(interceptors=list(getattr(self.creds, "interceptors", [])))
        self._add_local_services(server)
        port = self._bind(server, listen, " for the local API")
        await server.start()
        sys.stderr.write(f"meshd: local API also on {listen.rpartition(':')[0]}:{port} (mutual TLS)\n")
        return server

    async def _start_mdns(self, host: str) -> None:
        from meshd.sync.discovery import Discovery, mesh_fingerprint

        def found(addrs: list[str], port: int, device_id: str) -> None:
            now = time.monotonic()
            for a in addrs:
                self.table.add(f"{a}:{port}", "mdns", now, device_id)
            self.wake.set()

        self.discovery = Discovery(self.store.device_id, self.port, mesh_fingerprint(self.config.home),
                                   self.boot_id, found, listen_host=host)
        try:
            await self.discovery.start()
        except Exception as e:  # no multicast here: static and known peers still work
            log.error("mdns: disabled: %s", e)
            self.discovery = None

    async def _load_peers(self) -> None:
        now = time.monotonic()
        for a in self.opts.peers:
            self.table.add(a, "static", now)
        for addr, did, _src, _ok in await self.store.load_peers():
            if did not in self.revoked:
                self.table.add(addr, "known", now, did)
        for did in self.revoked:
            self.table.forget(did)

    def _spawn(self, coro) -> asyncio.Task[object]:  # type: ignore[no-untyped-def]
        t = asyncio.ensure_future(coro)
        self.tasks.add(t)
        t.add_done_callback(self._done)
        return t

    def _done(self, t: asyncio.Task[object]) -> None:
        self.tasks.discard(t)
        if not t.cancelled() and t.exception() is not None:
            log.error("task failed: %r", t.exception(), exc_info=t.exception())

    # -- loops ---------------------------------------------------------------------------------

    async def _main_loops(self) -> None:
        first = [self._spawn(self._sync_peer(p.address)) for p in self.table.due(time.monotonic())]
        await asyncio.sleep(0)  # the first rounds mark their peers busy before the sync loop looks
        self._spawn(self._sync_loop())  # (else it started a second, concurrent round with each)
        if first:  # a restored backup must learn its log is behind before ingest appends to it
            await asyncio.wait(first, timeout=FIRST_ROUND_CAP)
        t0 = self.loops_started
        assert self.gossip is not None
        if not self.gossip.checked.is_set() and (self.discovery is not None or await self._had_peers()):
            # Nobody to dial (yet): peers found by mDNS, or ones that dial us, may still tell us.
            left = max(0.0, FIRST_ROUND_CAP - (time.monotonic() - t0))
            try:
                await asyncio.wait_for(self.gossip.checked.wait(), left)
            except asyncio.TimeoutError:
                log.info("no peer compared our log with theirs within %.1f s; ingesting", FIRST_ROUND_CAP)
        self._spawn(self._ingest_loop())
        self._spawn(self._housekeeping())

    async def _had_peers(self) -> bool:
        """True when this replica holds other devices' logs: it has been in a mesh."""
        return any(origin != self.store.device_id for origin, _ in await self.store.vector())

    async def _ingest_loop(self) -> None:
        own = await self.store.held(self.store.device_id, self.store.epoch)
        watcher = self._start_watch()
        try:
            while not self.stop_event.is_set():
                # a watch that hit a limit covers only some folders: the rest need the short poll
                poll = WATCHED_POLL if watcher is not None and not watcher.full else INGEST_POLL
                self.ingest_due.clear()
                try:
                    await self.store.ingest()
                    now_own = await self.store.held(self.store.device_id, self.store.epoch)
                    if now_own != own:  # ingest, or meshctl (forget, statusline) appended records
                        own = now_own
                        self._notify_all(None)
                except MeshError as e:
                    log.warning("ingest: %s", e)
                except Exception:
                    log.exception("ingest failed")
                if not await self._wait_ingest_due(poll) and watcher is not None:
                    if watcher.active:
                        watcher.rescan()  # folders made while nobody watched them
                    else:
                        watcher = None  # the watch died: poll as before
        finally:
            if watcher is not None:
                watcher.close()

    def _start_watch(self):  # type: ignore[no-untyped-def]
        """inotify on the local log folders (Linux), or None: then ingest polls every INGEST_POLL."""
        from meshd.ingest.watch import DirWatcher, WatchUnavailable

        w = DirWatcher(self._watch_tops, self.ingest_due.set)
        try:
            w.start()
        except (WatchUnavailable, OSError) as e:
            log.info("file watch unavailable (%s); polling local logs every %.1f s", e, INGEST_POLL)
            w.close()
            return None
        log.info("watching %d folder(s) for new log lines", len(w.wds))
        return w

    def _watch_tops(self) -> list[Path]:
        from meshd.ingest.sources import claude_roots

        try:
            return [r / "projects" for r in claude_roots(configured=self.config.claude_dirs)]
        except MeshError:
            return []

    async def _wait_ingest_due(self, timeout: float) -> bool:
        """Sleep until a file event (True; after a short settle) or `timeout` / shutdown (False)."""
        try:
            await asyncio.wait_for(self.ingest_due.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        await asyncio.sleep(WATCH_SETTLE)
        return not self.stop_event.is_set()

    async def _housekeeping(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.vector = await self.store.vector()
                await self._check_revoked()
            except Exception:
                log.exception("housekeeping failed")
            await self._sleep(HOUSEKEEPING)

    async def _check_revoked(self) -> None:
        """Apply forget records that arrived (gossip, meshctl): refuse the device, cut its calls."""
        revoked = await self.store.forgotten()
        new = revoked - self.revoked
        self.revoked = revoked | self.revoked
        if new:
            await self._revoke(new)

    async def _revoke(self, dids: set[str]) -> None:
        """Refuse these devices from now on: no dialling, their open calls ended with
        PERMISSION_DENIED (interceptor), then every peer connection closed so none of theirs survives."""
        for did in dids:
            n = self.table.forget(did)
            await self.store.drop_peers(did)
            await self._drop_device_channels(did)
            log.warning("device %s was forgotten: refusing it (%d address(es) dropped)", did[:12], n)
        if self.creds is not None:
            self.creds.refresh()
        await asyncio.sleep(0.05)  # let the PERMISSION_DENIED statuses reach the revoked callers
        await self._close_peer_connections()

    async def _drop_device_channels(self, device_id: str) -> None:
        """Close our channels to a device (its connections end; we never dial it again)."""
        for p in list(self.table.peers.values()):
            if p.device_id == device_id:
                await self._drop_channel(p.address)

    async def _sleep(self, s: float) -> None:
        try:
            await asyncio.wait_for(self.stop_event.wait(), s)
        except asyncio.TimeoutError:
            pass

    async def _sync_loop(self) -> None:
        while not self.stop_event.is_set():
            now = time.monotonic()
            for p in self.table.due(now):
                self._spawn(self._sync_peer(p.address))
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), min(max(self.table.wait(time.monotonic()), 0.05), 5.0))
            except asyncio.TimeoutError:
                pass

    # -- one peer ------------------------------------------------------------------------------

    def _client(self, address: str, device_id: str | None) -> GrpcPeerClient:
        """A client on the address's channel; TLS-pinned to the device once its id is known."""
        ch = self.channels.get(address)
        if ch is None:
            assert self.creds is not None
            pin = None if address in self.unpin_next else device_id
            ch = self.channels[address] = self.creds.channel(address, pin)
            self.pinned[address] = pin
        return GrpcPeerClient(ch, self.store.device_id, expect_id=self.pinned.get(address))

    def _retire_channel(self, address: str) -> None:
        """Stop using an address's channel; close it once calls still on it (a notify) are done."""
        self.pinned.pop(address, None)
        ch = self.channels.pop(address, None)
        if ch is not None:
            async def close_later() -> None:
                await asyncio.sleep(10)
                await ch.close()

            self._spawn(close_later())

    async def _drop_channel(self, address: str) -> None:
        self.pinned.pop(address, None)
        ch = self.channels.pop(address, None)
        if ch is not None:
            await ch.close()

    async def _sync_peer(self, address: str, notify: bool = True) -> tuple[SyncResult | None, str, float]:
        """One push-pull round with one address; updates the peer table; (result, error, seconds)."""
        p = self.table.get(address)
        if p is None or not p.dialable:
            return None, "not a dialable peer", 0.0
        t0 = time.monotonic()
        self.table.started(address, t0)
        assert self.gossip is not None
        err = ""
        res: SyncResult | None = None
        try:
            res = await self.gossip.sync(self._client(address, p.device_id), notify=notify)
        except SelfPeer as e:
            self.table.refuse(address, "self", str(e))
            await self._drop_channel(address)
            return None, str(e), time.monotonic() - t0
        except PeerRefused as e:
            err = str(e)
            if "forgotten" in err:
                self.table.refuse(address, "forgotten", err)
            else:
                self.table.failed(address, err, time.monotonic())
        except grpc.aio.AioRpcError as e:
            err = f"{e.code().name}: {e.details()}"
            self.table.failed(address, err, time.monotonic())
            if e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                if self.pinned.get(address):  # down, or another device now answers there (TLS name)
                    self.unpin_next.add(address)
                await self._drop_channel(address)
        except (PeerError, LogRuleError) as e:
            err = str(e)
            self.table.failed(address, err, time.monotonic())
        except Exception as e:
            log.exception("sync with %s failed", address)
            err = f"{type(e).__name__}: {e}"
            self.table.failed(address, err, time.monotonic())
        else:
            now = time.monotonic()
            self.table.succeeded(address, res.peer_id, now)
            self.unpin_next.discard(address)
            if self.pinned.get(address, "") is None and self.creds is not None and self.creds.name == "mtls":
                self._retire_channel(address)  # the next call dials it pinned to the id it claimed
            if res.errors:
                err = "; ".join(res.errors)[:300]
                p.last_error = err
            if res.pulled:
                log.info("pulled %d records from %s (%s)", res.pulled, res.peer_id[:12], address)
            if self.saved.get(address, -1e9) < now - 60:
                self.saved[address] = now
                await self.store.save_peer(address, res.peer_id, p.source, wall_ms())
        if err:
            log.debug("sync with %s: %s", address, err)
        if address in self.again:
            self.again.discard(address)
            self._spawn(self._sync_peer(address, notify=False))
        self.wake.set()  # the sync loop re-plans with this peer's next attempt
        return res, err, time.monotonic() - t0

    def _contact(self, hello: Hello, host: str | None, wants_pull: bool) -> None:
        """An inbound call: learn the caller's address; pull from it at once when it has news."""
        if not host or not hello.listen_port or hello.device_id in self.revoked:
            return
        now = time.monotonic()
        p = self.table.by_device(hello.device_id) or self.table.add(f"{host}:{hello.listen_port}", "inbound",
                                                                    now, hello.device_id)
        if p.state == "new" and not p.busy:
            p.next_attempt = now
            self.wake.set()
        if wants_pull:
            if p.busy:
                self.again.add(p.address)
            else:
                self._spawn(self._sync_peer(p.address, notify=False))

    def _after_pull(self, n: int, from_id: str) -> None:
        self._notify_all(from_id)
        self._spawn(self._check_revoked())  # a forget record may have arrived: act on it at once

    def _notify_all(self, exclude: str | None) -> None:
        """Tell every online peer (one address per device) that we have news; wake local watchers."""
        self.feed.changed()
        seen: set[str] = set()
        for p in self.table.online():
            if p.device_id in seen or p.device_id == exclude:
                continue
            seen.add(p.device_id or p.address)
            if self.notifying.get(p.address):
                self.notifying[p.address] = True  # one more after the one in flight
                continue
            self.notifying[p.address] = False
            self._spawn(self._notify(p.address))

    async def _notify(self, address: str) -> None:
        assert self.gossip is not None
        while True:
            p = self.table.get(address)
            if p is None or not p.dialable:
                break
            try:
                await self._client(address, p.device_id).notify(self.gossip.hello(), await self.store.vector())
            except grpc.aio.AioRpcError as e:
                self.table.failed(address, f"notify: {e.code().name}: {e.details()}", time.monotonic())
                break
            if not self.notifying.get(address):
                break
            self.notifying[address] = False
        self.notifying.pop(address, None)

    # -- the local API (meshd.rpc.local.Control) ---------------------------------------------------

    def status(self) -> local_pb2.StatusResponse:
        assert self.gossip is not None
        off = time.time() - time.monotonic()  # monotonic -> wall clock, for display only
        peers = []
        for p in sorted(self.table.peers.values(), key=lambda q: q.address):
            pv = self.gossip.peer_vectors.get(p.device_id or "")
            peers.append(local_pb2.PeerStatus(
                address=p.address, device_id=p.device_id or "", state=p.state,
                last_success_ms=int((p.last_success + off) * 1000) if p.last_success else 0,
                last_attempt_ms=int((p.last_attempt + off) * 1000) if p.last_attempt else 0,
                last_error=p.last_error, failures=p.failures, source=p.source,
                records_behind=behind(self.vector, pv) if pv is not None else 0))
        return local_pb2.StatusResponse(
            device_id=self.store.device_id, epoch=self.store.epoch, boot_id=self.boot_id,
            listen=f"{self.opts.listen.rpartition(':')[0]}:{self.port}", version=__version__,
            started_ms=self.started_ms, peers=peers, mdns=self.discovery is not None,
            records=sum(self.vector.values()), transport=self.creds.name if self.creds else "")

    async def sync_now(self, peer: str, timeout: float) -> list[local_pb2.PeerSyncResult]:
        targets, seen = [], set()
        for p in sorted(self.table.peers.values(), key=lambda q: (q.state != "online", -q.last_success)):
            if not p.dialable or (peer and peer not in (p.address, p.device_id)):
                continue
            if p.device_id and not peer:
                if p.device_id in seen:
                    continue
                seen.add(p.device_id)
            targets.append(p)
        if not targets:
            return []
        jobs = [asyncio.ensure_future(self._sync_peer(p.address)) for p in targets]
        done, pending = await asyncio.wait(jobs, timeout=timeout)
        out = []
        for p, j in zip(targets, jobs):
            if j in done and not j.cancelled() and j.exception() is None:
                res, err, secs = j.result()
                out.append(convert.sync_result_to_pb(p.address, p.device_id or "", res, err, secs))
            else:
                out.append(convert.sync_result_to_pb(p.address, p.device_id or "", None,
                                                     "timed out" if j in pending else str(j.exception()), timeout))
        return out

    async def append_forget(self, device_id: str, purge: bool) -> bool:
        return await self.store.append_forget(device_id, purge, wall_ms())

    async def forget(self, device_id: str) -> int:
        fresh = device_id not in self.revoked
        self.revoked = self.revoked | {device_id}
        n = self.table.forget(device_id)
        self._notify_all(None)
        if fresh:
            self._spawn(self._revoke({device_id}))
        return n


def run(config: Config, opts: Options) -> int:
    """Run the daemon until SIGTERM/SIGINT; the exit status."""
    return asyncio.run(Daemon(config, opts).run())
