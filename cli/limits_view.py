"""The official 5h/7d readings as `meshctl status` shows them: freshest per window, split by device."""

from __future__ import annotations

from typing import Any


def rate_limits(conn, mode: str, now: int, names: dict[str, str]) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The freshest official reading per window, each split across devices by their Claude cost
    since the window began."""
    from meshd.core.ratelimit import elapsed_percentage, split
    from meshd.store.limits import freshest
    from meshd.store.usage import RowFilter, usage_rows

    fresh = freshest(conn, now)
    starts = [f.starts_ms for f in fresh.values() if f.starts_ms is not None and not f.expired]
    rows = usage_rows(conn, mode, RowFilter(since_ms=min(starts), provider="claude"), merge_models=True) if starts else []
    out: dict[str, dict[str, Any]] = {}
    for name, f in sorted(fresh.items()):
        j = f.to_json(names)
        start = f.starts_ms
        costs: dict[str, float] = {}
        if start is not None and not f.expired:
            for r in rows:
                if r.ts >= start:
                    costs[r.device] = costs.get(r.device, 0.0) + r.cost
        j["devices"] = split(f.used_percentage, costs)
        j["elapsedPercentage"] = None if f.expired else elapsed_percentage(name, f.resets_at_ms, now)
        out[name] = j
    return out


def limit_line(w: dict[str, Any], now: int) -> str:
    from meshd.core.statusline import LABELS, fmt_age

    label = LABELS.get(w["window"], w["window"])
    if w["expired"]:
        return f"Limit    {label}: {w['usedPercentage']:.0f}% seen on {w['device']} {fmt_age(now - w['observedAt'])}, since reset"
    resets = ""
    if w["resetsAt"] is not None:
        import time

        resets = ", resets " + time.strftime("%a %H:%MZ", time.gmtime(w["resetsAt"] / 1000))
    elapsed = w.get("elapsedPercentage")
    if elapsed is not None:
        resets += f", {elapsed:.0f}% of the window passed"
    split = ", ".join(f"{d['device']} {d['percentagePoints']:.1f} pts" for d in w["devices"][:4])
    return (f"Limit    {label} {w['usedPercentage']:.0f}% ({w['device']}, {fmt_age(now - w['observedAt'])}{resets})"
            + (f": {split}" if split else ""))
