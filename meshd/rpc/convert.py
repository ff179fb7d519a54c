"""Domain types <-> meshd.v1 protobuf: the only module that imports both."""

from __future__ import annotations

from meshd.core.oplog import Batch, Record, Vector
from meshd.errors import PeerError
from meshd.sync.gossip import HandshakeReply, Hello, SyncResult
from meshd.v1 import local_pb2, peer_pb2

_U63 = 1 << 63


def hello_to_pb(h: Hello) -> peer_pb2.Hello:
    return peer_pb2.Hello(device_id=h.device_id, epoch=h.epoch, protocol_version=h.protocol_version,
                          boot_id=h.boot_id, listen_port=h.listen_port, vector_digest=h.vector_digest)


def hello_from_pb(m: peer_pb2.Hello) -> Hello:
    if m.epoch >= _U63 or m.listen_port > 65535 or len(m.boot_id) > 64 or len(m.device_id) > 64 \
            or len(m.vector_digest) > 64:
        raise PeerError("hello: field out of range")
    return Hello(m.device_id, m.epoch, m.protocol_version, m.boot_id, m.listen_port, m.vector_digest)


def handshake_to_pb(r: HandshakeReply) -> peer_pb2.HandshakeResponse:
    return peer_pb2.HandshakeResponse(hello=hello_to_pb(r.hello), held_of_you=r.held_of_you)


def handshake_from_pb(m: peer_pb2.HandshakeResponse) -> HandshakeReply:
    if m.held_of_you >= _U63:
        raise PeerError("handshake: held_of_you out of range")
    return HandshakeReply(hello_from_pb(m.hello), m.held_of_you)


def vector_to_pb(v: Vector) -> list[peer_pb2.VectorEntry]:
    return [peer_pb2.VectorEntry(origin=o, epoch=e, max_seq=s) for (o, e), s in sorted(v.items())]


def vector_from_pb(entries) -> Vector:  # type: ignore[no-untyped-def]
    """A vector from the wire; PeerError on out-of-range or duplicate entries."""
    v: Vector = {}
    for x in entries:
        if x.epoch >= _U63 or x.max_seq >= _U63:
            raise PeerError("vector entry out of range")
        key = (x.origin, x.epoch)
        if key in v:
            raise PeerError("vector names a log twice")
        v[key] = x.max_seq
    return v


def batch_to_pb(b: Batch) -> peer_pb2.PullResponse:
    R = peer_pb2.Record
    return peer_pb2.PullResponse(origin=b.origin, epoch=b.epoch, prev_seq=b.prev_seq, last_seq=b.last_seq,
                                 records=[R(seq=r.seq, kind=r.kind, body=r.body) for r in b.records])


def batch_from_pb(m: peer_pb2.PullResponse) -> Batch:
    """A batch as received (the replica checks the log rules when applying it)."""
    return Batch(m.origin, m.epoch, m.prev_seq, m.last_seq,
                 tuple(Record(r.seq, r.kind, r.body) for r in m.records))


def sync_result_to_pb(address: str, device_id: str, r: SyncResult | None, error: str,
                      seconds: float) -> local_pb2.PeerSyncResult:
    return local_pb2.PeerSyncResult(address=address, device_id=device_id or (r.peer_id if r else ""),
                                    ok=not error, error=error, records_pulled=r.pulled if r else 0,
                                    seconds=seconds)
