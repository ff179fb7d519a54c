"""The dedup rule: which copy of a usage entry counts, independent of arrival order.

ccusage keys entries by `(message.id, requestId)` and keeps the best copy: non-sidechain first,
then the larger token total, then the copy that has `speed`. In a mesh the winner must not depend
on the order records arrive in, so ties fall to the earliest log position `(origin, epoch, seq)`:
(rank, position) is a total order over distinct records, and every replica picks the same row.
"""

from __future__ import annotations

from meshd.core.entry import UsageEntry

Rank = tuple[int, int, int]
Position = tuple[str, int, int]


def dedup_key(entry: UsageEntry) -> str | None:
    """The key copies share, or None for entries that are never deduplicated.

    Lines without message.id are never deduplicated against each other (ccusage counts each);
    they carry a `line_key` instead, so re-reading the same line of the same file (a file that
    was replaced or truncated) cannot count it twice.
    """
    if entry.message_id is None:
        return None if entry.line_key is None else f"line\x1f{entry.line_key}"
    if entry.request_id is None:
        return f"{entry.provider}\x1f{entry.message_id}"
    return f"{entry.provider}\x1f{entry.message_id}\x1f{entry.request_id}"


def rank(entry: UsageEntry) -> Rank:
    """How good a copy is: larger wins."""
    return (0 if entry.is_sidechain else 1, entry.total_tokens, 0 if entry.speed is None else 1)


def beats(a: Rank, a_pos: Position, b: Rank, b_pos: Position) -> bool:
    """True when copy `a` wins over copy `b`."""
    return a > b or (a == b and a_pos < b_pos)
