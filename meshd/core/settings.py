"""Replicated settings (plan, budgets) as `setting` log records, last writer wins. Pure.

A `setting` record body is JSON `{"key": K, "value": V, "hlc": H}`; V null removes the setting.
Keys: `plan` (one of PLANS) and `budget:<project>` (monthly USD budget of a project, the project
folder name as reports show it). H is a hybrid logical clock timestamp (core/hlc.py). Of all
writes to a key, the one with the highest (hlc, origin device id) wins, so every replica agrees
whatever order the records arrived in. Bodies come from peers: `parse_body` bounds every field and
raises LogRuleError otherwise; keys of a newer meshd are accepted if they are well-formed scalars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import orjson

from meshd.core import hlc as hlc_mod
from meshd.core.oplog import load_object
from meshd.errors import LogRuleError

# Plan -> monthly price in USD (DESIGN §3); `api` pays per token, so it has no fixed price.
PLANS: dict[str, float | None] = {"pro": 20.0, "max5x": 100.0, "max20x": 200.0, "api": None}
PLAN_KEY = "plan"
BUDGET_PREFIX = "budget:"
MAX_BODY = 2048
MAX_BUDGET = 1e9
MAX_PROJECT = 255
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-.")

Value = str | float | int | bool | None


@dataclass(frozen=True, slots=True)
class Setting:
    key: str
    value: Value
    hlc: int


def wins(a: tuple[int, str], b: tuple[int, str]) -> bool:
    """True when a write stamped (hlc, origin) `a` beats `b`: higher hlc, then higher origin id."""
    return a > b


def budget_key(project: str) -> str:
    """The setting key of a project's budget; ValueError for an unusable project name."""
    check_project(project)
    return BUDGET_PREFIX + project


def check_project(project: object) -> str:
    if (
        not isinstance(project, str)
        or not 0 < len(project) <= MAX_PROJECT
        or project != project.strip()
        or any(ord(c) < 32 or ord(c) == 127 for c in project)
    ):
        raise ValueError("a project name is 1-255 printable characters without surrounding spaces")
    return project


def check_value(key: str, value: object) -> Value:
    """The value if `key` may hold it; ValueError with the reason otherwise. None always removes."""
    if value is None:
        return None
    if key == PLAN_KEY:
        if value not in PLANS:
            raise ValueError(f"plan must be one of {', '.join(PLANS)}")
        return str(value)
    if key.startswith(BUDGET_PREFIX):
        check_project(key[len(BUDGET_PREFIX):])
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError("a budget is a number of US dollars")
        if not 0 < value <= MAX_BUDGET:
            raise ValueError("a budget must be more than 0 and at most 1e9 US dollars")
        return float(value)
    # A key of a newer meshd: any small scalar.
    if isinstance(value, str):
        if len(value) > 1000:
            raise ValueError("setting value too long")
        return value
    if isinstance(value, bool) or (isinstance(value, int) and abs(value) < 1 << 53):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise ValueError("setting value must be a small scalar")


def check_key(key: object) -> str:
    if not isinstance(key, str) or not 0 < len(key) <= len(BUDGET_PREFIX) + MAX_PROJECT:
        raise ValueError("setting key must be a short string")
    name, sep, rest = key.partition(":")
    if not name or not set(name) <= _KEY_CHARS or (sep and not rest):
        raise ValueError("setting key must be NAME or NAME:ARG with a lowercase NAME")
    if sep:
        check_project(rest)
    return key


def to_body(s: Setting) -> bytes:
    return orjson.dumps({"key": s.key, "value": s.value, "hlc": s.hlc}, option=orjson.OPT_SORT_KEYS)


def make(key: str, value: object, hlc: int) -> Setting:
    """A checked setting; ValueError with a user-facing reason."""
    key = check_key(key)
    return Setting(key, check_value(key, value), hlc)


def parse_body(body: bytes) -> Setting:
    """Validate a `setting` record body from any peer; LogRuleError when it breaks the format."""
    d = load_object(body, "setting", MAX_BODY)
    if "key" not in d or "value" not in d:
        raise LogRuleError("setting record must be an object with key, value and hlc")
    h = d.get("hlc")
    if not hlc_mod.valid(h):
        raise LogRuleError("setting record: 'hlc' out of range")
    try:
        return make(d["key"], d["value"], h)  # type: ignore[arg-type]
    except ValueError as e:
        raise LogRuleError(f"setting record: {e}") from None
