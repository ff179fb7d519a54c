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
        """Inverse of `to_record`; raises ValueError on a malformed body (hot path: keep it flat)."""
        get = d.get
        ts, p, m, s, j = get("t"), get("p"), get("m"), get("s"), get("j")
        if type(ts) is not int or not (type(p) is type(m) is type(s) is type(j) is str):
            raise ValueError("t, p, m, s, j must be an integer and strings")
        toks = (get("i", 0), get("o", 0), get("c5", 0), get("c1", 0), get("cr", 0), get("r", 0))
        for v in toks:
            if type(v) is not int or v < 0 or v > _MAX_TOKENS:
                raise ValueError("token counts must be non-negative integers")
        cost, sp, mid, rid, ul, lk = get("$"), get("sp"), get("mid"), get("rid"), get("ul"), get("lk")
        if cost is not None and (type(cost) is not float and type(cost) is not int):
            raise ValueError("$ must be a number")
        for v in (sp, mid, rid, lk):
            if v is not None and type(v) is not str:
                raise ValueError("sp, mid, rid, lk must be strings")
        if ul is not None and type(ul) is not int:
            raise ValueError("ul must be an integer")
        return cls(
            ts, p, m, s, j, toks[0], toks[1], toks[2], toks[3], toks[4], toks[5],  # type: ignore[arg-type]
            None if cost is None else float(cost), sp, bool(get("sc", 0)), mid, rid, ul, lk,  # type: ignore[arg-type]
        )


_MAX_TOKENS = 1 << 53


# UsageRow lives in core/row.py (no dataclasses: the report path imports it); re-exported here.
from meshd.core.row import UsageRow  # noqa: E402

__all__ = ["UsageEntry", "UsageRow"]
