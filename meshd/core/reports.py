"""Period and session reports over merged usage rows, in ccusage's JSON shape (+ `devices`). Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, tzinfo
from typing import Any

from meshd.core.entry import UsageRow
from meshd.core.periods import DayKeys, iso_ms, week_start

NOT_A_MODEL = ("", "<synthetic>")


class _Acc:
    """Token and cost sums."""

    __slots__ = ("input", "output", "cc", "cr", "cost", "n")

    def __init__(self) -> None:
        self.input = self.output = self.cc = self.cr = self.n = 0
        self.cost = 0.0

    def add(self, r: UsageRow) -> None:
        self.input += r.input_tokens
        self.output += r.output_tokens
        self.cc += r.cache_creation_tokens
        self.cr += r.cache_read_tokens
        self.cost += r.cost
        self.n += r.count

    @property
    def total(self) -> int:
        return self.input + self.output + self.cc + self.cr

    def fields(self) -> dict[str, Any]:
        return {"inputTokens": self.input, "outputTokens": self.output, "cacheCreationTokens": self.cc,
                "cacheReadTokens": self.cr, "totalTokens": self.total, "totalCost": self.cost}


class _Group(_Acc):
    """A report row: sums plus per-model and per-device sums."""

    __slots__ = ("models", "devices", "first", "last", "project")

    def __init__(self) -> None:
        super().__init__()
        self.models: dict[str, _Acc] = {}
        self.devices: dict[str, _Acc] = {}
        self.first = -1
        self.last = -1
        self.project = ""

    def add_row(self, r: UsageRow) -> None:
        self.add(r)
        if r.model not in NOT_A_MODEL:
            m = self.models.get(r.model)
            if m is None:
                m = self.models[r.model] = _Acc()
            m.add(r)
        d = self.devices.get(r.device)
        if d is None:
            d = self.devices[r.device] = _Acc()
        d.add(r)
        if self.first < 0 or r.ts < self.first:
            self.first = r.ts
        if r.ts_last > self.last:
            self.last = r.ts_last

    def render(self) -> dict[str, Any]:
        out = self.fields()
        out["modelsUsed"] = list(self.models)
        out["modelBreakdowns"] = sorted(
            ({"modelName": name, "inputTokens": a.input, "outputTokens": a.output,
              "cacheCreationTokens": a.cc, "cacheReadTokens": a.cr, "cost": a.cost}
             for name, a in self.models.items()),
            key=lambda b: -b["cost"],
        )
        out["devices"] = sorted(
            ({"device": name, **a.fields()} for name, a in self.devices.items()),
            key=lambda d: (-d["totalCost"], d["device"]),
        )
        return out


def _in_range(day: str, since: date | None, until: date | None) -> bool:
    return (since is None or day >= since.isoformat()) and (until is None or day <= until.isoformat())


def _grouped(rows: Iterable[UsageRow], key: Callable[[UsageRow], str | None]) -> dict[str, _Group]:
    groups: dict[str, _Group] = {}
    for r in rows:
        k = key(r)
        if k is None:
            continue
        g = groups.get(k)
        if g is None:
            g = groups[k] = _Group()
        g.add_row(r)
    return groups


def _totals(groups: Iterable[_Group]) -> dict[str, Any]:
    t = _Acc()
    for g in groups:
        t.input += g.input
        t.output += g.output
        t.cc += g.cc
        t.cr += g.cr
        t.cost += g.cost
    return t.fields()


def _period(rows: Iterable[UsageRow], tz: tzinfo, since: date | None, until: date | None, order: str,
            list_name: str, key_name: str, label: Callable[[str], str]) -> dict[str, Any]:
    days = DayKeys(tz)

    def key(r: UsageRow) -> str | None:
        d = days.day(r.ts)
        return label(d) if _in_range(d, since, until) else None

    groups = _grouped(rows, key)
    items = sorted(groups.items(), reverse=order == "desc")
    out = [{key_name: k, **g.render()} for k, g in items]
    return {list_name: out, "totals": _totals(groups.values())}


def daily(rows: Iterable[UsageRow], *, tz: tzinfo, since: date | None = None, until: date | None = None,
          order: str = "asc") -> dict[str, Any]:
    """Usage per local day, like `ccusage claude daily --json`."""
    return _period(rows, tz, since, until, order, "daily", "date", lambda d: d)


def weekly(rows: Iterable[UsageRow], *, tz: tzinfo, since: date | None = None, until: date | None = None,
           order: str = "asc", start_of_week: str = "sunday") -> dict[str, Any]:
    """Usage per week (keyed by the week's first day), like `ccusage claude weekly --json`."""
    return _period(rows, tz, since, until, order, "weekly", "week", lambda d: week_start(d, start_of_week))


def monthly(rows: Iterable[UsageRow], *, tz: tzinfo, since: date | None = None, until: date | None = None,
            order: str = "asc") -> dict[str, Any]:
    """Usage per month (YYYY-MM), like `ccusage claude monthly --json`."""
    return _period(rows, tz, since, until, order, "monthly", "month", lambda d: d[:7])


def session(rows: Iterable[UsageRow], *, tz: tzinfo, since: date | None = None, until: date | None = None,
            order: str = "desc") -> dict[str, Any]:
    """Usage per session (most expensive first), like `ccusage claude session --json`."""
    days = DayKeys(tz)
    groups: dict[str, _Group] = {}
    for r in rows:
        if not _in_range(days.day(r.ts), since, until):
            continue
        k = f"{r.project}\x00{r.session_id}"
        g = groups.get(k)
        if g is None:
            g = groups[k] = _Group()
            g.project = r.project
        g.add_row(r)
    out = []
    for k, g in groups.items():
        d = g.render()
        d["sessionId"] = k.split("\x00", 1)[1]
        d["projectPath"] = g.project
        d["firstActivity"] = iso_ms(g.first)
        d["lastActivity"] = iso_ms(g.last)
        out.append(d)
    out.sort(key=lambda s: s["totalCost"], reverse=order != "asc")
    return {"sessions": out, "totals": _totals(groups.values())}
