"""The local service over the daemon's Unix socket, and a small blocking client for meshctl.

Reports, blocks and devices run the same query layer as meshctl (meshd/query.py) on the daemon's
query threads (meshd/rpc/queries.py); Watch is in meshd/rpc/watch.py. Every request field is
validated: bad values get INVALID_ARGUMENT with a one-line reason, unknown devices NOT_FOUND.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

import grpc
import orjson

from meshd import query
from meshd.clock import now_ms
from meshd.config import Config
from meshd.config import socket_path  # noqa: F401  (re-exported; lives in config so meshctl can check it cheaply)
from meshd.errors import ConfigError, DaemonError, MeshError, StoreError
from meshd.rpc import local_convert as convert
from meshd.rpc import watch as watch_mod
from meshd.rpc.queries import QueryRunner, VectorFeed
from meshd.v1 import local_pb2, local_pb2_grpc

log = logging.getLogger("meshd.local")

KINDS = {local_pb2.REPORT_KIND_DAILY: "daily", local_pb2.REPORT_KIND_WEEKLY: "weekly",
         local_pb2.REPORT_KIND_MONTHLY: "monthly", local_pb2.REPORT_KIND_SESSION: "session",
         local_pb2.REPORT_KIND_PROJECTS: "projects"}
ORDERS = {local_pb2.ORDER_UNSPECIFIED: None, local_pb2.ORDER_ASC: "asc", local_pb2.ORDER_DESC: "desc"}
MODES = {local_pb2.COST_MODE_UNSPECIFIED: None, local_pb2.COST_MODE_AUTO: "auto",
         local_pb2.COST_MODE_CALCULATE: "calculate", local_pb2.COST_MODE_DISPLAY: "display"}
TOPICS = {local_pb2.WATCH_TOPIC_USAGE: "usage", local_pb2.WATCH_TOPIC_BLOCKS: "blocks",
          local_pb2.WATCH_TOPIC_RECORDS: "records"}
MAX_WATCHERS = 64
MAX_POSITIONS = 10_000  # logs in a resume cursor (a mesh has a log per device and epoch)


class Control(Protocol):
    """What the local service asks of the daemon."""

    def status(self) -> local_pb2.StatusResponse: ...
    async def sync_now(self, peer: str, timeout: float) -> list[local_pb2.PeerSyncResult]: ...
    async def forget(self, device_id: str) -> int: ...
    async def append_forget(self, device_id: str, purge: bool) -> bool: ...


def _msg(e: MeshError) -> str:
    return f"{e} (hint: {e.hint})" if e.hint else str(e)


def _pick(table: dict[int, Any], value: int, name: str) -> Any:
    if value not in table:
        raise ConfigError(f"{name}: unknown value {value}")
    return table[value]


def _filter(f: local_pb2.ReportFilter) -> dict[str, Any]:
    """ReportFilter -> query.report_query keyword arguments."""
    return {"since": f.since, "until": f.until, "timezone": f.timezone, "order": _pick(ORDERS, f.order, "order"),
            "mode": _pick(MODES, f.mode, "mode"), "devices": list(f.devices), "provider": f.provider}


class LocalServicer(local_pb2_grpc.LocalServiceServicer):
    """meshd.v1.LocalService: thin calls into the daemon and the query layer."""

    def __init__(self, control: Control, *, config: Config | None = None, device_id: str = "",
                 runner: QueryRunner | None = None, feed: VectorFeed | None = None) -> None:
        self.control = control
        self.config = config
        self.device_id = device_id
        self.runner = runner
        self.feed = feed or VectorFeed()
        self._coster: Any = None

    # -- helpers ---------------------------------------------------------------------------------

    async def _fail(self, context: grpc.aio.ServicerContext, e: Exception) -> None:
        if isinstance(e, query.NotFound):
            await context.abort(grpc.StatusCode.NOT_FOUND, _msg(e))
        if isinstance(e, ConfigError):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, _msg(e))
        if isinstance(e, StoreError):
            await context.abort(grpc.StatusCode.UNAVAILABLE, _msg(e))
        if isinstance(e, MeshError):
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, _msg(e))
        log.exception("local API call failed")
        await context.abort(grpc.StatusCode.INTERNAL, f"{type(e).__name__}: {e}")

    def _query(self, kind: str, **kw: Any) -> query.Query:
        assert self.config is not None
        return query.report_query(kind, tz_default=self.config.timezone, mode_default=self.config.cost_mode, **kw)

    def _runner(self) -> QueryRunner:
        assert self.runner is not None, "the daemon wires a QueryRunner"
        return self.runner

    # -- control ---------------------------------------------------------------------------------

    async def Status(self, request, context):  # type: ignore[no-untyped-def]
        return self.control.status()

    async def SyncNow(self, request, context):  # type: ignore[no-untyped-def]
        timeout = request.timeout_seconds if 0 < request.timeout_seconds <= 600 else 30.0
        if len(request.peer) > query.MAX_TEXT:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "peer is too long")
        return local_pb2.SyncNowResponse(results=await self.control.sync_now(request.peer, timeout))

    async def Forget(self, request, context):  # type: ignore[no-untyped-def]
        from meshd.core.oplog import is_device_id

        try:
            if request.device_id and request.device:
                raise ConfigError("set device_id or device, not both")
            if request.device_id:
                if not is_device_id(request.device_id):
                    raise ConfigError("device_id must be 32 lowercase hex characters",
                                      hint="or give a name or id prefix in `device`")
                did = request.device_id
            elif request.device:
                who = query.check_text(request.device, "device")
                did = await self._runner().run(lambda c: query.resolve_device(c, who))
            else:
                raise ConfigError("device_id or device is required", hint="see the Devices call for ids")
            if did == self.device_id:
                raise ConfigError("refusing to forget this device itself", hint="forget it from another device")
            appended = await self.control.append_forget(did, request.purge)
            dropped = await self.control.forget(did)
        except Exception as e:  # noqa: BLE001 - mapped to a status
            await self._fail(context, e)
            raise
        return local_pb2.ForgetResponse(dropped=dropped, device_id=did, appended=appended)

    # -- reads -----------------------------------------------------------------------------------

    async def Report(self, request, context):  # type: ignore[no-untyped-def]
        try:
            kind = _pick(KINDS, request.kind, "kind")
            if request.session_id and kind != "session":
                raise ConfigError("session_id applies to REPORT_KIND_SESSION only")
            if request.start_of_week and kind != "weekly":
                raise ConfigError("start_of_week applies to REPORT_KIND_WEEKLY only")
            q = self._query(kind, **_filter(request.filter), project=request.project, session=request.session_id,
                            start_of_week=request.start_of_week)
            now = now_ms()
            data = await self._runner().run(lambda c: query.run(c, q, now))
        except Exception as e:  # noqa: BLE001
            await self._fail(context, e)
            raise
        rows, totals = convert.report(
            kind, data, breakdown=request.breakdown if request.HasField("breakdown") else True,
            by_device=request.by_device if request.HasField("by_device") else True)
        return local_pb2.ReportResponse(kind=request.kind, rows=rows, totals=totals,
                                        json=_json(data) if request.include_json else "")

    async def Blocks(self, request, context):  # type: ignore[no-untyped-def]
        try:
            if request.token_limit_max and request.HasField("token_limit"):
                raise ConfigError("set token_limit or token_limit_max, not both")
            limit: int | str | None = "max" if request.token_limit_max else (
                request.token_limit if request.HasField("token_limit") else None)
            q = self._query("blocks", **_filter(request.filter), active=request.active, recent=request.recent,
                            token_limit=limit, session_hours=request.session_length_hours or None)
            now = now_ms()
            data = await self._runner().run(lambda c: query.run(c, q, now))
        except Exception as e:  # noqa: BLE001
            await self._fail(context, e)
            raise
        by_device = request.by_device if request.HasField("by_device") else True
        return local_pb2.BlocksResponse(blocks=[convert.block(b, by_device=by_device) for b in data["blocks"]],
                                        json=_json(data) if request.include_json else "")

    async def Devices(self, request, context):  # type: ignore[no-untyped-def]
        peers = query.peer_info(self.control.status().peers, self.device_id)
        try:
            rows = await self._runner().run(lambda c: query.device_rows(c, self.device_id, peers))
        except Exception as e:  # noqa: BLE001
            await self._fail(context, e)
            raise
        return local_pb2.DevicesResponse(devices=[convert.device(d) for d in rows])

    # -- watch -----------------------------------------------------------------------------------

    def _watch_spec(self, request: local_pb2.WatchRequest) -> watch_mod.WatchSpec:
        topics = {_pick(TOPICS, t, "topics") for t in request.topics} or {"usage", "blocks"}
        if request.from_start and len(request.after):
            raise ConfigError("set after or from_start, not both")
        if len(request.after) > MAX_POSITIONS:
            raise ConfigError(f"after: at most {MAX_POSITIONS} positions")
        from meshd.core.oplog import is_device_id

        cursor: dict[query.Position, int] | None = None
        if request.from_start:
            cursor = {}
        elif len(request.after):
            cursor = {}
            for p in request.after:
                if not is_device_id(p.origin):
                    raise ConfigError("after: origin must be a 32-character lowercase hex device id")
                cursor[(p.origin, p.epoch)] = max(cursor.get((p.origin, p.epoch), 0), p.seq)
        blocks = "blocks" in topics
        hours = request.session_length_hours
        if hours and not (math.isfinite(hours) and 0 < hours <= query.MAX_BLOCK_HOURS):
            raise ConfigError(f"session_length_hours must be between 0 and {query.MAX_BLOCK_HOURS}, not {hours}")
        q = self._query("blocks" if blocks else "daily", **_filter(local_pb2.ReportFilter(
            devices=request.devices, provider=request.provider, mode=request.mode)),
            session_hours=request.session_length_hours or None)
        return watch_mod.WatchSpec(usage="usage" in topics, blocks=blocks, records="records" in topics,
                                   cursor=cursor, block_query=q, provider=q.provider)

    async def Watch(  # type: ignore[no-untyped-def,override]
            self, request, context) -> AsyncIterator[local_pb2.WatchResponse]:
        try:
            spec = self._watch_spec(request)
            bq = spec.block_query
            origins = await self._runner().run(lambda c: query.origins_for(c, bq.devices))
        except Exception as e:  # noqa: BLE001
            await self._fail(context, e)
            raise
        if self.feed.subscribers >= MAX_WATCHERS:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"at most {MAX_WATCHERS} watchers at a time")
        if self._coster is None:
            from meshd.app import make_coster

            assert self.config is not None
            self._coster = make_coster(self.config.home)
        coster = self._coster
        run = self._runner().run
        ev = self.feed.subscribe()
        try:
            vec = await run(query.vector)
            cursor = dict(vec) if spec.cursor is None else spec.cursor
            active = await run(lambda c: query.active_block(c, bq, now_ms())) if spec.blocks else None
            started = local_pb2.WatchStarted(device_id=self.device_id, vector=[
                local_pb2.LogPosition(origin=o, epoch=e, seq=s) for (o, e), s in sorted(vec.items())])
            if active is not None:
                started.active_block.CopyFrom(convert.block(active))
            yield local_pb2.WatchResponse(started=started)
            while not self.feed.closed:
                ev.clear()
                read = 0
                while True:
                    events, n = await run(lambda c: watch_mod.read_events(c, spec, cursor, origins, coster))
                    for msg in events:
                        yield msg
                    read += n
                    if n < watch_mod.BATCH:
                        break
                now = now_ms()
                deadline = watch_mod.block_deadline_ms(active)
                if spec.blocks and (read or (deadline is not None and now >= deadline)):
                    new = await run(lambda c: query.active_block(c, bq, now))
                    for msg in watch_mod.block_events(active, new):
                        yield msg
                    active = new
                    deadline = watch_mod.block_deadline_ms(active)
                wait = watch_mod.SAFETY_POLL
                if deadline is not None:
                    wait = min(wait, max(0.05, (deadline - now) / 1000 + 0.01))
                try:
                    await asyncio.wait_for(ev.wait(), wait)
                except asyncio.TimeoutError:
                    pass
        finally:
            self.feed.unsubscribe(ev)


def _json(data: dict[str, Any]) -> str:
    """Exactly what `meshctl <report> --json` prints (cli/render.emit_json)."""
    return (orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n").decode()


# -- the blocking client meshctl uses ---------------------------------------------------------------


def _no_daemon(home: Path, e: Exception) -> DaemonError:
    return DaemonError(f"no meshd daemon answers on {socket_path(home)} ({e})", hint="start it with `meshd run`")


def call(home: Path, method: str, request: Any, timeout: float = 5.0) -> Any:
    """One blocking call to the local daemon; DaemonError (with a hint) when none runs."""
    path = socket_path(home)
    if not path.exists():
        raise DaemonError("no meshd daemon is running for this home", hint="start it with `meshd run`")
    with grpc.insecure_channel(f"unix://{path}") as ch:
        stub = local_pb2_grpc.LocalServiceStub(ch)
        try:
            return getattr(stub, method)(request, timeout=timeout)
        except grpc.RpcError as e:
            if e.code() in (grpc.StatusCode.UNAVAILABLE,):  # type: ignore[attr-defined]
                raise _no_daemon(home, e.code()) from None  # type: ignore[attr-defined]
            raise DaemonError(f"the daemon refused {method}: {e.details()}") from None  # type: ignore[attr-defined]


def status(home: Path, timeout: float = 2.0) -> local_pb2.StatusResponse:
    return call(home, "Status", local_pb2.StatusRequest(), timeout)


def sync_now(home: Path, peer: str = "", timeout: float = 30.0) -> local_pb2.SyncNowResponse:
    return call(home, "SyncNow", local_pb2.SyncNowRequest(peer=peer, timeout_seconds=timeout), timeout + 5)


def forget(home: Path, device_id: str, purge: bool = False) -> local_pb2.ForgetResponse:
    return call(home, "Forget", local_pb2.ForgetRequest(device_id=device_id, purge=purge))
