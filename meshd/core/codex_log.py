"""Codex CLI rollout JSONL lines -> usage entries, following ccusage 20.0.24's rules. Pure.

A Codex session file (`sessions/YYYY/MM/DD/rollout-<ts>-<uuid>.jsonl`) carries usage as
`event_msg` lines whose `payload.type` is `token_count`; `payload.info` holds the turn's usage
(`last_token_usage`) and the session's running total (`total_token_usage`). Rules (checked
against the 20.0.24 binary, docs/ccusage-compat.md §6):

- the per-event usage is `last_token_usage` when present, else `total - previous total`
  (field by field, never below 0); every `total_token_usage` seen becomes the previous total;
  an `event_msg` without a timestamp is ignored entirely (it does not move the previous total);
- an event whose input, cached, output and reasoning are all 0 is no usage (`info: null` too);
- token fields are read leniently: a non-negative integer or a string of digits counts,
  anything else is absent; alternative names (`prompt_tokens`, `cached_tokens`,
  `completion_tokens`, `reasoning_tokens`, ...) are used when the main name is absent;
- cached input is clamped to the input; the entry's input is the non-cached part
  (input - cached - cache writes), cached input is a cache read, reasoning is inside output;
- the model is the event's own (`payload.model|model_name|metadata.model`, then the same under
  `info`), else the last `turn_context` model, else `gpt-5` marked as a fallback;
  `codex-auto-review` is priced as the newest model released on or before the event's date;
- subagent files (the word `thread_spawn` in their first 16 KiB) start by replaying the parent's
  token counts, all in one second: when the first two token-count events share their second,
  every event of that second at the start of the file only moves the previous total.

Parsing is incremental: `CodexState` is what a file's earlier lines left behind (previous total,
current model, ...); the ingest adapter stores it next to the file's cursor, in the same
transaction, so a resumed read gives exactly the entries a full read gives.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone

import orjson

from meshd.core.claude_log import MalformedLine
from meshd.core.entry import UsageEntry

FALLBACK_MODEL = "gpt-5"
AUTO_REVIEW_MODEL = "codex-auto-review"
# (released on, model) newest first: what ccusage 20.0.24 prices `codex-auto-review` as.
AUTO_REVIEW_FALLBACKS = (
    ("2026-07-30", "gpt-5.6-luna"),
    ("2026-03-05", "gpt-5.4"),
    ("2026-02-05", "gpt-5.3-codex"),
    ("2025-12-11", "gpt-5.2-codex"),
    ("2025-11-13", "gpt-5.1-codex"),
    ("2025-09-15", "gpt-5-codex"),
    ("2025-08-07", "gpt-5"),
)
SUBAGENT_MARKER = b"thread_spawn"
SUBAGENT_HEAD = 16 * 1024
# Lines worth parsing contain one of these; every other line is skipped unparsed.
_MARKERS = (b"token_count", b"turn_context", b"session_meta")
_TS_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3})?(?:Z|[+-]\d\d:\d\d)")
_DIGITS_RE = re.compile(r"\+?\d+")
_U64 = (1 << 64) - 1
_MAX_TOKENS = 1 << 53
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)

# usage fields: (name, alternatives), in the order ccusage tries them
_INPUT = ("input_tokens", "prompt_tokens", "input")
_CACHED = ("cached_input_tokens", "cache_read_input_tokens", "cached_tokens")
_OUTPUT = ("output_tokens", "completion_tokens", "output")
_REASONING = ("reasoning_output_tokens", "reasoning_tokens")
_CACHE_WRITE = ("cache_write_input_tokens",)
_TOTAL = ("total_tokens",)


@dataclass(frozen=True, slots=True)
class RawUsage:
    """One usage object as Codex logs it (input includes cached input; output includes reasoning)."""

    input: int = 0
    cached: int = 0
    output: int = 0
    reasoning: int = 0
    cache_write: int = 0
    total: int = 0

    def minus(self, prev: RawUsage | None) -> RawUsage:
        """Field-by-field difference, never below 0."""
        if prev is None:
            return self
        return RawUsage(
            max(self.input - prev.input, 0), max(self.cached - prev.cached, 0),
            max(self.output - prev.output, 0), max(self.reasoning - prev.reasoning, 0),
            max(self.cache_write - prev.cache_write, 0), max(self.total - prev.total, 0),
        )

    def empty(self) -> bool:
        return self.input == 0 and self.cached == 0 and self.output == 0 and self.reasoning == 0


@dataclass(slots=True)
class CodexState:
    """What one file's lines so far leave behind for the next line."""

    prev_total: list[int] | None = None  # RawUsage fields of the last total_token_usage
    model: str | None = None
    model_is_fallback: bool = False
    cwd: str | None = None
    replay_second: str | None = None  # subagent files: the second their replayed prefix shares
    skip_replay: bool = False

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, data: bytes | str | None) -> CodexState:
        """Inverse of to_json; a missing or unreadable state is a fresh one."""
        if not data:
            return cls()
        try:
            d = orjson.loads(data)
            prev = d.get("prev_total")
            if prev is not None and (not isinstance(prev, list) or len(prev) != 6
                                     or not all(type(v) is int and v >= 0 for v in prev)):
                prev = None
            st = cls(prev_total=prev)
            for k in ("model", "cwd", "replay_second"):
                v = d.get(k)
                setattr(st, k, v if isinstance(v, str) else None)
            st.model_is_fallback = d.get("model_is_fallback") is True
            st.skip_replay = d.get("skip_replay") is True and st.replay_second is not None
            return st
        except (orjson.JSONDecodeError, AttributeError):
            return cls()


