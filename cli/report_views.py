"""Running and printing the report commands, without click.

`show` is a report command's whole body: validate the options, bring the replica up to date
with the local logs (meshd/warm.py), run the report (meshd/query.py, shared with the daemon's
API) and print it as JSON or as a table. The click commands (reports_cmd.py) and meshctl's fast
path (entry.py, report_args.py) both call it, so they print the same bytes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from meshctl.render import echo, emit_json, fmt_cost, fmt_tokens, table, term_width

def report(home: Path | None, command: str, opts: dict[str, Any]) -> dict[str, Any]:
    """Validate the options, ingest new local lines, run the report (MeshError on bad input)."""
    from meshd import query
    from meshd.clock import now_ms
    from meshd.config import load_config
    from meshd.warm import open_for_report

    config = load_config(home)
    extra: dict[str, Any]
    if command in ("daily", "weekly", "monthly"):
        extra = {"project": opts["project"], "start_of_week": opts["start_of_week"]}
    elif command == "session":
        extra = {"session": opts["session_id"]}
    elif command == "projects":
        extra = {"project": opts["project"]}
    else:
        extra = {"active": opts["active"], "recent": opts["recent"], "token_limit": opts["token_limit"],
                 "session_hours": opts["session_length"]}
    q = query.report_query(command, tz_default=config.timezone, mode_default=config.cost_mode, cli=True,
                           since=opts["since"], until=opts["until"], timezone=opts["tz"], order=opts["order"],
                           mode=opts["mode"], devices=opts["devices"], provider=opts["provider"], **extra)
    progress = None
    if sys.stderr is not None and sys.stderr.isatty():
        from meshctl.progress import Progress

        progress = Progress()
    conn = open_for_report(config, progress=progress)
    if progress is not None:
        progress.done()
    try:
        return query.run(conn, q, now_ms())
    finally:
        conn.close()  # explicitly: cli/entry.py ends the process without the interpreter's teardown


def show(home: Path | None, command: str, opts: dict[str, Any]) -> None:
    """A report command: run it and print JSON or a table."""
    data = report(home, command, opts)
    if opts["as_json"]:
        emit_json(data)
        return
    if command in _PERIOD:
        key, label = _PERIOD[command]
        echo(period_table(data[key], data["totals"], label, key_field=_KEY_FIELD[key],
                          breakdown=opts["breakdown"], by_device=opts["by_device"]))
        if "pace" in data:
            echo("\n" + "\n".join(pace_lines({**data, "month": data["plan"]["month"]})))
    elif command == "session":
        session_table(data)
    elif command == "projects":
        projects_table(data, breakdown=opts["breakdown"], by_device=opts["by_device"])
    else:
        echo(blocks_table(data["blocks"], by_device=opts["by_device"] or True))


_PERIOD = {"daily": ("daily", "Date"), "weekly": ("weekly", "Week"), "monthly": ("monthly", "Month")}
_KEY_FIELD = {"daily": "date", "weekly": "week", "monthly": "month"}


def _short_model(m: str) -> str:
    return m.removeprefix("claude-")


def period_table(rows: list[dict[str, Any]], totals: dict[str, Any], label: str, *, key_field: str,
                 breakdown: bool, by_device: bool) -> str:
    if not rows:
        return "No usage found."
    width = term_width()
    wide = width >= 110
    headers = [label] + (["Models"] if wide else []) + ["Input", "Output", "Cache W", "Cache R", "Total", "Cost"]

    def cells(first: str, d: dict[str, Any], models: str = "") -> list[str]:
        out = [first] + ([models] if wide else [])
        out += [fmt_tokens(d.get("inputTokens", 0)), fmt_tokens(d.get("outputTokens", 0)),
                fmt_tokens(d.get("cacheCreationTokens", 0)), fmt_tokens(d.get("cacheReadTokens", 0)),
                fmt_tokens(d.get("totalTokens", _tot(d))), fmt_cost(d.get("totalCost", d.get("cost", 0.0)))]
        return out

    body: list[list[str]] = []
    for r in rows:
        body.append(cells(r[key_field], r, ", ".join(_short_model(m) for m in r.get("modelsUsed", []))))
        if breakdown:
            for mb in r.get("modelBreakdowns", []):
                body.append(cells("  " + _short_model(mb["modelName"])[:20], mb))
        if by_device:
            for dv in r.get("devices", []):
                body.append(cells("  @" + str(dv["device"])[:20], dv))
    body.append(["\x00"])
    body.append(cells("Total", totals))
    right = set(range(2 if wide else 1, len(headers)))
    return table(headers, body, right=right, width=width)


def _tot(d: dict[str, Any]) -> int:
    return int(d.get("inputTokens", 0) + d.get("outputTokens", 0) + d.get("cacheCreationTokens", 0)
               + d.get("cacheReadTokens", 0))


def _cells(d: dict[str, Any]) -> list[str]:
    """Input, output, total tokens and cost cells of a row, a breakdown or the totals."""
    return [fmt_tokens(d["inputTokens"]), fmt_tokens(d["outputTokens"]),
            fmt_tokens(d["totalTokens"]) if "totalTokens" in d else "",
            fmt_cost(d.get("totalCost", d.get("cost", 0.0)))]


def session_table(data: dict[str, Any]) -> None:
    sessions = data["sessions"]
    if not sessions:
        echo("No usage found.")
        return
    headers = ["Session", "Project", "Last", "Input", "Output", "Total", "Cost"]
    body = [[s["sessionId"][:12], s.get("projectPath", "")[-24:], str(s.get("lastActivity", ""))[:10],
             *_cells(s)] for s in sessions]
    body += [["\x00"], ["Total", "", "", *_cells(data["totals"])]]
    echo(table(headers, body, right={3, 4, 5, 6}))


def projects_table(data: dict[str, Any], *, breakdown: bool, by_device: bool) -> None:
    rows = data["projects"]
    if not rows:
        echo("No usage found.")
        return
    headers = ["Project", "Sessions", "Last", "Input", "Output", "Total", "Cost"]
    body: list[list[str]] = []
    for r in rows:
        body.append([_short_project(r["project"]), str(r["sessions"]), str(r["lastActivity"])[:10], *_cells(r)])
        if breakdown:
            body += [["  " + _short_model(mb["modelName"])[:24], "", "", *_cells(mb)] for mb in r["modelBreakdowns"]]
        if by_device:
            body += [["  @" + str(dv["device"])[:24], "", "", *_cells(dv)] for dv in r["devices"]]
    body += [["\x00"], ["Total", str(sum(r["sessions"] for r in rows)), "", *_cells(data["totals"])]]
    echo(table(headers, body, right={1, 3, 4, 5, 6}))


def _short_project(p: str) -> str:
    """The tail of an encoded project folder, so the table fits ("-home-u-src-app" -> "…src-app")."""
    return p if len(p) <= 28 else "…" + p[-27:]


def blocks_table(blocks: list[dict[str, Any]], *, by_device: bool) -> str:
    if not blocks:
        return "No blocks found."
    headers = ["Block start (UTC)", "Status", "Entries", "Tokens", "Cost", "Devices"]
    body: list[list[str]] = []
    for b in blocks:
        start = b["startTime"][:16].replace("T", " ")
        if b.get("isGap"):
            body.append([start, "gap", "", "", "", ""])
            continue
        status = "ACTIVE" if b.get("isActive") else ""
        if b.get("overlap"):
            status = (status + " overlap").strip()
        devs = b.get("devices", [])
        body.append([start, status, str(b.get("entries", 0)), fmt_tokens(b.get("totalTokens", 0)),
                     fmt_cost(b.get("costUSD", 0.0)), str(len(devs))])
        if by_device and len(devs) > 1:
            for d in devs:
                body.append(["  @" + str(d["device"])[:18], f"{100 * d.get('share', 0):.0f}%",
                             str(d.get("entries", 0)), fmt_tokens(d.get("totalTokens", 0)),
                             fmt_cost(d.get("costUSD", 0.0)), ""])
    return table(headers, body, right={2, 3, 4, 5})


def pace_lines(s: dict[str, Any]) -> list[str]:
    """The plan, pace and budget lines of `status` and `monthly`."""
    lines = []
    p = s["plan"]
    if p["plan"] is None:
        lines.append(f"Plan     not set (API-equivalent {fmt_cost(p['apiEquivalentCost'])} in {s['month']};"
                     " `meshctl plan set pro|max5x|max20x|api`)")
    elif p["monthlyPrice"] is None:
        lines.append(f"Plan     {p['plan']}: {fmt_cost(p['apiEquivalentCost'])} in {s['month']}")
    else:
        lines.append(f"Plan     {p['plan']} ({fmt_cost(p['monthlyPrice'])}/month): API-equivalent "
                     f"{fmt_cost(p['apiEquivalentCost'])} in {s['month']} ({p['ratio']:.2f}x the price)")
    pc = s["pace"]
    lines.append(f"Pace     {fmt_cost(pc['dailyAverage'])}/day this month, trend {pc['trend']}; projected "
                 f"{fmt_cost(pc['week']['projectedCost'])} this week, {fmt_cost(pc['month']['projectedCost'])} this month")
    for b in s["budgets"]:
        flag = {"warning": "  WARNING: 90% used", "exceeded": "  OVER BUDGET"}.get(b["status"], "")
        if not flag and b["projectedStatus"] != "ok":
            flag = "  (on pace to exceed)" if b["projectedStatus"] == "exceeded" else "  (on pace for 90%)"
        lines.append(f"Budget   {b['project']}: {fmt_cost(b['totalCost'])} of {fmt_cost(b['budget'])} "
                     f"({b['percentUsed']:.0f}%), projected {fmt_cost(b['projectedCost'])}{flag}")
    return lines
