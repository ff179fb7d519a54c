"""The dedup rule: which copies of a usage entry count, independent of arrival order.

ccusage 20.0.24 (docs/ccusage-compat.md) dedups on `(message.id, requestId)` and keeps the best
copy: non-sidechain first, then the larger token total, then the copy that has `speed`. A
sidechain line is also a duplicate of any entry with the same message.id (#913: subagents replay
their parent's messages under other request ids). Lines without message.id are never deduped.

ccusage 20.0.24 applies the sidechain-replay rule only in `daily`; `monthly`, `weekly`,
`session` and `blocks` use the exact key alone (measured: on a 40 MB history their totals are
the exact-key totals). So every row carries two flags: `winner` (exact key: one best copy per
`(message.id, requestId)`) and `dwinner` (daily's rule).

ccusage applies its rule in file order; a mesh must not depend on arrival order, so daily's
result is defined on the whole group of copies sharing a message.id:
- if any copy is not a sidechain, one winner per distinct requestId among the non-sidechain
  copies (the best copy with that requestId);
- otherwise a single winner among the sidechain copies.
Ties fall to the earliest log position `(origin, epoch, seq)`, so (rank, position) is a total
order and every replica picks the same rows. This equals ccusage's result whenever the parent's
lines are read before its subagents' (they are: `<sid>.jsonl` sorts before `<sid>/subagents/`).
"""

from __future__ import annotations

from dataclasses import dataclass

from meshd.core.entry import UsageEntry

Rank = tuple[int, int, int]
Position = tuple[str, int, int]


@dataclass(frozen=True, slots=True)
class Copy:
    """One stored copy of an entry, as the dedup rule sees it."""

    sidechain: bool
    request_id: str | None
    rank: Rank
    pos: Position


def dedup_key(entry: UsageEntry) -> str | None:
    """The group an entry's copies share, or None for entries that are never deduplicated.

    Lines without message.id are never deduplicated against each other (ccusage counts each);
    they carry a `line_key` instead, so re-reading the same line of the same file (a file that
    was replaced or truncated) cannot count it twice.
    """
    if entry.message_id is None:
        return None if entry.line_key is None else f"line\x1f{entry.line_key}"
    return f"{entry.provider}\x1f{entry.message_id}"


def rank(entry: UsageEntry) -> Rank:
    """How good a copy is: larger wins."""
    return (0 if entry.is_sidechain else 1, entry.total_tokens, 0 if entry.speed is None else 1)


def beats(a: Rank, a_pos: Position, b: Rank, b_pos: Position) -> bool:
    """True when copy `a` wins over copy `b`."""
    return a > b or (a == b and a_pos < b_pos)


def exact_winners(copies: list[Copy]) -> set[int]:
    """Indices of the copies that count under the exact-key rule: the best per requestId."""
    best: dict[object, int] = {}
    for i, c in enumerate(copies):
        j = best.get(c.request_id)
        if j is None or beats(c.rank, c.pos, copies[j].rank, copies[j].pos):
            best[c.request_id] = i
    return set(best.values())


def winners(copies: list[Copy]) -> set[int]:
    """Indices of the copies that count under daily's sidechain-replay rule, for one group."""
    best: dict[object, int] = {}
    main = [i for i, c in enumerate(copies) if not c.sidechain]
    pool = main if main else range(len(copies))
    for i in pool:
        k = copies[i].request_id if main else None
        j = best.get(k)
        if j is None or beats(copies[i].rank, copies[i].pos, copies[j].rank, copies[j].pos):
            best[k] = i
    return set(best.values())
