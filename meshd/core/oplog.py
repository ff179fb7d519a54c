"""Rules of the per-device append-only log, and version vectors. Pure.

A log is keyed by (origin device id, epoch); records carry seq = 1, 2, 3 ... without holes.
The version vector maps each log to the highest contiguous seq held: it is the whole
replication state. Batches carry prev_seq/last_seq; a batch applies only on top of exactly
what is held, so a replica never stores a log with a hole.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshd.errors import LogRuleError

LogId = tuple[str, int]  # (origin, epoch)
Vector = dict[LogId, int]

KINDS = frozenset({"usage", "device", "ratelimit", "setting", "forget"})
MAX_BODY = 64 * 1024
MAX_BATCH_BYTES = 1 << 20  # DESIGN §4: batches stay under 1 MiB


@dataclass(frozen=True, slots=True)
class Record:
    seq: int
    kind: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Batch:
    origin: str
    epoch: int
    prev_seq: int
    last_seq: int
    records: tuple[Record, ...]


def is_device_id(s: object) -> bool:
    """32 lowercase hex characters."""
    return isinstance(s, str) and len(s) == 32 and all(c in "0123456789abcdef" for c in s)


def check_batch(batch: Batch, held: int) -> None:
    """Raise LogRuleError unless `batch` extends a log held up to `held` without holes."""
    if not is_device_id(batch.origin):
        raise LogRuleError("batch origin is not a device id")
    if not 0 < batch.epoch < 1 << 63:
        raise LogRuleError("batch epoch out of range")
    if batch.prev_seq != held:
        raise LogRuleError(f"batch prev_seq {batch.prev_seq} does not match held seq {held}")
    n = len(batch.records)
    if n == 0 or batch.last_seq != batch.prev_seq + n:
        raise LogRuleError("batch last_seq does not match its records")
    for i, r in enumerate(batch.records, start=batch.prev_seq + 1):
        if r.seq != i:
            raise LogRuleError(f"record seq {r.seq} breaks the sequence (expected {i})")
        if r.kind not in KINDS:
            raise LogRuleError(f"unknown record kind {r.kind[:32]!r}")
        if len(r.body) > MAX_BODY:
            raise LogRuleError("record body too large")


def load_object(body: bytes, kind: str, limit: int) -> dict:  # type: ignore[type-arg]
    """A record body that must be a JSON object of at most `limit` bytes; LogRuleError otherwise."""
    if len(body) > limit:
        raise LogRuleError(f"{kind} record too large")
    import orjson

    try:
        d = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise LogRuleError(f"{kind} record is not JSON: {e}") from None
    if not isinstance(d, dict):
        raise LogRuleError(f"{kind} record is not an object")
    return d


def missing(mine: Vector, theirs: Vector) -> dict[LogId, int]:
    """Logs where `mine` holds more than `theirs`: log -> the seq `theirs` holds (send after it)."""
    return {log: theirs.get(log, 0) for log, seq in mine.items() if seq > theirs.get(log, 0)}


def merge(a: Vector, b: Vector) -> Vector:
    """Pointwise maximum of two vectors."""
    out = dict(a)
    for log, seq in b.items():
        if seq > out.get(log, 0):
            out[log] = seq
    return out


def dominates(a: Vector, b: Vector) -> bool:
    """True when `a` holds everything `b` holds."""
    return all(a.get(log, 0) >= seq for log, seq in b.items())
