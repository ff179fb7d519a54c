"""Claude Code JSONL lines -> usage entries, following ccusage 20.0.24's rules (docs/ccusage-compat.md)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import orjson

from meshd.core.entry import UsageEntry

USAGE_MARKER = b'"usage":{'
_VERSION_RE = re.compile(r"^\d+\.\d+\.\d")
_LIMIT_RE = re.compile(r"Claude AI usage limit reached\|(\d+)")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)
_NULL_TOP = ("sessionId", "requestId", "version", "costUSD", "isApiErrorMessage", "cwd")
_NULL_MSG = ("id", "model")
_NULL_USAGE = ("speed", "cache_read_input_tokens", "cache_creation_input_tokens")


class MalformedLine(ValueError):
    """A line that looks like usage (or like JSON) but cannot be used."""


def parse_timestamp(value: object) -> int:
    """ISO-8601 timestamp -> epoch milliseconds (UTC); raises MalformedLine."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        raise MalformedLine("bad timestamp")
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedLine("bad timestamp") from None
    if dt.tzinfo is None:
        raise MalformedLine("timestamp without zone")
    return (dt - _EPOCH) // _MS


def _tokens(usage: dict, key: str, required: bool) -> int:
    v = usage.get(key)
    if v is None:
        if required:
            raise MalformedLine(f"missing {key}")
        return 0
    if type(v) is not int or v < 0 or v > 1 << 53:
        raise MalformedLine(f"bad {key}")
    return v


def _check_nulls(obj: dict, msg: dict, usage: dict) -> None:
    for where, d, keys in (("", obj, _NULL_TOP), ("message.", msg, _NULL_MSG), ("usage.", usage, _NULL_USAGE)):
        for k in keys:
            if k in d and d[k] is None:
                raise MalformedLine(f"{where}{k} is null")


def parse_line(line: bytes, project: str, session_id: str) -> UsageEntry | None:
    """One JSONL line -> a UsageEntry, None when the line carries no usage; MalformedLine when broken."""
    if USAGE_MARKER not in line:
        return None
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise MalformedLine("not JSON") from None
    if not isinstance(obj, dict):
        raise MalformedLine("not an object")
    msg = obj.get("message")
    if not isinstance(msg, dict):
        return None
    usage = msg.get("usage")
    if not isinstance(usage, dict):
        return None
    if b"null" in line:
        _check_nulls(obj, msg, usage)
    version = obj.get("version")
    if version is not None and (not isinstance(version, str) or not _VERSION_RE.match(version)):
        raise MalformedLine("bad version")
    ts = parse_timestamp(obj.get("timestamp"))
    sid = obj.get("sessionId")
    rid = obj.get("requestId")
    mid = msg.get("id")
    model = msg.get("model")
    for name, v in (("sessionId", sid), ("requestId", rid), ("message.id", mid), ("message.model", model)):
        if v is not None and (not isinstance(v, str) or v == ""):
            raise MalformedLine(f"bad {name}")
    inp = _tokens(usage, "input_tokens", True)
    out = _tokens(usage, "output_tokens", True)
    cr = _tokens(usage, "cache_read_input_tokens", False)
    cc = usage.get("cache_creation")
    if isinstance(cc, dict):
        c5 = _tokens(cc, "ephemeral_5m_input_tokens", False)
        c1 = _tokens(cc, "ephemeral_1h_input_tokens", False)
    else:
        c5 = _tokens(usage, "cache_creation_input_tokens", False)
        c1 = 0
    speed = usage.get("speed")
    if speed is not None and speed not in ("standard", "fast"):
        speed = None
    cost = obj.get("costUSD")
    if cost is not None and (isinstance(cost, bool) or not isinstance(cost, (int, float))):
        raise MalformedLine("bad costUSD")
    limit_reset = None
    if obj.get("isApiErrorMessage") is True:
        m = _LIMIT_RE.search(line.decode("utf-8", "replace"))
        if m:
            limit_reset = int(m.group(1))
    return UsageEntry(
        ts=ts,
        provider="claude",
        model=model or "",
        session_id=session_id,
        project=project,
        input_tokens=inp,
        output_tokens=out,
        cache_write_5m_tokens=c5,
        cache_write_1h_tokens=c1,
        cache_read_tokens=cr,
        cost_usd=float(cost) if cost is not None else None,
        speed=speed,
        is_sidechain=obj.get("isSidechain") is True,
        message_id=mid,
        request_id=rid,
        usage_limit_reset=limit_reset,
    )
