"""Period, session and per-project reports over merged usage rows, in ccusage 20.0.24's JSON shape. Pure.

Shape facts (checked against `ccusage claude daily|weekly|monthly|session --json --offline`):
- keys are printed sorted; every dict here is built in that order, our `devices`, `providers` and
  `reasoningOutputTokens` (Codex; inside output, as in `ccusage codex`) fields and `provider` on
  each model breakdown included;
- a row's `modelsUsed` lists models in order of first appearance, `<synthetic>` and "" left out;
  their tokens and cost still count in the row's totals but they get no `modelBreakdowns` entry;
- `modelBreakdowns` is sorted by cost, descending, stably (ties keep first-appearance order);
- weekly and monthly rows are built from the daily rows, taken in output order (`order`), so
  `modelsUsed` follows that order and breakdown ties follow the daily breakdown lists;
- `totals` sums the output rows in output order and starts from -0.0 (an empty report prints
  `"totalCost": -0.0`, as Rust's f64 `sum()` of nothing does);
- sessions are keyed by (project, session id), always sorted by cost descending (ccusage ignores
  `--order` here), ties in (project, session) order;
- `--since/--until` filter entries by local date before grouping.

ccusage adds entries in file-path order, then line order; merged rows carry no paths, so we add
them in time order. Where a day mixes several files out of time order, `modelsUsed` order and the
last bits of a float cost sum can differ from ccusage's; tokens never do.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, tzinfo
from typing import Any

from meshd.core.row import UsageRow
from meshd.core.periods import DayKeys, date_str, iso_ms, week_key

NOT_A_MODEL = frozenset(("", "<synthetic>"))

# accumulator slots: input, output, cache create, cache read, cost, entries
_I, _O, _CC, _CR, _COST, _N = range(6)


def _acc() -> list[Any]:
    return [0, 0, 0, 0, 0.0, 0]


class _Group:
    """One report row being summed: totals, per-model and per-device accumulators."""

    __slots__ = ("acc", "models", "devices", "providers", "model_provider", "reasoning", "first", "last", "project",
                 "session")

    def __init__(self) -> None:
        self.acc = _acc()
        self.models: dict[str, list[Any]] = {}
        self.devices: dict[str, list[Any]] = {}
        self.providers: dict[str, list[Any]] = {}
        self.model_provider: dict[str, str] = {}
        self.reasoning = 0  # Codex reasoning tokens (already inside output)
        self.first = -1
        self.last = -1
        self.project = ""
        self.session = ""

    def add_row(self, r: UsageRow) -> None:
        """Add one row (hot path)."""
        i, o, cc, cr, cost, n = (r.input_tokens, r.output_tokens, r.cache_creation_tokens,
                                 r.cache_read_tokens, r.cost, r.count)
        a = self.acc
        a[0] += i
        a[1] += o
        a[2] += cc
        a[3] += cr
        a[4] += cost
        a[5] += n
        self.reasoning += r.reasoning_tokens
        model = r.model
        if model not in NOT_A_MODEL:
            m = self.models.get(model)
            if m is None:
                self.models[model] = [i, o, cc, cr, cost, n]
                self.model_provider[model] = r.provider
            else:
                m[0] += i
                m[1] += o
                m[2] += cc
                m[3] += cr
                m[4] += cost
                m[5] += n
        d = self.devices.get(r.device)
        if d is None:
            self.devices[r.device] = [i, o, cc, cr, cost, n]
        else:
            d[0] += i
            d[1] += o
            d[2] += cc
            d[3] += cr
            d[4] += cost
            d[5] += n
        p = self.providers.get(r.provider)
        if p is None:
            self.providers[r.provider] = [i, o, cc, cr, cost, n]
        else:
            p[0] += i
            p[1] += o
            p[2] += cc
            p[3] += cr
            p[4] += cost
            p[5] += n
        if self.first < 0 or r.ts < self.first:
            self.first = r.ts
        if r.ts_last > self.last:
            self.last = r.ts_last

    def merge(self, other: _Group, breakdown_order: list[str]) -> None:
        """Add a finished daily group, models in `breakdown_order` (its sorted breakdown list)."""
        a, b = self.acc, other.acc
        for k in range(6):
            a[k] += b[k]
        self.reasoning += other.reasoning
        for name in breakdown_order:
            src = other.models[name]
            m = self.models.get(name)
            if m is None:
                self.models[name] = list(src)
            else:
                for k in range(6):
                    m[k] += src[k]
        for name, src in other.devices.items():
            d = self.devices.get(name)
            if d is None:
                self.devices[name] = list(src)
            else:
                for k in range(6):
                    d[k] += src[k]
        for name, src in other.providers.items():
            d = self.providers.get(name)
            if d is None:
                self.providers[name] = list(src)
            else:
                for k in range(6):
                    d[k] += src[k]
        for name, prov in other.model_provider.items():
            self.model_provider.setdefault(name, prov)


def _breakdown_names(g: _Group) -> list[str]:
    """Model names sorted by cost descending, stable (Rust `sort_by(b.cost.total_cmp(a.cost))`)."""
    return sorted(g.models, key=lambda name: -g.models[name][_COST])


def _render(g: _Group, models_used: list[str], key_name: str, key: str, extra: dict[str, Any] | None = None,
            breakdown: list[str] | None = None) -> dict[str, Any]:
    """A report row in ccusage's key order, plus `devices` (and `extra` keys, merged in sorted order)."""
    a = g.acc
    names = breakdown if breakdown is not None else _breakdown_names(g)
    out: dict[str, Any] = {
        "cacheCreationTokens": a[_CC],
        "cacheReadTokens": a[_CR],
        key_name: key,
        "devices": _devices(g.devices),
        "inputTokens": a[_I],
        "modelBreakdowns": [
            {"cacheCreationTokens": m[_CC], "cacheReadTokens": m[_CR], "cost": m[_COST],
             "inputTokens": m[_I], "modelName": name, "outputTokens": m[_O],
             "provider": g.model_provider.get(name, "")}
            for name in names for m in (g.models[name],)
        ],
        "modelsUsed": models_used,
        "outputTokens": a[_O],
        "providers": _providers(g.providers),
        "reasoningOutputTokens": g.reasoning,
        "totalCost": a[_COST],
        "totalTokens": a[_I] + a[_O] + a[_CC] + a[_CR],
    }
    if extra:
        out.update(extra)
    return dict(sorted(out.items()))


