"""The fast Claude line parser (claude_log.marked_record, tailer.parse_bodies) against the reference.

The reference is `parse_line(...).to_record()` dumped by orjson (and tailer.parse_lines +
record_bodies for whole chunks): the log is replicated, so the same line must give the same
record bytes, the same skip count and the same skip reason on every version.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshd.core import claude_log
from meshd.core.claude_log import MalformedLine, parse_line, usage_record
from meshd.ingest.sources import LogFile
from meshd.ingest.tailer import parse_bodies, parse_lines, record_bodies

DEV = "d" * 32
LF = LogFile(path="/x/projects/p/s.jsonl", source="/x", project="p", session_id="s")


def reference(line: bytes) -> object:
    """What the reference parser makes of a line: record bytes, None, or ('skip', reason)."""
    try:
        e = parse_line(line, "proj", "sess")
    except MalformedLine as err:
        return ("skip", str(err))
    return None if e is None else orjson.dumps(e.to_record())


def fast(line: bytes) -> object:
    try:
        d = usage_record(line, "proj", "sess")
    except MalformedLine as err:
        return ("skip", str(err))
    return None if d is None else orjson.dumps(d)


def agree(line: bytes) -> None:
    assert fast(line) == reference(line), line


def base_line(**top: object) -> dict:
    d: dict = {
        "parentUuid": None, "isSidechain": False, "userType": "external", "cwd": "/home/a/src/p",
        "sessionId": "0b1c", "version": "2.0.31", "gitBranch": "main", "type": "assistant",
        "message": {"id": "msg_01", "type": "message", "role": "assistant", "model": "claude-opus-4-6",
                    "content": [{"type": "text", "text": "hi"}], "stop_reason": None, "stop_sequence": None,
                    "usage": {"input_tokens": 3, "cache_creation_input_tokens": 10, "cache_read_input_tokens": 20,
                              "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 0},
                              "output_tokens": 5, "service_tier": "standard"}},
        "requestId": "req_01", "uuid": "u1", "timestamp": "2026-03-02T11:34:14.715Z",
    }
    d.update(top)
    return d


def dumps(d: object) -> bytes:
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode()


def test_generated_history_lines_agree(tmp_path: Path) -> None:
    from tests.histgen import generate

    h = generate(tmp_path / "h", folders=2, target_bytes=2 << 20, seed=11)
    n = 0
    for f in sorted(tmp_path.rglob("*.jsonl")):
        for line in f.read_bytes().split(b"\n"):
            agree(line)
            n += claude_log.USAGE_MARKER in line
    assert n > 500 and h.usage_lines > 500


def test_ordinary_line_takes_the_fast_path(monkeypatch) -> None:
    """The common shape must not fall back to the reference (that would be the old speed)."""
    monkeypatch.setattr(claude_log, "_slow_record", lambda *a: pytest.fail("fell back"))
    d = usage_record(dumps(base_line()), "proj", "sess")
    assert d == {"t": 1772451254715, "p": "claude", "m": "claude-opus-4-6", "s": "sess", "j": "proj", "i": 3,
                 "o": 5, "c5": 10, "c1": 0, "cr": 20, "mid": "msg_01", "rid": "req_01"}


# Values a field may hold in a hostile or odd line.
ODD = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([2**53, 2**53 + 1, 2**63 - 1, -(2**63)]),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["", "x", "fast", "standard", "2.0.1",
                                                                       "1.2", "a.b.c", "٣.٣.٣"]),
    st.lists(st.integers(0, 2), max_size=2), st.dictionaries(st.sampled_from(["a", "ephemeral_5m_input_tokens"]),
                                                             st.integers(0, 5), max_size=2),
)
TS = st.one_of(
    st.sampled_from([
        "2026-03-02T11:34:14.715Z", "2026-03-02T11:34:14Z", "2026-03-02T11:34:14.715+05:30",
        "2026-03-02T11:34:14.715", "2026-03-02 11:34:14.715Z", "2026-02-30T11:34:14.715Z",
        "2026-03-02T24:00:00.000Z", "2026-03-02T23:59:60.000Z", "2026-03-02T11:60:14.715Z",
        "2026-03-02T11:34:14.7150Z", "2026-03-02T11:34:14.71Z", "2026-03-02T11:34:14,715Z",
        "2026-03-02T11:34:1٤.715Z", "2026-03-02T1١:34:14.715Z", "+026-03-02T11:34:14.715Z",
        "2026-03-02T11:34:-1.715Z", "2026-03-02T11:34:14.-15Z", "2026-03-02T11:34:14. 15Z",
        "0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z", "2026-W10-1T11:34:14.715Z",
        "20260302T113414.715Z", "2026-03-02T11:3414.7150Z", "2026-03-02T11:34:14.715z",
    ]),
    st.builds(lambda y, mo, d, h, mi, s, ms: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}.{ms:03d}Z",
              st.integers(1, 9999), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25),
              st.integers(0, 61), st.integers(0, 61), st.integers(0, 999)),
    st.text(max_size=30), ODD,
)
TOP = ["sessionId", "requestId", "version", "costUSD", "isApiErrorMessage", "cwd", "isSidechain", "timestamp"]
MSG = ["id", "model", "usage"]
USAGE = ["input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "speed",
         "cache_creation"]
CC = ["ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"]


@st.composite
def mutated(draw) -> bytes:  # type: ignore[no-untyped-def]
    # mostly one odd thing at a time in an otherwise ordinary line: each rule gets tested alone
    d = base_line(timestamp=draw(TS) if draw(st.integers(0, 3)) == 0 else "2026-03-02T11:34:14.715Z")
    msg, usage = d["message"], d["message"]["usage"]
    if draw(st.booleans()):
        del usage["cache_creation"]
    for where, keys in ((d, TOP), (msg, MSG), (usage, USAGE), (usage.get("cache_creation"), CC)):
        if not isinstance(where, dict):
            continue
        for k in draw(st.lists(st.sampled_from(keys), max_size=2, unique=True)):
            how = draw(st.integers(0, 3))
            if how == 0:
                where.pop(k, None)
            else:
                where[k] = None if how == 1 else draw(ODD)
    if draw(st.integers(0, 5)) == 0:
        d["isApiErrorMessage"] = True
        msg["content"] = [{"type": "text", "text": "Claude AI usage limit reached|1772460000"}]
    text = dumps(d)
    tweak = draw(st.integers(0, 12))
    if tweak == 1:  # a duplicate key: orjson keeps the last one
        text = text[:-1] + b',"sessionId":' + dumps(draw(ODD)) + b"}"
    elif tweak == 2:
        text = text[: draw(st.integers(0, len(text)))]
    elif tweak == 3:
        text = text.replace(b'"cost', b'"\\u0063ost')  # an escaped key still names the field
    elif tweak == 4:
        text = b"[" + text + b"]"
    elif tweak == 5:
        text = text.replace(b'"usage":{', b'"usage":{"x":"\xff",', 1) if draw(st.booleans()) else b" " + text
    return text


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_fast_parser_equals_reference_on_hostile_lines(line: bytes) -> None:
    agree(line)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200).map(lambda b: b'{"message":{"usage":{' + b))
def test_fast_parser_equals_reference_on_garbage(line: bytes) -> None:
    agree(line)


def test_fast_timestamps_equal_the_reference_for_every_second_of_a_day_edge() -> None:
    for v in ["2026-12-31T23:59:59.999Z", "2024-02-29T00:00:00.000Z", "2023-02-29T00:00:00.000Z",
              "1970-01-01T00:00:00.000Z", "1969-12-31T23:59:59.999Z"]:
        agree(dumps(base_line(timestamp=v)))


LINES = st.one_of(
    mutated(),
    st.just(dumps(base_line())),
    st.builds(lambda: dumps(base_line(message={"usage": {"input_tokens": 1, "output_tokens": 2}}))),  # no id
    st.sampled_from([b"", b"garbage", b"{}", b'{"type":"user"}\r', b"  {}  ", b"[1]", b"{", b"\r", b"}", b"{x",
                     b"x}", b" ", b'{"a":"usage"}', b'"usage":{', b'{"usage":{}}', b"\x00\xff"]),
    st.binary(max_size=12),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(LINES, max_size=12), st.integers(0, 5), st.binary(max_size=20))
def test_parse_bodies_equals_parse_lines_and_record_bodies(lines: list[bytes], lineno: int, tail: bytes) -> None:
    """Chunks of any lines (and a partial last line, which neither reads) give the same answer."""
    body = b"".join(x.replace(b"\n", b" ") + b"\n" for x in lines) + tail.replace(b"\n", b" ")
    entries, skipped, last_skip, end = parse_lines(body, lineno, LF, DEV)
    assert parse_bodies(body, lineno, LF, DEV) == (*record_bodies(entries), skipped, last_skip, end)


def test_parse_bodies_with_another_parser_uses_it() -> None:
    from meshd.core.entry import UsageEntry

    def parser(line: bytes, project: str, session: str) -> UsageEntry | None:
        return UsageEntry(1, "claude", "m", session, project, message_id="x") if b"usage" in line else None

    body = dumps(base_line()) + b"\n"
    assert parse_bodies(body, 0, LF, DEV, parser)[0] == [orjson.dumps(parser(body, "p", "s").to_record())]  # type: ignore[union-attr]


def test_caches_stay_bounded() -> None:
    for i in range(claude_log._CACHE_MAX + 10):
        usage_record(dumps(base_line(version=f"2.0.{i}", timestamp=f"20{i % 90 + 10:02d}-01-01T{i % 24:02d}:"
                                                                     f"{i % 60:02d}:00.000Z")), "p", "s")
    assert len(claude_log._VERSIONS_OK) <= claude_log._CACHE_MAX
    assert len(claude_log._MINUTES) <= claude_log._CACHE_MAX
    assert len(claude_log._HOURS) <= claude_log._CACHE_MAX


GRID = [None, True, False, 0, -1, 7, 2**53, 2**53 + 1, 1.5, -0.0, "", "x", "fast", "standard", "2.0.1", "1.2",
        [], [1], {}, {"ephemeral_5m_input_tokens": 4}, {"ephemeral_1h_input_tokens": None}]


@pytest.mark.parametrize("place", ["top", "msg", "usage", "cc", "flat"])
def test_every_field_with_every_odd_value(place: str) -> None:
    """Each field alone set to each odd value (or removed), in an otherwise ordinary line."""
    keys = {"top": TOP, "msg": MSG, "usage": USAGE, "cc": CC, "flat": USAGE}[place]
    for k in keys:
        for v in [*GRID, KeyError]:
            d = base_line()
            usage = d["message"]["usage"]
            if place == "flat":
                del usage["cache_creation"]
            where = {"top": d, "msg": d["message"], "usage": usage, "cc": usage.get("cache_creation"),
                     "flat": usage}[place]
            if v is KeyError:
                where.pop(k, None)
            else:
                where[k] = v
            agree(dumps(d))
