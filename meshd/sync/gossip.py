"""Anti-entropy push-pull between two replicas. Pure of grpc, zeroconf and sqlite.

The engine talks to its own replica through `LogStore` and to a peer through `PeerClient`;
the rpc layer implements PeerClient over gRPC, tests implement it in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol

from meshd.core.oplog import MAX_BATCH_BYTES, Batch, LogId, Vector, check_batch, is_device_id, missing
from meshd.errors import LogGapError, LogRuleError, OwnLogAhead, PeerError, PeerRefused, SelfPeer
from meshd.sync.readahead import read_ahead

log = logging.getLogger("meshd.gossip")

PROTOCOL_VERSION = 1
MAX_VECTOR = 10_000  # logs in one vector: one per (device, epoch) ever seen, so small in practice
DIGEST_BYTES = 16
MAX_BATCH_RECORDS = 100_000  # records in one received batch
MAX_USELESS_BATCHES = 64  # batches in one pull that bring nothing new before we stop reading
PULL_ROUNDS = 4  # re-pulls after dropped (mismatched) batches within one sync
PULL_AHEAD = 2  # batches received ahead of the one being applied (each under 1 MiB)


@dataclass(frozen=True, slots=True)
class Hello:
    """Who a daemon is; boot_id changes on every start."""

    device_id: str
    epoch: int
    protocol_version: int = PROTOCOL_VERSION
    boot_id: str = ""
    listen_port: int = 0
    vector_digest: bytes = b""  # the sender's vector_digest() when it sent this; b"": not sent


@dataclass(frozen=True, slots=True)
class HandshakeReply:
    """The callee's Hello and the seq it holds of the caller's current log."""

    hello: Hello
    held_of_you: int


@dataclass
class SyncResult:
    """What one push-pull round with one peer did."""

    peer_id: str = ""
    pulled: int = 0
    dropped: int = 0
    malformed: int = 0
    rotated: bool = False
    notified: bool = False
    in_sync: bool = False  # the vectors' digests matched: nothing was pulled or notified
    errors: list[str] = field(default_factory=list)


class LogStore(Protocol):
    """This replica, as the engine sees it (every call is short; the adapter owns threads)."""

    device_id: str
    epoch: int

    async def vector(self) -> Vector: ...
    async def held(self, origin: str, epoch: int) -> int: ...
    async def apply(self, batch: Batch) -> int: ...
    async def read_after(self, origin: str, epoch: int, after: int, max_bytes: int) -> Batch | None: ...
    async def rotate_epoch(self) -> int: ...
    async def forgotten(self) -> set[str]: ...


class PeerClient(Protocol):
    """One remote peer."""

    async def handshake(self, hello: Hello) -> HandshakeReply: ...
    def pull(self, vector: Vector) -> AsyncIterator[Batch]: ...
    async def notify(self, hello: Hello, vector: Vector) -> bool: ...


def check_hello(h: Hello) -> None:
    """Raise PeerError unless a Hello is well formed and speaks our protocol."""
    if not is_device_id(h.device_id):
        raise PeerError("hello: device_id is not 32 lowercase hex characters")
    if not 0 < h.epoch < 1 << 63:
        raise PeerError("hello: epoch out of range")
    if h.protocol_version != PROTOCOL_VERSION:
        raise PeerRefused(f"protocol version {h.protocol_version} (this meshd speaks {PROTOCOL_VERSION})")


def check_vector(v: Vector) -> None:
    """Raise PeerError unless a vector from a peer is well formed."""
    if len(v) > MAX_VECTOR:
        raise PeerError(f"vector has {len(v)} logs (limit {MAX_VECTOR})")
    for (origin, epoch), seq in v.items():
        if not is_device_id(origin) or not 0 < epoch < 1 << 63 or not 0 <= seq < 1 << 63:
            raise PeerError("vector entry out of range")


def vector_digest(v: Vector) -> bytes:
    """16 bytes naming a vector's content: equal digests mean equal vectors (an idle round ends)."""
    h = hashlib.sha256()
    for (origin, epoch), seq in sorted(v.items()):
        h.update(b"%s:%d:%d\n" % (origin.encode(), epoch, seq))
    return h.digest()[:DIGEST_BYTES]


