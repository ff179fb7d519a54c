"""Usage entries (what a log line means) and usage rows (what reports aggregate)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UsageEntry:
    """One API response's token usage, as parsed from a provider's log line.

    This is the body of a `usage` record in the device log; it is immutable once appended.
    """

    ts: int  # epoch milliseconds, UTC
    provider: str  # "claude" | "codex"
    model: str  # "" when the line had none; "<synthetic>" counts tokens but is no model
    session_id: str
    project: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_5m_tokens: int = 0  # the flat cache_creation_input_tokens when no breakdown exists
    cache_write_1h_tokens: int = 0
    cache_read_tokens: int = 0
    reasoning_tokens: int = 0  # codex: already inside output_tokens
    cost_usd: float | None = None  # costUSD as logged, if any
    speed: str | None = None  # "standard" | "fast" | None
    is_sidechain: bool = False
    message_id: str | None = None
    request_id: str | None = None
    usage_limit_reset: int | None = None  # epoch seconds from "usage limit reached|<ts>"
    line_key: str | None = None  # for lines without message.id: hash of (device, file, line no, bytes)

    @property
    def cache_creation_tokens(self) -> int:
        return self.cache_write_5m_tokens + self.cache_write_1h_tokens

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_write_5m_tokens
            + self.cache_write_1h_tokens
            + self.cache_read_tokens
        )

    def to_record(self) -> dict[str, object]:
        """Compact dict for the log record body (short keys keep the wire small)."""
        d: dict[str, object] = {
            "t": self.ts,
            "p": self.provider,
            "m": self.model,
            "s": self.session_id,
            "j": self.project,
            "i": self.input_tokens,
            "o": self.output_tokens,
            "c5": self.cache_write_5m_tokens,
            "c1": self.cache_write_1h_tokens,
            "cr": self.cache_read_tokens,
        }
        if self.reasoning_tokens:
            d["r"] = self.reasoning_tokens
        if self.cost_usd is not None:
            d["$"] = self.cost_usd
        if self.speed is not None:
            d["sp"] = self.speed
        if self.is_sidechain:
            d["sc"] = 1
        if self.message_id is not None:
            d["mid"] = self.message_id
        if self.request_id is not None:
            d["rid"] = self.request_id
        if self.usage_limit_reset is not None:
            d["ul"] = self.usage_limit_reset
        if self.line_key is not None:
            d["lk"] = self.line_key
        return d

    @classmethod
    def from_record(cls, d: dict[str, object]) -> UsageEntry:
        """Inverse of `to_record`; raises KeyError/TypeError/ValueError on a malformed body."""

        def nat(key: str) -> int:
            v = d.get(key, 0)
            if type(v) is not int or v < 0:
                raise ValueError(f"{key} must be a non-negative integer")
            return v

        def opt_str(key: str) -> str | None:
            v = d.get(key)
            if v is not None and not isinstance(v, str):
                raise ValueError(f"{key} must be a string")
            return v

        def req_str(key: str) -> str:
            v = d[key]
            if not isinstance(v, str):
                raise ValueError(f"{key} must be a string")
            return v

        ts = d["t"]
        if type(ts) is not int:
            raise ValueError("t must be an integer")
        cost = d.get("$")
        if cost is not None and (isinstance(cost, bool) or not isinstance(cost, (int, float))):
            raise ValueError("$ must be a number")
        ul = d.get("ul")
        if ul is not None and type(ul) is not int:
            raise ValueError("ul must be an integer")
        return cls(
            ts=ts,
            provider=req_str("p"),
            model=req_str("m"),
            session_id=req_str("s"),
            project=req_str("j"),
            input_tokens=nat("i"),
            output_tokens=nat("o"),
            cache_write_5m_tokens=nat("c5"),
            cache_write_1h_tokens=nat("c1"),
            cache_read_tokens=nat("cr"),
            reasoning_tokens=nat("r"),
            cost_usd=float(cost) if cost is not None else None,
            speed=opt_str("sp"),
            is_sidechain=bool(d.get("sc", 0)),
            message_id=opt_str("mid"),
            request_id=opt_str("rid"),
            usage_limit_reset=ul,
            line_key=opt_str("lk"),
        )


@dataclass(slots=True)
class UsageRow:
    """What reports aggregate: one deduplicated entry, or a pre-summed bucket of them.

    `cost` is already resolved for the cost mode in use. `count` and `ts_last` let a storage
    layer hand over pre-aggregated buckets instead of single entries.
    """

    ts: int
    device: str
    provider: str
    model: str
    project: str
    session_id: str
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_read_tokens: int
    cost: float
    reasoning_tokens: int = 0
    count: int = 1
    ts_last: int = -1
    usage_limit_reset: int | None = None

    def __post_init__(self) -> None:
        if self.ts_last < 0:
            self.ts_last = self.ts

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_creation_tokens + self.cache_read_tokens
