"""Forgotten devices: `forget` tombstones and what they do to the materialized usage.

A forget record names a device; from then on every replica keeps that device's log records
(logs stay hole-free and relayable) but never counts them: its usage rows are hidden
(winner = dwinner = 0, dkey NULL) or, when the record says purge, deleted, and the other copies
of the same messages get their winner flags recomputed. Records arriving later are not
materialized at all, so no delivery order can bring the device back.
"""

from __future__ import annotations

import sqlite3

import orjson

from meshd.core.dedup import Copy, exact_winners, winners
from meshd.core.oplog import is_device_id
from meshd.errors import LogRuleError

Touched = set[tuple[int, str, str, str]]  # rollup keys: (bucket, origin, provider, model)


def forget_body(device_id: str, purge: bool, at_ms: int) -> bytes:
    """The body of a forget record."""
    return orjson.dumps({"device_id": device_id, "purge": purge, "at": at_ms})


def append_forget(replica, device_id: str, purge: bool, at_ms: int) -> bool:  # type: ignore[no-untyped-def]
    """Append a forget record for a device to this device's log (meshctl forget, the local API).

    One transaction; nothing is appended when the device is already forgotten and the record
    would not upgrade it to purge. Returns True when a record was appended.
    """
    from meshd.store.replica import transaction

    with transaction(replica.conn):
        row = replica.conn.execute("SELECT purge FROM forgotten WHERE device_id=?", (device_id,)).fetchone()
        if row is not None and (row[0] or not purge):
            return False
        replica.append_local("forget", [forget_body(device_id, purge, at_ms)])
    return True


def parse_forget(body: bytes) -> tuple[str, bool, int]:
    """(device id, purge, at) of a forget record; LogRuleError when malformed."""
    try:
        d = orjson.loads(body)
        did, purge, at = d["device_id"], bool(d.get("purge", False)), d.get("at", 0)
    except (orjson.JSONDecodeError, KeyError, TypeError) as e:
        raise LogRuleError(f"malformed forget record: {e}") from None
    if not is_device_id(did):
        raise LogRuleError("forget record does not name a device id")
    return did, purge, at if isinstance(at, int) else 0


def forgotten_ids(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT device_id FROM forgotten")}


def apply_forget(conn: sqlite3.Connection, by_origin: str, body: bytes, bucket_of) -> Touched:  # type: ignore[no-untyped-def]
    """Record a forget tombstone and stop counting the device; returns rollup keys to refresh."""
    did, purge, at = parse_forget(body)
    conn.execute(
        "INSERT INTO forgotten(device_id, purge, by_origin, at) VALUES(?,?,?,?)"
        " ON CONFLICT(device_id) DO UPDATE SET purge = MAX(purge, excluded.purge)",
        (did, int(purge), by_origin, at),
    )
    rows = conn.execute("SELECT dkey, ts, provider, model FROM usage WHERE origin=? AND (winner=1 OR dwinner=1 OR dkey IS NOT NULL)", (did,)).fetchall()
    touched: Touched = {(bucket_of(ts), did, prov, model) for _k, ts, prov, model in rows}
    keys = sorted({k for k, *_ in rows if k is not None})
    if purge:
        conn.execute("DELETE FROM usage WHERE origin=?", (did,))
    elif rows:
        conn.execute("UPDATE usage SET winner=0, dwinner=0, dkey=NULL WHERE origin=?", (did,))
    return touched | rewin(conn, keys, bucket_of)


def rewin(conn: sqlite3.Connection, keys: list[str], bucket_of) -> Touched:  # type: ignore[no-untyped-def]
    """Recompute winner flags of these dedup groups (core/dedup.py); rollup keys that changed."""
    touched: Touched = set()
    for i in range(0, len(keys), 500):
        part = keys[i : i + 500]
        groups: dict[str, list[tuple[Copy, int, int, str, str, str, int, int]]] = {}
        for row_id, key, side, req, total, has_speed, o, ep, sq, ts, prov, model, win, dwin in conn.execute(
            "SELECT id, dkey, sidechain, rid, rank_total, speed IS NOT NULL, origin, epoch, seq, ts,"
            f" provider, model, winner, dwinner FROM usage WHERE dkey IN ({','.join('?' * len(part))})",
            part,
        ):
            c = Copy(bool(side), req, (0 if side else 1, total, has_speed), (o, ep, sq))
            groups.setdefault(key, []).append((c, row_id, ts, o, prov, model, win, dwin))
        changed: list[tuple[int, int, int]] = []
        for members in groups.values():
            copies = [m[0] for m in members]
            win, dwin = exact_winners(copies), winners(copies)
            for j, (_c, row_id, ts, o, prov, model, w0, d0) in enumerate(members):
                w, d = int(j in win), int(j in dwin)
                if (w, d) != (w0, d0):
                    changed.append((w, d, row_id))
                    if w != w0:
                        touched.add((bucket_of(ts), o, prov, model))
        if changed:
            conn.executemany("UPDATE usage SET winner=?, dwinner=? WHERE id=?", changed)
    return touched
