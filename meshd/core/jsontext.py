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

    For dicts with str keys, lists, tuples, str, int, float, bool and None (TypeError otherwise)."""
    out: list[str] = []
    if indent:
        _pretty(obj, out.append, "\n")
    else:
        _compact(obj, out.append)
    return "".join(out)


_KEYS: dict[str, str] = {}  # key -> '"key": ' (reports repeat a few dozen keys thousands of times)


def _key(k: Any) -> str:
    if type(k) is str:  # orjson refuses subclasses as keys too
        s = _KEYS.get(k)
        if s is None:
            s = string(k) + ": "
            if len(_KEYS) < 4096:
                _KEYS[k] = s
        return s
    raise TypeError("Dict key must be str")


def _scalar(obj: Any) -> str | None:
    t = type(obj)
    if t is str:
        return string(obj)
    if t is int:
        return int.__repr__(obj)
    if t is float:
        return number(obj)
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, str):  # subclasses (enums too): their string value, as orjson writes them
        return string(str.__str__(obj))
    if isinstance(obj, int):
        return int.__repr__(obj)
    if isinstance(obj, float):
        return number(float.__float__(obj))
    return None


_CONST = {None: "null", True: "true", False: "false"}  # keys compare by ==: used only after `is` checks


def _pretty(obj: Any, app: Any, nl: str) -> None:
    """Append obj's indented text (at the depth `nl` ends with) through `app`."""
    if isinstance(obj, dict):
        if not obj:
            app("{}")
            return
        inner = nl + "  "
        sep = "{" + inner
        keys = _KEYS
        for k in sorted(obj):  # TypeError for keys that do not sort; _key refuses non-str ones
            v = obj[k]
            t = type(v)
            ks = keys.get(k) if type(k) is str else None
            ks = ks or _key(k)
            if t is str:
                app(sep + ks + string(v))
            elif t is int:
                app(sep + ks + int.__repr__(v))
            elif t is float:
                app(sep + ks + number(v))
            elif v is None or v is True or v is False:
                app(sep + ks + _CONST[v])
            else:
                app(sep + ks)
                _pretty(v, app, inner)
            sep = "," + inner
        app(nl + "}")
        return
    if isinstance(obj, (list, tuple)):
        if not obj:
            app("[]")
            return
        inner = nl + "  "
        sep = "[" + inner
        for v in obj:
            t = type(v)
            if t is str:
                app(sep + string(v))
            else:
                app(sep)
                _pretty(v, app, inner)
            sep = "," + inner
        app(nl + "]")
        return
    s = _scalar(obj)
    if s is None:
        raise TypeError(f"Type is not JSON serializable: {type(obj).__name__}")
    app(s)


def _compact(obj: Any, app: Any) -> None:
    if isinstance(obj, dict):
        sep = "{"
        for k in sorted(obj):
            app(sep + _key(k)[:-1])  # '"key":'
            _compact(obj[k], app)
            sep = ","
        app("}" if obj else "{}")
        return
    if isinstance(obj, (list, tuple)):
        sep = "["
        for v in obj:
            app(sep)
            _compact(v, app)
            sep = ","
        app("]" if obj else "[]")
        return
    s = _scalar(obj)
    if s is None:
        raise TypeError(f"Type is not JSON serializable: {type(obj).__name__}")
    app(s)
