"""JSON text exactly as orjson writes it (sorted keys; 2-space indent or compact), without importing
orjson: orjson's import pulls in dataclasses, inspect, uuid and platform, which costs meshctl's
report path more start-up time than writing a report. Pure.

orjson's rules, kept here: keys sorted (by code point, which is UTF-8 byte order); strings raw
UTF-8 with `"`, `\\`, `\\b \\f \\n \\r \\t` and other control characters (`\\u00XX`) escaped; floats
the shortest round-trip digits, as Python's repr, except that exponents from -1 to -5 are written
out (`0.00001`) and a negative exponent has no leading zero (`1.5e-7`); NaN and infinities
are `null`; `-0.0` stays. tests/test_jsontext.py compares with orjson itself.
"""

from __future__ import annotations

import re
from typing import Any

_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\]')
_SHORT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(m: re.Match[str]) -> str:
    c = m.group()
    return _SHORT.get(c) or f"\\u{ord(c):04x}"


def string(s: str) -> str:
    """A JSON string literal."""
    if _NEEDS_ESCAPE.search(s) is None:
        return '"' + s + '"'
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, s) + '"'


def number(x: float) -> str:
    """A float as orjson writes it."""
    if x != x or x in (float("inf"), float("-inf")):
        return "null"
    r = repr(x)
    at = r.find("e-")
    if at < 0:
        return r
    mant, exp = r[:at], int(r[at + 2:])
    if exp > 5:
        return f"{mant}e-{exp}"
    sign = "-" if mant[0] == "-" else ""
    digits = mant.lstrip("-").replace(".", "").rstrip("0") or "0"
    return f"{sign}0.{'0' * (exp - 1)}{digits}"


def dumps(obj: Any, *, indent: bool = True) -> str:
    """`orjson.dumps(obj, option=OPT_SORT_KEYS | (OPT_INDENT_2 if indent else 0)).decode()`.

    For dicts, lists, tuples, str, int, float, bool and None (TypeError for anything else)."""
    out: list[str] = []
    if indent:
        _pretty(obj, out, "\n")
    else:
        _compact(obj, out)
    return "".join(out)


def _scalar(obj: Any) -> str | None:
    t = type(obj)
    if t is str:
        return string(obj)
    if t is int:
        return str(obj)
    if t is float:
        return number(obj)
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, str):
        return string(str(obj))
    if isinstance(obj, int) and not isinstance(obj, bool):
        return int.__repr__(obj)
    if isinstance(obj, float):
        return number(float(obj))
    return None


def _pretty(obj: Any, out: list[str], nl: str) -> None:
    s = _scalar(obj)
    if s is not None:
        out.append(s)
        return
    if isinstance(obj, dict):
        if not obj:
            out.append("{}")
            return
        inner = nl + "  "
        sep = "{" + inner
        for k in sorted(obj, key=_key):
            out.append(sep)
            out.append(string(_key(k)))
            out.append(": ")
            _pretty(obj[k], out, inner)
            sep = "," + inner
        out.append(nl + "}")
        return
    if isinstance(obj, (list, tuple)):
        if not obj:
            out.append("[]")
            return
        inner = nl + "  "
        sep = "[" + inner
        for v in obj:
            out.append(sep)
            _pretty(v, out, inner)
            sep = "," + inner
        out.append(nl + "]")
        return
    raise TypeError(f"Type is not JSON serializable: {type(obj).__name__}")


def _compact(obj: Any, out: list[str]) -> None:
    s = _scalar(obj)
    if s is not None:
        out.append(s)
        return
    if isinstance(obj, dict):
        sep = "{"
        for k in sorted(obj, key=_key):
            out.append(sep)
            out.append(string(_key(k)))
            out.append(":")
            _compact(obj[k], out)
            sep = ","
        out.append("}" if obj else "{}")
        return
    if isinstance(obj, (list, tuple)):
        sep = "["
        for v in obj:
            out.append(sep)
            _compact(v, out)
            sep = ","
        out.append("]" if obj else "[]")
        return
    raise TypeError(f"Type is not JSON serializable: {type(obj).__name__}")


def _key(k: Any) -> str:
    if type(k) is str or isinstance(k, str):
        return str(k)
    raise TypeError("Dict key must be str")
