"""LocalService.Watch: new log records and active-block changes, streamed as they happen.

Each watcher keeps a cursor {(origin, epoch): seq} and, whenever the daemon's VectorFeed says the
vector changed (or every SAFETY_POLL seconds, for records meshctl appended straight to the
database), reads the records after its cursor from the immutable `log` table, BATCH at a time, on
the query threads. Nothing is queued per watcher beyond one batch: a watcher that does not read
blocks only its own stream (gRPC flow control), and catches up from the log later.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import orjson

from meshd import query
from meshd.core.entry import UsageEntry
from meshd.core.periods import iso_ms
from meshd.v1 import local_pb2 as pb

BATCH = 256
SAFETY_POLL = 2.0
MAX_BODY = 64 << 10


@dataclass
class WatchSpec:
    """A validated WatchRequest."""

    usage: bool
    blocks: bool
    records: bool
    cursor: dict[query.Position, int] | None  # None: start at the current vector
    block_query: query.Query  # devices, mode, session length (kind "blocks")
    provider: str | None


def read_events(conn: sqlite3.Connection, spec: WatchSpec, cursor: dict[query.Position, int],
                origins: tuple[str, ...] | None, coster: Any) -> tuple[list[pb.WatchResponse], int]:
    """The next batch of events after `cursor` (advanced); (events, records read)."""
    from meshd.store.forget import forgotten_ids
    from meshd.store.replica import model_label
    from meshd.store.usage import device_names

    recs = query.read_log(conn, cursor, BATCH)
    if not recs:
        return [], 0
    names = device_names(conn)
    hidden = forgotten_ids(conn)
    mode = spec.block_query.mode
    out: list[pb.WatchResponse] = []
    for origin, epoch, seq, kind, body in recs:
        if origins is not None and origin not in origins:
            continue
        pos = pb.LogPosition(origin=origin, epoch=epoch, seq=seq)
        name = names.get(origin, origin[:8])
        if kind == "usage":
            if not spec.usage or origin in hidden:
                continue
            try:
                e = UsageEntry.from_record(orjson.loads(body))
            except (orjson.JSONDecodeError, ValueError, TypeError, AttributeError):
                continue  # the replica refuses such records; never seen in practice
            if spec.provider is not None and e.provider != spec.provider:
                continue
            if mode == "display":
                cost = e.cost_usd or 0.0
            elif mode == "calculate" or e.cost_usd is None:
                cost = coster(e)
            else:
                cost = e.cost_usd
            out.append(pb.WatchResponse(usage=pb.UsageEvent(
                position=pos, device=name, timestamp_ms=e.ts, timestamp=iso_ms(e.ts), provider=e.provider,
                model=model_label(e), project=e.project, session_id=e.session_id, input_tokens=e.input_tokens,
                output_tokens=e.output_tokens, cache_creation_tokens=e.cache_creation_tokens,
                cache_read_tokens=e.cache_read_tokens, reasoning_tokens=e.reasoning_tokens,
                total_tokens=e.total_tokens, cost=float(cost), message_id=e.message_id or "",
                request_id=e.request_id or "", sidechain=e.is_sidechain)))
        elif spec.records:
            try:
                text = body.decode() if len(body) <= MAX_BODY else ""
            except UnicodeDecodeError:
                text = ""
            out.append(pb.WatchResponse(record=pb.RecordEvent(position=pos, kind=kind, device=name, body_json=text)))
    return out, len(recs)


def _fingerprint(b: dict[str, Any] | None) -> Any:
    """What makes an active block 'changed' (not the clock-driven projection)."""
    if b is None:
        return None
    return (b["id"], b["entries"], b["totalTokens"], b["costUSD"], b["actualEndTime"], tuple(b["models"]),
            tuple((d["device"], d["entries"]) for d in b.get("devices", [])))


def _ended(b: dict[str, Any]) -> dict[str, Any]:
    return dict(b, isActive=False, burnRate=None, projection=None)


def block_events(last: dict[str, Any] | None, now: dict[str, Any] | None) -> list[pb.WatchResponse]:
    """BlockEvents for the active block going from `last` to `now`."""
    from meshd.rpc.local_convert import block

    out = []
    if last is not None and (now is None or now["id"] != last["id"]):
        out.append(pb.WatchResponse(block=pb.BlockEvent(change=pb.BLOCK_CHANGE_ENDED, block=block(_ended(last)))))
    if now is not None:
        if last is None or now["id"] != last["id"]:
            out.append(pb.WatchResponse(block=pb.BlockEvent(change=pb.BLOCK_CHANGE_STARTED, block=block(now))))
        elif _fingerprint(now) != _fingerprint(last):
            out.append(pb.WatchResponse(block=pb.BlockEvent(change=pb.BLOCK_CHANGE_UPDATED, block=block(now))))
    return out


def block_deadline_ms(b: dict[str, Any] | None) -> int | None:
    """When the active block stops being active by time alone (its end)."""
    if b is None:
        return None
    from datetime import datetime

    return int(datetime.fromisoformat(b["endTime"].replace("Z", "+00:00")).timestamp() * 1000)