def _devices(devices: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Per-device sums, most expensive first (ties by name)."""
    rows = [
        {"device": name, "inputTokens": d[_I], "outputTokens": d[_O], "cacheCreationTokens": d[_CC],
         "cacheReadTokens": d[_CR], "totalTokens": d[_I] + d[_O] + d[_CC] + d[_CR], "totalCost": d[_COST]}
        for name, d in devices.items()
    ]
    rows.sort(key=lambda d: (-d["totalCost"], d["device"]))
    return rows


def _providers(providers: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Per-provider sums ("claude", "codex"), by name; what ccusage's `agents` shows with --by-agent."""
    return [
        {"cacheCreationTokens": d[_CC], "cacheReadTokens": d[_CR], "inputTokens": d[_I], "outputTokens": d[_O],
         "provider": name, "totalCost": d[_COST], "totalTokens": d[_I] + d[_O] + d[_CC] + d[_CR]}
        for name, d in sorted(providers.items())
    ]


def _totals(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """ccusage's `totals`: the output rows summed in output order, cost from -0.0."""
    i = o = cc = cr = reasoning = 0
    cost = -0.0
    for r in rows:
        reasoning += r["reasoningOutputTokens"]
        i += r["inputTokens"]
        o += r["outputTokens"]
        cc += r["cacheCreationTokens"]
        cr += r["cacheReadTokens"]
        cost += r["totalCost"]
    return {"cacheCreationTokens": cc, "cacheReadTokens": cr, "inputTokens": i, "outputTokens": o,
            "reasoningOutputTokens": reasoning, "totalCost": cost, "totalTokens": i + o + cc + cr}


def _filtered(rows: Iterable[UsageRow], device: str | None, provider: str | None,
              project: str | None) -> Iterable[UsageRow]:
    if device is None and provider is None and project is None:
        return rows
    return (r for r in rows if (device is None or r.device == device) and (provider is None or r.provider == provider)
            and (project is None or r.project == project))


def _daily_groups(rows: Iterable[UsageRow], tz: tzinfo, since: date | None, until: date | None,
                  by_project: bool = False) -> dict[Any, _Group]:
    """Rows grouped by local date (or by (date, project)), date range applied first."""
    days = DayKeys(tz)
    day_of = days.day
    lo, hi = date_str(since), date_str(until)
    groups: dict[Any, _Group] = {}
    get = groups.get
    for r in rows:
        d = day_of(r.ts)
        if (lo is not None and d < lo) or (hi is not None and d > hi):
            continue
        k = (d, r.project) if by_project else d
        g = get(k)
        if g is None:
            g = groups[k] = _Group()
            g.project = r.project
        g.add_row(r)
    return groups


def _daily_rows(groups: dict[Any, _Group], order: str, extra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    keys = sorted(groups, reverse=order == "desc")
    return [_render(groups[k], list(groups[k].models), "date", k, extra) for k in keys]


def daily(rows: Iterable[UsageRow], *, tz: tzinfo, since: date | None = None, until: date | None = None,
          order: str = "asc", device: str | None = None, provider: str | None = None,
          project: str | None = None) -> dict[str, Any]:
    """`ccusage claude daily --json`: usage per local date; with `project`, rows carry `project` as ccusage's do."""
    groups = _daily_groups(_filtered(rows, device, provider, project), tz, since, until)
    out = _daily_rows(groups, order, {"project": project} if project is not None else None)
    return {"daily": out, "totals": _totals(out)}


def _rollup(rows: Iterable[UsageRow], tz: tzinfo, since: date | None, until: date | None, order: str,
            label: Any, list_name: str, key_name: str) -> dict[str, Any]:
    """Weekly/monthly: daily groups in output order, merged per period label."""
    daily_groups = _daily_groups(rows, tz, since, until)
    periods: dict[str, tuple[_Group, list[str]]] = {}
    for day in sorted(daily_groups, reverse=order == "desc"):
        dg = daily_groups[day]
        k = label(day)
        p = periods.get(k)
        if p is None:
            p = periods[k] = (_Group(), [])
        used = p[1]
        for m in dg.models:  # union of the daily modelsUsed lists, in row order
            if m not in p[0].models:
                used.append(m)
        p[0].merge(dg, _breakdown_names(dg))
    out = [_render(g, used, key_name, k) for k, (g, used) in periods.items()]
    out.sort(key=lambda r: r[key_name], reverse=order == "desc")
    return dict(sorted({list_name: out, "totals": _totals(out)}.items()))


def weekly(rows: Iterable[UsageRow], *, tz: tzinfo, since: date | None = None, until: date | None = None,
           order: str = "asc", start_of_week: str = "sunday", device: str | None = None,
           provider: str | None = None, project: str | None = None) -> dict[str, Any]:
    """`ccusage claude weekly --json`: usage per week, keyed by the week's first day (`start_of_week`)."""
    week_key("2000-01-01", start_of_week)  # validate once
    return _rollup(_filtered(rows, device, provider, project), tz, since, until, order,
                   lambda d: week_key(d, start_of_week), "weekly", "week")


def monthly(rows: Iterable[UsageRow], *, tz: tzinfo, since: date | None = None, until: date | None = None,
            order: str = "asc", device: str | None = None, provider: str | None = None,
            project: str | None = None) -> dict[str, Any]:
    """`ccusage claude monthly --json`: usage per local month ("YYYY-MM")."""
    return _rollup(_filtered(rows, device, provider, project), tz, since, until, order,
                   lambda d: d[:7], "monthly", "month")


def session(rows: Iterable[UsageRow], *, tz: tzinfo, since: date | None = None, until: date | None = None,
            order: str = "desc", device: str | None = None, provider: str | None = None,
            project: str | None = None) -> dict[str, Any]:
    """`ccusage claude session --json`: usage per (project, session), most expensive first.

    ccusage 20.0.24 ignores `--order` for sessions; so does this (the parameter is accepted for symmetry).
    """
    del order
    days = DayKeys(tz)
    day_of = days.day
    lo, hi = date_str(since), date_str(until)
    groups: dict[tuple[str, str], _Group] = {}
    ranged = lo is not None or hi is not None
    last_p = last_s = None
    g = _Group()
    for r in _filtered(rows, device, provider, project):
        if ranged:
            d = day_of(r.ts)
            if (lo is not None and d < lo) or (hi is not None and d > hi):
                continue
        p, s = r.project, r.session_id
        if p != last_p or s != last_s:  # consecutive rows mostly share a session
            last_p, last_s = p, s
            k = (p, s)
            g = groups.get(k)  # type: ignore[assignment]
            if g is None:
                g = groups[k] = _Group()
                g.project, g.session = k
        g.add_row(r)
    ordered = sorted(groups.values(), key=lambda g: (g.project, g.session))
    ordered.sort(key=lambda g: -g.acc[_COST])
    out = [
        _render(g, list(g.models), "sessionId", g.session,
                {"firstActivity": iso_ms(g.first), "lastActivity": iso_ms(g.last), "projectPath": g.project})
        for g in ordered
    ]
    return {"sessions": out, "totals": _totals(out)}


def projects(rows: Iterable[UsageRow], *, tz: tzinfo, since: date | None = None, until: date | None = None,
             order: str = "asc", device: str | None = None, provider: str | None = None,
             project: str | None = None) -> dict[str, Any]:
    """`ccusage claude daily --instances --json`: {projects: {name: [daily rows + project]}, totals}.

    Rows are ordered by (date, project) (reversed for desc) and totals summed in that order; an
    empty result has the plain `daily` shape, as ccusage prints it.
    """
    groups = _daily_groups(_filtered(rows, device, provider, project), tz, since, until, by_project=True)
    if not groups:
        return {"daily": [], "totals": _totals(())}
    keys = sorted(groups, reverse=order == "desc")
    flat = [_render(groups[k], list(groups[k].models), "date", k[0], {"project": k[1]}) for k in keys]
    by_project: dict[str, list[dict[str, Any]]] = {}
    for row in flat:
        by_project.setdefault(row["project"], []).append(row)
    return {"projects": dict(sorted(by_project.items())), "totals": _totals(flat)}


def project_totals(rows: Iterable[UsageRow], *, tz: tzinfo, since: date | None = None, until: date | None = None,
                   order: str = "desc", device: str | None = None, provider: str | None = None,
                   project: str | None = None) -> dict[str, Any]:
    """`meshctl projects --json`: one row per project, {projects: [rows], totals}.

    ccusage has no per-project totals report; the rows take `session`'s rules (the exact-key dedup,
    entries filtered by local date first) and its field names, so a project's row is the sum of its
    `session` rows: `project`, `sessions` (distinct session ids), `firstActivity`, `lastActivity`
    plus the usual token, cost, model and device fields. Most expensive first ("desc", ties by
    name); "asc" is the reverse. Rows need `project` and `session_id` (by_session rows).
    """
    if order not in ("asc", "desc"):
        from meshd.errors import ConfigError

        raise ConfigError(f"order must be asc or desc, not {str(order)[:20]!r}")
    days = DayKeys(tz)
    day_of = days.day
    lo, hi = date_str(since), date_str(until)
    ranged = lo is not None or hi is not None
    groups: dict[str, _Group] = {}
    sessions: dict[str, set[str]] = {}
    for r in _filtered(rows, device, provider, project):
        if ranged:
            d = day_of(r.ts)
            if (lo is not None and d < lo) or (hi is not None and d > hi):
                continue
        g = groups.get(r.project)
        if g is None:
            g = groups[r.project] = _Group()
            g.project = r.project
            sessions[r.project] = set()
        sessions[r.project].add(r.session_id)
        g.add_row(r)
    ordered = sorted(groups.values(), key=lambda g: g.project)
    ordered.sort(key=lambda g: -g.acc[_COST])
    if order == "asc":
        ordered.reverse()
    out = [
        _render(g, list(g.models), "project", g.project,
                {"firstActivity": iso_ms(g.first), "lastActivity": iso_ms(g.last),
                 "sessions": len(sessions[g.project])})
        for g in ordered
    ]
    return {"projects": out, "totals": _totals(out)}
