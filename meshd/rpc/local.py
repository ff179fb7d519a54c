"""The local service over the daemon's Unix socket, and a small blocking client for meshctl."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import grpc

from meshd.errors import DaemonError
from meshd.v1 import local_pb2, local_pb2_grpc

from meshd.config import socket_path  # noqa: F401  (re-exported; lives in config so meshctl can check it cheaply)


class Control(Protocol):
    """What the local service asks of the daemon."""

    def status(self) -> local_pb2.StatusResponse: ...
    async def sync_now(self, peer: str, timeout: float) -> list[local_pb2.PeerSyncResult]: ...
    async def forget(self, device_id: str) -> int: ...


class LocalServicer(local_pb2_grpc.LocalServiceServicer):
    """meshd.v1.LocalService: thin calls into the daemon."""

    def __init__(self, control: Control) -> None:
        self.control = control

    async def Status(self, request, context):  # type: ignore[no-untyped-def]
        return self.control.status()

    async def SyncNow(self, request, context):  # type: ignore[no-untyped-def]
        timeout = request.timeout_seconds if 0 < request.timeout_seconds <= 600 else 30.0
        return local_pb2.SyncNowResponse(results=await self.control.sync_now(request.peer, timeout))

    async def Forget(self, request, context):  # type: ignore[no-untyped-def]
        from meshd.core.oplog import is_device_id

        if not is_device_id(request.device_id):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "device_id must be 32 lowercase hex characters")
        return local_pb2.ForgetResponse(dropped=await self.control.forget(request.device_id))


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


def forget(home: Path, device_id: str) -> local_pb2.ForgetResponse:
    return call(home, "Forget", local_pb2.ForgetRequest(device_id=device_id))