@dataclass(slots=True)
class ChunkResult:
    entries: list[UsageEntry] = field(default_factory=list)
    skipped: int = 0
    last_skip: str | None = None


# ---- lenient field readers (ccusage reads these fields leniently, never failing the line) ----


def _u64(v: object) -> int | None:
    if type(v) is int:
        return v if 0 <= v <= _U64 else None
    if isinstance(v, str):
        s = v.strip()
        if _DIGITS_RE.fullmatch(s):
            n = int(s)
            return n if n <= _U64 else None
    return None


def _first(d: dict, names: tuple[str, ...]) -> int | None:
    for n in names:
        v = _u64(d.get(n))
        if v is not None:
            return v
    return None


def raw_usage(v: object) -> RawUsage | None:
    """A usage object; None when `v` is not a JSON object."""
    if not isinstance(v, dict):
        return None
    inp = _first(v, _INPUT) or 0
    out = _first(v, _OUTPUT) or 0
    reasoning = _first(v, _REASONING) or 0
    total = _first(v, _TOTAL)
    if total is None or (total == 0 and inp + out + reasoning != 0):
        total = inp + out
    return RawUsage(inp, _first(v, _CACHED) or 0, out, reasoning, _first(v, _CACHE_WRITE) or 0, total)


def _text(v: object) -> str | None:
    if isinstance(v, str):
        s = v.strip()
        return s or None
    return None


def model_of(d: object) -> str | None:
    """`model`, else `model_name`, else `metadata.model` of an object (non-empty, trimmed)."""
    if not isinstance(d, dict):
        return None
    m = _text(d.get("model")) or _text(d.get("model_name"))
    if m is None:
        meta = d.get("metadata")
        if isinstance(meta, dict):
            m = _text(meta.get("model"))
    return m


def parse_ts(value: object) -> tuple[int, str] | None:
    """A Codex timestamp -> (epoch ms, the text ccusage keys it by); None when absent.

    Strings must be `YYYY-MM-DDTHH:MM:SS[.mmm](Z|±HH:MM)` (ccusage aborts the whole run on any
    other string; we skip the line instead). Numbers are epoch ms above 10^10, else seconds.
    """
    if isinstance(value, str):
        s = value.strip()
        if not s:
            return None
        if not _TS_RE.fullmatch(s):
            raise MalformedLine("bad timestamp")
        try:
            dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            raise MalformedLine("bad timestamp") from None
        return (dt - _EPOCH) // _MS, s
    if type(value) is int and value >= 0:
        ms = value if value > 10_000_000_000 else value * 1000
        if ms > 253402300799999:  # past year 9999
            raise MalformedLine("bad timestamp")
        return ms, datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    return None