def check_received(b: Batch) -> None:
    """Raise LogRuleError for a batch no honest peer sends: too many records, over 1 MiB, or not a
    well-formed run of records (origin, epoch, prev_seq/last_seq/seqs, kinds, body sizes)."""
    if len(b.records) > MAX_BATCH_RECORDS:
        raise LogRuleError(f"batch of {len(b.records)} records (limit {MAX_BATCH_RECORDS})")
    if sum(len(r.body) + len(r.kind) + 16 for r in b.records) > MAX_BATCH_BYTES:
        raise LogRuleError(f"batch over {MAX_BATCH_BYTES} bytes")
    if b.prev_seq >= 1 << 63 or b.last_seq >= 1 << 63:
        raise LogRuleError("batch seq out of range")
    check_batch(b, b.prev_seq)  # the shape only; whether it extends what we hold is the store's call


def behind(mine: Vector, theirs: Vector) -> int:
    """Records `theirs` lacks compared with `mine`."""
    return sum(seq - theirs.get(lg, 0) for lg, seq in mine.items() if seq > theirs.get(lg, 0))


class Gossip:
    """Both sides of the protocol for one replica."""

    def __init__(self, store: LogStore, boot_id: str, listen_port: int = 0,
                 on_applied: Callable[[int, str], None] | None = None) -> None:
        self.store = store
        self.boot_id = boot_id
        self.listen_port = listen_port
        self.on_applied = on_applied  # (records, from device id): e.g. notify the other peers
        self.peer_vectors: dict[str, Vector] = {}  # last vector seen per peer device id
        self._rotating = asyncio.Lock()
        # Set once a peer's view of our own log has been compared with ours (the restored-backup
        # check ran): the daemon's first ingest waits for it (briefly), so it never reuses a seq.
        self.checked = asyncio.Event()

    def hello(self, digest: bytes = b"") -> Hello:
        return Hello(self.store.device_id, self.store.epoch, PROTOCOL_VERSION, self.boot_id, self.listen_port,
                     digest)

    async def _refuse_if_bad(self, h: Hello) -> None:
        check_hello(h)
        if h.device_id == self.store.device_id:
            raise SelfPeer("that peer is this device itself")
        if h.device_id in await self.store.forgotten():
            raise PeerRefused(f"device {h.device_id[:12]} was forgotten")

    # -- serving -------------------------------------------------------------------------------

    async def on_handshake(self, peer: Hello) -> HandshakeReply:
        """Answer a caller's Hello; raises PeerError/PeerRefused for bad or refused callers."""
        await self._refuse_if_bad(peer)
        mine = await self.store.vector()
        digest = vector_digest(mine)
        if peer.vector_digest == digest:
            self.peer_vectors[peer.device_id] = mine
        return HandshakeReply(self.hello(digest), mine.get((peer.device_id, peer.epoch), 0))

    async def serve_pull(self, theirs: Vector, caller: str | None = None,
                         max_records: int = 0) -> AsyncIterator[Batch]:
        """Every batch `theirs` lacks, per log in ascending seq (our own log first)."""
        check_vector(theirs)
        await self._check_restored(theirs, caller)
        self.checked.set()
        mine = await self.store.vector()
        if caller:
            self.peer_vectors[caller] = dict(theirs)
        todo = missing(mine, theirs)
        order = sorted(todo, key=lambda lg: (lg[0] != self.store.device_id, lg))
        sent = 0
        for lg in order:
            after, top = todo[lg], mine[lg]
            while after < top:
                b = await self.store.read_after(lg[0], lg[1], after, MAX_BATCH_BYTES - 4096)
                if b is None:
                    break
                yield b
                after = b.last_seq
                sent += len(b.records)
                if max_records and sent >= max_records:
                    return

    async def on_notify(self, peer: Hello, theirs: Vector) -> bool:
        """A peer has news: True when it holds something we lack (the caller then pulls)."""
        await self._refuse_if_bad(peer)
        check_vector(theirs)
        await self._check_restored(theirs, peer.device_id)
        self.checked.set()
        self.peer_vectors[peer.device_id] = dict(theirs)
        mine = await self.store.vector()
        return behind(theirs, mine) > 0

    # -- dialling ------------------------------------------------------------------------------

    async def sync(self, client: PeerClient, *, notify: bool = True) -> SyncResult:
        """One push-pull round: handshake, pull until nothing is dropped, then notify the peer."""
        res = SyncResult()
        mine_epoch = self.store.epoch
        mine = await self.store.vector()
        digest = vector_digest(mine)
        reply = await client.handshake(self.hello(digest))
        await self._refuse_if_bad(reply.hello)
        res.peer_id = reply.hello.device_id
        if await self._rotate_if_behind(mine_epoch, reply.held_of_you,
                                        f"{res.peer_id[:12]} holds seq {reply.held_of_you} of our current log"):
            res.rotated = True
        self.checked.set()
        if not res.rotated and reply.hello.vector_digest == digest:  # same vectors: an idle round is one call
            res.in_sync = True
            self.peer_vectors[res.peer_id] = mine
            return res
        for _ in range(PULL_ROUNDS):
            if not await self._pull_once(client, res):
                break
        if res.pulled and self.on_applied is not None:
            self.on_applied(res.pulled, res.peer_id)
        if notify:
            v = await self.store.vector()
            self.peer_vectors[res.peer_id] = v if not res.errors else self.peer_vectors.get(res.peer_id, {})
            res.notified = await client.notify(self.hello(), v)
        return res

    async def _pull_once(self, client: PeerClient, res: SyncResult) -> bool:
        """Pull once; True when a batch was dropped for a prev_seq mismatch (pull again)."""
        useless = 0  # batches that brought nothing new
        again = False
        bad: set[LogId] = set()
        # Read ahead: the next batches arrive and decode while this one is applied.
        async for batch in read_ahead(client.pull(await self.store.vector()), PULL_AHEAD):
            lg = (batch.origin, batch.epoch)
            if lg in bad:
                continue
            try:
                check_received(batch)
                if lg == (self.store.device_id, self.store.epoch):
                    await self._own_log_batch(batch, res)
                try:
                    n = await self.store.apply(batch)
                except OwnLogAhead:
                    if await self._rotate_if_behind(batch.epoch, batch.last_seq,
                                                    f"{res.peer_id[:12]} streamed records of our current log"):
                        res.rotated = True
                    n = await self.store.apply(batch)
            except LogGapError as e:
                log.info("dropped a batch of %s/%d from %s: %s; pulling it again",
                         batch.origin[:12], batch.epoch, res.peer_id[:12], e)
                res.dropped += 1
                bad.add(lg)
                again = True
                continue
            except LogRuleError as e:
                log.warning("refused a batch of %s/%d from %s: %s", batch.origin[:12], batch.epoch,
                            res.peer_id[:12], e)
                res.malformed += 1
                res.errors.append(f"{batch.origin[:12]}/{batch.epoch}: {e}")
                bad.add(lg)
                continue
            res.pulled += n
            if n == 0:
                useless += 1
                if useless > MAX_USELESS_BATCHES:  # a concurrent pull got them first, or a peer stalls us
                    log.info("%s keeps sending records we already hold; ending this pull", res.peer_id[:12])
                    break
        return again

    async def _own_log_batch(self, b: Batch, res: SyncResult) -> None:
        """A well-formed batch of our own current log: a restored backup when it extends what we
        hold (rotate, then it is applied as the old epoch's tail); re-delivery or a gap otherwise."""
        held = await self.store.held(b.origin, b.epoch)
        if b.last_seq <= held:
            return
        if b.prev_seq > held:
            raise LogGapError(f"batch of our own log starts after seq {b.prev_seq} but we hold {held}")
        why = f"{res.peer_id[:12]} streamed records of our current log"
        if await self._rotate_if_behind(b.epoch, b.last_seq, why):
            res.rotated = True

    async def _check_restored(self, theirs: Vector, peer: str | None) -> None:
        """A caller's vector holds more of our current log than we do: we were restored from a backup."""
        epoch = self.store.epoch
        held_by_them = theirs.get((self.store.device_id, epoch), 0)
        if held_by_them:
            await self._rotate_if_behind(epoch, held_by_them,
                                         f"{(peer or 'a caller')[:12]} holds seq {held_by_them} of our current log")

    async def _rotate_if_behind(self, epoch: int, held_by_peer: int, why: str) -> bool:
        """DESIGN §4: when a peer holds more of our current (device, epoch) log than we do, start a
        new epoch, so no seq of the old one is ever assigned twice. Once per detection, however
        many peers and calls notice it at the same time; True when this call rotated."""
        async with self._rotating:
            if self.store.epoch != epoch:
                return False  # already rotated by a concurrent detection
            if held_by_peer <= await self.store.held(self.store.device_id, epoch):
                return False
            new = await self.store.rotate_epoch()
        log.warning("restored backup detected (%s): epoch %d -> %d", why, epoch, new)
        return True
