"""Plan value, budgets and pace: pure arithmetic over daily costs. Dates and "now" come in.

- Pace of a period (week, month): cost so far, daily average over the elapsed days (today counts
  with the part of it that has passed, and at least one day is assumed so a young period does
  not explode), and the projection to the period's end at that average.
- Trend: the average of the last 7 full days against the 7 before (today is partial, so left
  out): `rising` above +15 %, `falling` below -15 %, else `flat`.
- Budgets: a project's month-to-date cost against its monthly budget; `warning` from 90 %,
  `exceeded` from 100 %, for the cost so far and for the month-end projection.
- Plan value: the API-equivalent cost of the month against the plan's monthly price.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from meshd.core.settings import PLANS

WARN_AT = 0.9
TREND_DAYS = 7
TREND_BAND = 0.15
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def month_start(today: date) -> date:
    return today.replace(day=1)


def month_days(today: date) -> int:
    return calendar.monthrange(today.year, today.month)[1]


def week_start(today: date, start_of_week: str = "sunday") -> date:
    """First day of the week containing `today` (ValueError for an unknown weekday name)."""
    first = WEEKDAYS.index(start_of_week)
    return today - timedelta(days=(today.weekday() - first) % 7)


def period_pace(spent: float, start: date, length_days: int, today: date, day_fraction: float) -> dict[str, Any]:
    """Cost so far, daily average and projected cost at the end of a period of `length_days` days."""
    frac = min(max(day_fraction, 0.0), 1.0)
    elapsed = min(float(length_days), max(0.0, (today - start).days + frac))
    per_day = spent / max(elapsed, 1.0)
    projected = spent + per_day * max(0.0, length_days - elapsed)
    return {
        "start": start.isoformat(),
        "end": (start + timedelta(days=length_days - 1)).isoformat(),
        "elapsedDays": round(elapsed, 3),
        "totalCost": spent,
        "dailyAverage": per_day,
        "projectedCost": projected,
    }


def trend(daily: Mapping[date, float], today: date, days: int = TREND_DAYS, band: float = TREND_BAND) -> str:
    """rising / flat / falling: the last `days` full days against the `days` before them."""
    recent = sum(daily.get(today - timedelta(days=k), 0.0) for k in range(1, days + 1))
    before = sum(daily.get(today - timedelta(days=k), 0.0) for k in range(days + 1, 2 * days + 1))
    if recent <= 0 and before <= 0:
        return "flat"
    if before <= 0:
        return "rising"
    ratio = recent / before
    if ratio > 1 + band:
        return "rising"
    if ratio < 1 - band:
        return "falling"
    return "flat"


def status_of(cost: float, budget: float) -> str:
    if cost >= budget:
        return "exceeded"
    if cost >= WARN_AT * budget:
        return "warning"
    return "ok"


def budget_status(project: str, spent: float, budget: float, projected: float) -> dict[str, Any]:
    """A project's month against its budget (budget > 0)."""
    return {
        "project": project,
        "budget": budget,
        "totalCost": spent,
        "percentUsed": 100.0 * spent / budget,
        "status": status_of(spent, budget),
        "projectedCost": projected,
        "projectedStatus": status_of(projected, budget),
    }


def plan_value(plan: str | None, api_cost: float) -> dict[str, Any]:
    """The month's API-equivalent cost against the plan's price (None fields when unknown or `api`)."""
    price = PLANS.get(plan) if plan else None
    return {
        "plan": plan,
        "monthlyPrice": price,
        "apiEquivalentCost": api_cost,
        "ratio": api_cost / price if price else None,
        "savings": api_cost - price if price else None,
    }


def summary(
    daily: Mapping[date, float],
    project_month: Mapping[str, float],
    budgets: Mapping[str, float],
    plan: str | None,
    today: date,
    day_fraction: float,
    start_of_week: str = "sunday",
) -> dict[str, Any]:
    """Everything `status` and `monthly` show: plan value, pace of week and month, trend, budgets."""
    m0, w0 = month_start(today), week_start(today, start_of_week)
    month_cost = sum(c for d, c in daily.items() if m0 <= d <= today)
    week_cost = sum(c for d, c in daily.items() if w0 <= d <= today)
    month = period_pace(month_cost, m0, month_days(today), today, day_fraction)
    week = period_pace(week_cost, w0, 7, today, day_fraction)
    scale = month["projectedCost"] / month_cost if month_cost > 0 else 1.0
    out_budgets = [
        budget_status(p, project_month.get(p, 0.0), b, project_month.get(p, 0.0) * scale)
        for p, b in sorted(budgets.items())
    ]
    return {
        "plan": plan_value(plan, month_cost),
        "pace": {"dailyAverage": month["dailyAverage"], "trend": trend(daily, today), "week": week, "month": month},
        "budgets": out_budgets,
    }
