"""Claude Code JSONL lines -> usage entries, following ccusage 20.0.24's rules (docs/ccusage-compat.md)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

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


# --- The fast path: one JSONL line -> the log record body, without a UsageEntry ------------------
#
# `usage_record` gives exactly `parse_line(...).to_record()` (and raises exactly the same
# MalformedLine) for every line, but handles the common shape of a Claude Code line in one pass
# of lookups. Whatever is not plainly ordinary (a null where ccusage forbids one, an odd type, an
# unusual timestamp or version, an API error line) goes to `parse_line`, the reference, so the
# rarely used rules live in one place. tests/test_claude_log.py checks that the two agree on
# generated and hostile lines.

_CACHE_MAX = 4096  # entries of each cache below; cleared when full (hostile input cannot grow them)
_VERSIONS_OK: dict[str, bool] = {}  # version string -> matches _VERSION_RE (few distinct values)
_MINUTES: dict[str, int] = {}  # "YYYY-MM-DDTHH:MM" -> epoch ms of that minute, UTC
_HOURS: dict[str, int] = {}  # "YYYY-MM-DDTHH" -> epoch ms of that hour, UTC
_D60 = {f"{i:02d}": i * 1000 for i in range(60)}  # seconds field -> ms
_D1000 = {f"{i:03d}": i for i in range(1000)}  # milliseconds field -> ms
_MAX_TOKENS = 1 << 53
_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError


def _minute(prefix: str) -> int | None:
    """Epoch ms of a "YYYY-MM-DDTHH:MM" prefix, judged by the reference parser; None: not one."""
    if prefix[13:14] != ":":
        return None
    mi = _D60.get(prefix[14:])
    hour = _HOURS.get(prefix[:13])
    if hour is None:
        if (len(prefix) != 16 or prefix[4] != "-" or prefix[7] != "-" or prefix[10] != "T"
                or prefix[11:13] >= "24" or not prefix.isascii()
                or not (prefix[:4] + prefix[5:7] + prefix[8:10] + prefix[11:13]).isdigit()):
            return None
        try:
            hour = parse_timestamp(prefix[:13] + ":00:00.000Z")
        except MalformedLine:
            return None
        if len(_HOURS) >= _CACHE_MAX:
            _HOURS.clear()
        _HOURS[prefix[:13]] = hour
    if mi is None:
        return None
    ms = hour + mi * 60  # _D60 gives 1000 x the field: minutes in ms
    if len(_MINUTES) >= _CACHE_MAX:
        _MINUTES.clear()
    _MINUTES[prefix] = ms
    return ms


def _version_ok(v: str) -> bool:
    ok = _VERSIONS_OK.get(v)
    if ok is None:
        ok = _VERSION_RE.match(v) is not None
        if len(_VERSIONS_OK) >= _CACHE_MAX:
            _VERSIONS_OK.clear()
        _VERSIONS_OK[v] = ok
    return ok


def _slow_record(line: bytes, project: str, session_id: str) -> dict[str, Any] | None:
    e = parse_line(line, project, session_id)
    return None if e is None else e.to_record()


def usage_record(line: bytes, project: str, session_id: str) -> dict[str, Any] | None:
    """`parse_line(line, project, session_id).to_record()`, None when the line carries no usage.

    Raises MalformedLine exactly where parse_line does. The caller adds a line key ("lk") to a
    record without "mid" (`UsageEntry.to_record` places it last).
    """
    if USAGE_MARKER not in line:
        return None
    return marked_record(line, project, session_id)


def marked_record(line: bytes, project: str, session_id: str) -> dict[str, Any] | None:
    """`usage_record` of a line already known to contain USAGE_MARKER."""
    try:
        obj = _loads(line)
    except _JSONDecodeError:
        raise MalformedLine("not JSON") from None
    if type(obj) is not dict:
        return _slow_record(line, project, session_id)
    msg = obj.get("message")
    if type(msg) is not dict:
        return _slow_record(line, project, session_id)
    usage = msg.get("usage")
    if type(usage) is not dict:
        return _slow_record(line, project, session_id)
    get = obj.get
    sid = get("sessionId")
    rid = get("requestId")
    version = get("version")
    cost = get("costUSD")
    mid = msg.get("id")
    model = msg.get("model")
    uget = usage.get
    inp = uget("input_tokens")
    out = uget("output_tokens")
    cr = uget("cache_read_input_tokens")
    speed = uget("speed")
    # The ordinary shape only; anything else goes to the reference parser. A value that is None
    # while its key is there is a JSON null where ccusage forbids one.
    if (
        (type(sid) is not str or not sid) and (sid is not None or "sessionId" in obj)
        or (type(rid) is not str or not rid) and (rid is not None or "requestId" in obj)
        or (type(mid) is not str or not mid) and (mid is not None or "id" in msg)
        or (type(model) is not str or not model) and (model is not None or "model" in msg)
        or (type(version) is not str or _VERSIONS_OK.get(version) is not True and not _version_ok(version))
        and (version is not None or "version" in obj)
        or cost is not None and type(cost) is not float and type(cost) is not int
        or cost is None and "costUSD" in obj
        or "isApiErrorMessage" in obj and get("isApiErrorMessage") is not False  # true: a limit line
        or get("cwd") is None and "cwd" in obj
        or speed is None and "speed" in usage
        or type(inp) is not int or not 0 <= inp <= _MAX_TOKENS
        or type(out) is not int or not 0 <= out <= _MAX_TOKENS
        or cr is not None and (type(cr) is not int or not 0 <= cr <= _MAX_TOKENS)
        or cr is None and "cache_read_input_tokens" in usage
    ):
        return _slow_record(line, project, session_id)
    cc = uget("cache_creation")
    if type(cc) is dict:
        c5 = cc.get("ephemeral_5m_input_tokens", 0)
        c1 = cc.get("ephemeral_1h_input_tokens", 0)
        if (type(c5) is not int or not 0 <= c5 <= _MAX_TOKENS or type(c1) is not int or not 0 <= c1 <= _MAX_TOKENS
                or uget("cache_creation_input_tokens", 0) is None):
            return _slow_record(line, project, session_id)
    else:
        c5 = uget("cache_creation_input_tokens", 0)
        c1 = 0
        if type(c5) is not int or not 0 <= c5 <= _MAX_TOKENS:
            return _slow_record(line, project, session_id)
    # "YYYY-MM-DDTHH:MM:SS.fffZ", what Claude Code writes: the minute judged once by the
    # reference parser, seconds and milliseconds by table lookups; any other shape: the reference.
    v = get("timestamp")
    if type(v) is not str or len(v) != 24 or v[23] != "Z" or v[16] != ":" or v[19] != ".":
        return _slow_record(line, project, session_id)
    ts = _MINUTES.get(v[:16])
    if ts is None:
        ts = _minute(v[:16])
    se = _D60.get(v[17:19])
    ms = _D1000.get(v[20:23])
    if ts is None or se is None or ms is None:
        return _slow_record(line, project, session_id)
    d: dict[str, Any] = {
        "t": ts + se + ms, "p": "claude", "m": model or "", "s": session_id, "j": project,
        "i": inp, "o": out, "c5": c5, "c1": c1, "cr": cr or 0,
    }
    if cost is not None:
        d["$"] = float(cost)
    if speed == "standard" or speed == "fast":
        d["sp"] = speed
    if get("isSidechain") is True:
        d["sc"] = 1
    if mid is not None:
        d["mid"] = mid
    if rid is not None:
        d["rid"] = rid
    return d