def auto_review_model(ts_text: str) -> str:
    """The model `codex-auto-review` is priced as on the event's date."""
    day = ts_text[:10]
    if not re.fullmatch(r"\d{4}-\d\d-\d\d", day):
        return FALLBACK_MODEL
    for released, model in AUTO_REVIEW_FALLBACKS:
        if day >= released:
            return model
    return FALLBACK_MODEL


def fast_service_tier(config_toml: str) -> bool:
    """Whether a Codex `config.toml` asks for the fast service tier (`service_tier = "fast"` or
    `"priority"`, quotes optional, `#` comments ignored), read line by line as ccusage does."""
    for line in config_toml.splitlines():
        key, sep, value = line.split("#", 1)[0].strip().partition("=")
        if sep and key.strip() == "service_tier" and value.strip().strip("\"'") in ("fast", "priority"):
            return True
    return False


def encode_cwd(cwd: str) -> str:
    """A working directory as a project name, the way Claude Code names its project folders."""
    return re.sub(r"[^A-Za-z0-9]", "-", cwd)


# ---- subagent replay detection (needs the file's beginning) ----------------------------------


def replay_second(data: bytes) -> str | None:
    """For a subagent file's bytes (from the start): the second its replayed prefix shares, or None.

    A file is a subagent's when `thread_spawn` occurs in its first 16 KiB; its replayed prefix
    exists when the first two token-count events with usage share their second.
    """
    if SUBAGENT_MARKER not in data[:SUBAGENT_HEAD]:
        return None
    first: str | None = None
    for line in data.split(b"\n"):
        if b"token_count" not in line:
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(obj, dict) or obj.get("type") != "event_msg":
            continue
        payload = obj.get("payload")
        if not isinstance(payload, dict) or payload.get("type") != "token_count":
            continue
        info = payload.get("info")
        if not isinstance(info, dict) or (raw_usage(info.get("last_token_usage")) is None
                                          and raw_usage(info.get("total_token_usage")) is None):
            continue
        try:
            ts = parse_ts(obj.get("timestamp"))
        except MalformedLine:
            continue
        if ts is None or len(ts[1]) < 19:
            continue
        sec = ts[1][:19]
        if first is None:
            first = sec
        else:
            return sec if sec == first else None
    return None


def start_state(head: bytes) -> CodexState:
    """The state before a file's first line, given the file's bytes (at least its beginning)."""
    sec = replay_second(head)
    return CodexState(replay_second=sec, skip_replay=sec is not None)


# ---- lines -----------------------------------------------------------------------------------


def wants(line: bytes) -> bool:
    """Cheap byte test: could this line matter (token count, turn context, session meta)?"""
    return any(m in line for m in _MARKERS)


def entry_id(ts_text: str, model: str, u: RawUsage, cached: int) -> str:
    """ccusage's dedup identity of a Codex event: timestamp text, model and tokens, not the session.

    ccusage's `codex daily|monthly` keep one copy of equal events across all files and folders
    (a forked session copies its parent's token counts verbatim); so do we, in every report.
    """
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{ts_text}\x1f{model}\x1f{u.input}\x1f{cached}\x1f{u.output}\x1f"
             f"{u.reasoning}\x1f{u.total}\x1f{u.cache_write}".encode("utf-8", "surrogatepass"))
    return "codex:" + h.hexdigest()


