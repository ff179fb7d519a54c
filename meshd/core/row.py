"""UsageRow: what reports aggregate. A plain slotted class, not a dataclass, so the report path
(`meshctl daily --json`) does not pay for importing dataclasses (and inspect) on every run."""

from __future__ import annotations

_FIELDS = ("ts", "device", "provider", "model", "project", "session_id", "input_tokens", "output_tokens",
           "cache_creation_tokens", "cache_read_tokens", "cost", "reasoning_tokens", "count", "ts_last",
           "usage_limit_reset")


class UsageRow:
    """One deduplicated entry, or a pre-summed bucket of them.

    `cost` is already resolved for the cost mode in use. `count` and `ts_last` let a storage
    layer hand over pre-aggregated buckets instead of single entries (`ts_last` < 0: `ts`).
    Compares equal field by field, like the dataclass it replaces; mutable, so not hashable.
    """

    __slots__ = _FIELDS
    __match_args__ = _FIELDS

    def __init__(self, ts: int, device: str, provider: str, model: str, project: str, session_id: str,
                 input_tokens: int, output_tokens: int, cache_creation_tokens: int, cache_read_tokens: int,
                 cost: float, reasoning_tokens: int = 0, count: int = 1, ts_last: int = -1,
                 usage_limit_reset: int | None = None) -> None:
        self.ts = ts
        self.device = device
        self.provider = provider
        self.model = model
        self.project = project
        self.session_id = session_id
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.cache_creation_tokens = cache_creation_tokens
        self.cache_read_tokens = cache_read_tokens
        self.cost = cost
        self.reasoning_tokens = reasoning_tokens
        self.count = count
        self.ts_last = ts if ts_last < 0 else ts_last
        self.usage_limit_reset = usage_limit_reset

    def _astuple(self) -> tuple[object, ...]:
        return tuple(getattr(self, f) for f in _FIELDS)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._astuple() == other._astuple()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "UsageRow(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in _FIELDS) + ")"

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_creation_tokens + self.cache_read_tokens
