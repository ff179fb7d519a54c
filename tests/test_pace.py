"""Plan value, budgets, pace and trend at their edges (pure)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from meshd.core import pace

D = date(2026, 2, 11)  # a Wednesday in a 28-day month


def test_period_bounds():
    assert pace.month_start(D) == date(2026, 2, 1) and pace.month_days(D) == 28
    assert pace.month_days(date(2028, 2, 3)) == 29
    assert pace.week_start(D) == date(2026, 2, 8)  # sunday
    assert pace.week_start(D, "monday") == date(2026, 2, 9)
    assert pace.week_start(date(2026, 2, 8)) == date(2026, 2, 8)
    with pytest.raises(ValueError):
        pace.week_start(D, "caturday")


def test_period_pace_projects_at_the_daily_average():
    p = pace.period_pace(100.0, date(2026, 2, 1), 28, D, 0.5)  # 10.5 days elapsed
    assert p["elapsedDays"] == 10.5
    assert p["dailyAverage"] == pytest.approx(100 / 10.5)
    assert p["projectedCost"] == pytest.approx(100 / 10.5 * 28)
    assert p["end"] == "2026-02-28"


def test_period_pace_edges():
    first = pace.period_pace(5.0, D, 7, D, 0.01)  # a young period: at least one day
    assert first["dailyAverage"] == 5.0 and first["projectedCost"] == pytest.approx(5.0 + 5.0 * 6.99)
    last = pace.period_pace(70.0, D - timedelta(days=6), 7, D, 1.0)  # over: nothing left to project
    assert last["projectedCost"] == 70.0 and last["dailyAverage"] == 10.0
    zero = pace.period_pace(0.0, D, 30, D, 2.5)  # fraction clamped
    assert zero["elapsedDays"] == 1.0 and zero["projectedCost"] == 0.0


def days(values: list[float], end: date = D) -> dict[date, float]:
    """values[0] is yesterday, values[1] the day before, ..."""
    return {end - timedelta(days=i + 1): v for i, v in enumerate(values)}


def test_trend():
    assert pace.trend({}, D) == "flat"
    assert pace.trend(days([1.0] * 7), D) == "rising"  # nothing before
    assert pace.trend(days([0.0] * 7 + [1.0] * 7), D) == "falling"
    assert pace.trend(days([1.0] * 14), D) == "flat"
    assert pace.trend(days([1.14] * 7 + [1.0] * 7), D) == "flat"  # within ±15 %
    assert pace.trend(days([0.86] * 7 + [1.0] * 7), D) == "flat"
    assert pace.trend(days([1.16] * 7 + [1.0] * 7), D) == "rising"
    assert pace.trend(days([0.84] * 7 + [1.0] * 7), D) == "falling"
    assert pace.trend({D: 1000.0, **days([1.0] * 14)}, D) == "flat"  # today (partial) is left out


def test_budget_thresholds():
    assert pace.status_of(89.99, 100) == "ok"
    assert pace.status_of(90.0, 100) == "warning"
    assert pace.status_of(99.99, 100) == "warning"
    assert pace.status_of(100.0, 100) == "exceeded"
    b = pace.budget_status("p", 45.0, 50.0, 120.0)
    assert b["percentUsed"] == 90.0 and b["status"] == "warning" and b["projectedStatus"] == "exceeded"


def test_plan_value():
    v = pace.plan_value("max5x", 250.0)
    assert v == {"plan": "max5x", "monthlyPrice": 100.0, "apiEquivalentCost": 250.0, "ratio": 2.5, "savings": 150.0}
    assert pace.plan_value("api", 10.0)["ratio"] is None
    assert pace.plan_value(None, 10.0)["monthlyPrice"] is None
    assert pace.plan_value("bogus", 10.0)["monthlyPrice"] is None


def test_summary_combines_everything():
    daily = {date(2026, 2, d): 10.0 for d in range(1, 12)}  # 10 a day through today (the 11th)
    daily[date(2026, 1, 31)] = 99.0  # last month: neither in month nor in this week
    s = pace.summary(daily, {"proj": 50.0, "other": 5.0}, {"proj": 60.0, "gone": 10.0}, "pro", D, 0.5)
    assert s["plan"]["apiEquivalentCost"] == 110.0 and s["plan"]["ratio"] == 5.5
    assert s["pace"]["month"]["totalCost"] == 110.0
    assert s["pace"]["week"]["totalCost"] == 40.0  # Sun 8th .. Wed 11th
    assert s["pace"]["dailyAverage"] == pytest.approx(110 / 10.5)
    assert s["pace"]["trend"] == "falling"  # Feb 4-10: 70; Jan 28 - Feb 3: 30 + Jan 31's 99
    proj, gone = s["budgets"][1], s["budgets"][0]
    assert proj["project"] == "proj" and proj["status"] == "ok" and proj["percentUsed"] == pytest.approx(83.333, 1e-3)
    assert proj["projectedStatus"] == "exceeded"  # 50 so far at this pace is ~133 by month end
    assert gone == {"project": "gone", "budget": 10.0, "totalCost": 0.0, "percentUsed": 0.0, "status": "ok",
                    "projectedCost": 0.0, "projectedStatus": "ok"}