def parse_line(line: bytes, state: CodexState, session_id: str) -> UsageEntry | None:
    """One line -> a usage entry or None, updating `state`; MalformedLine when the line is broken."""
    if not wants(line):
        return None
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise MalformedLine("not JSON") from None
    if not isinstance(obj, dict):
        raise MalformedLine("not an object")
    kind = obj.get("type")
    payload = obj.get("payload")
    if not isinstance(payload, dict):
        payload = None
    if kind == "session_meta":
        if payload is not None and state.cwd is None:
            state.cwd = _text(payload.get("cwd"))
        return None
    if kind == "turn_context":
        if payload is not None:
            m = model_of(payload)
            if m is not None:
                state.model, state.model_is_fallback = m, False
            if state.cwd is None:
                state.cwd = _text(payload.get("cwd"))
        return None
    if kind != "event_msg":
        return None
    ts = parse_ts(obj.get("timestamp"))
    if ts is None or payload is None or payload.get("type") != "token_count":
        return None
    info = payload.get("info")
    if not isinstance(info, dict):
        info = None
    total = raw_usage(info.get("total_token_usage")) if info else None
    if state.skip_replay:
        if ts[1][:19] == state.replay_second:
            if total is not None:
                state.prev_total = list(_fields(total))
            return None
        state.skip_replay = False
    prev = RawUsage(*state.prev_total) if state.prev_total is not None else None
    usage = raw_usage(info.get("last_token_usage")) if info else None
    if usage is None and total is not None:
        usage = total.minus(prev)
    if total is not None:
        state.prev_total = list(_fields(total))
    if usage is None or usage.empty():
        return None
    model, _fallback = _resolve_model(model_of(payload) or (model_of(info) if info else None), ts[1], state)
    cached = min(usage.cached, usage.input)
    cache_write = min(usage.cache_write, usage.input - cached)
    for v in (usage.input, usage.output, usage.reasoning):
        if v > _MAX_TOKENS:
            raise MalformedLine("token count too large")
    return UsageEntry(
        ts=ts[0],
        provider="codex",
        model=model,
        session_id=session_id,
        project=encode_cwd(state.cwd) if state.cwd else "",
        input_tokens=usage.input - cached - cache_write,
        output_tokens=usage.output,
        cache_write_5m_tokens=cache_write,
        cache_read_tokens=cached,
        reasoning_tokens=usage.reasoning,
        message_id=entry_id(ts[1], model, usage, cached),
    )


def _fields(u: RawUsage) -> tuple[int, int, int, int, int, int]:
    return (u.input, u.cached, u.output, u.reasoning, u.cache_write, u.total)


def _resolve_model(parsed: str | None, ts_text: str, state: CodexState) -> tuple[str, bool]:
    """The model an event is priced as, and whether it is a fallback (ccusage's rules)."""
    if parsed is not None:
        state.model, state.model_is_fallback = parsed, False
        model, fallback = parsed, False
    elif state.model is not None:
        model, fallback = state.model, state.model_is_fallback
    else:
        state.model, state.model_is_fallback = FALLBACK_MODEL, True
        model, fallback = FALLBACK_MODEL, True
    if model == AUTO_REVIEW_MODEL:
        return auto_review_model(ts_text), True
    return model, fallback


def parse_chunk(body: bytes, lineno: int, state: CodexState, session_id: str
                ) -> tuple[ChunkResult, int]:
    """Complete lines (each ending in "\\n") -> entries and skip counts, and the line number after them."""
    res = ChunkResult()
    for line in body.split(b"\n")[:-1]:
        lineno += 1
        try:
            e = parse_line(line, state, session_id)
        except MalformedLine as err:
            res.skipped += 1
            res.last_skip = f"line {lineno}: {err}"
            continue
        if e is not None:
            res.entries.append(e)
        elif not _looks_like_json(line):
            res.skipped += 1
            res.last_skip = f"line {lineno}: not JSON"
    return res, lineno


def _looks_like_json(line: bytes) -> bool:
    s = line.strip()
    return not s or (s[:1] == b"{" and s[-1:] == b"}")
