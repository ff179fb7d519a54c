"""Report commands: daily, weekly, monthly, session, projects, blocks (ccusage-compatible JSON).

The numbers come from meshd/query.py, which the daemon's local API uses too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from meshctl.common import open_and_ingest
from meshctl.render import emit_json, fmt_cost, fmt_tokens, table, term_width


def _report_options(f: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option("--since", "-s", metavar="DATE", help="First day to include (YYYYMMDD or YYYY-MM-DD)."),
        click.option("--until", "-u", metavar="DATE", help="Last day to include (YYYYMMDD or YYYY-MM-DD)."),
        click.option("--timezone", "-z", "tz", metavar="TZ", help="IANA zone for dates (default: system)."),
        click.option("--order", "-o", type=click.Choice(["asc", "desc"]), default=None,
                     help="Row order (default: asc; session and projects: most expensive first)."),
        click.option("--mode", "-m", type=click.Choice(["auto", "calculate", "display"]), default=None,
                     help="Cost mode (default: auto, or cost_mode in config)."),
        click.option("--breakdown", "-b", is_flag=True, help="Show a row per model."),
        click.option("--json", "-j", "as_json", is_flag=True, help="Print JSON (ccusage-compatible)."),
        click.option("--device", "devices", multiple=True, metavar="NAME", help="Only this device (repeatable)."),
        click.option("--by-device", is_flag=True, help="Show a row per device."),
        click.option("--provider", type=click.Choice(["claude", "codex", "all"]), default="all",
                     show_default=True, help="Which provider's usage."),
        click.option("--offline", "-O", is_flag=True, hidden=True, help="Accepted for ccusage compatibility."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _report(ctx: click.Context, kind: str, since: str | None, until: str | None, tz: str | None,
            order: str | None, mode: str | None, devices: tuple[str, ...], provider: str,
            **extra: Any) -> dict[str, Any]:
    """Validate the options, ingest new local lines, run the report (meshd/query.py, shared with the API)."""
    from meshd import query
    from meshd.clock import now_ms

    from meshctl.common import get_config

    config = get_config(ctx)
    q = query.report_query(kind, tz_default=config.timezone, mode_default=config.cost_mode, cli=True,
                           since=since, until=until, timezone=tz, order=order, mode=mode, devices=devices,
                           provider=provider, **extra)
    _config, replica = open_and_ingest(ctx)
    return query.run(replica.conn, q, now_ms())


def _period_command(name: str, key: str, label: str) -> click.Command:
    @click.command(name, help=f"Usage and cost per {label.lower()}, merged over all devices.")
    @_report_options
    @click.option("--project", "-p", metavar="NAME", help="Only this project (folder name).")
    @click.option("--start-of-week", "-w", type=click.Choice(["sunday", "monday", "tuesday", "wednesday",
                  "thursday", "friday", "saturday"]), default="sunday", show_default=True,
                  hidden=name != "weekly", help="First day of the week.")
    @click.pass_context
    def cmd(ctx: click.Context, since, until, tz, order, mode, breakdown, as_json, devices, by_device,
            provider, offline, project, start_of_week) -> None:  # type: ignore[no-untyped-def]
        data = _report(ctx, name, since, until, tz, order, mode, devices, provider, project=project,
                       start_of_week=start_of_week)
        if as_json:
            emit_json(data)
            return
        click.echo(_period_table(data[key], data["totals"], label, key_field=_KEY_FIELD[key],
                                 breakdown=breakdown, by_device=by_device))
        if "pace" in data:
            from meshctl.plan_cmd import pace_lines

            click.echo("\n" + "\n".join(pace_lines({**data, "month": data["plan"]["month"]})))

    return cmd


_KEY_FIELD = {"daily": "date", "weekly": "week", "monthly": "month"}


def _short_model(m: str) -> str:
    return m.removeprefix("claude-")


def _period_table(rows: list[dict[str, Any]], totals: dict[str, Any], label: str, *, key_field: str,
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


daily = _period_command("daily", "daily", "Date")
weekly = _period_command("weekly", "weekly", "Week")
monthly = _period_command("monthly", "monthly", "Month")


@click.command("session", help="Usage and cost per Claude Code session, merged over all devices.")
@_report_options
@click.option("--id", "-i", "session_id", metavar="ID", help="Only this session.")
@click.pass_context
def session(ctx: click.Context, since, until, tz, order, mode, breakdown, as_json, devices, by_device,
            provider, offline, session_id) -> None:  # type: ignore[no-untyped-def]
    data = _report(ctx, "session", since, until, tz, order, mode, devices, provider, session=session_id)
    sessions = _rows_for_table(data, "sessions", as_json)
    if not sessions:
        return
    headers = ["Session", "Project", "Last", "Input", "Output", "Total", "Cost"]
    body = [[s["sessionId"][:12], s.get("projectPath", "")[-24:], str(s.get("lastActivity", ""))[:10],
             *_cells(s)] for s in sessions]
    body += [["\x00"], ["Total", "", "", *_cells(data["totals"])]]
    click.echo(table(headers, body, right={3, 4, 5, 6}))


def _rows_for_table(data: dict[str, Any], key: str, as_json: bool) -> list[dict[str, Any]]:
    """Print the JSON (or "No usage found.") and return [], or return the rows to print as a table."""
    if as_json:
        emit_json(data)
        return []
    if not data[key]:
        click.echo("No usage found.")
    return data[key]  # type: ignore[no-any-return]


def _cells(d: dict[str, Any]) -> list[str]:
    """Input, output, total tokens and cost cells of a row, a breakdown or the totals."""
    return [fmt_tokens(d["inputTokens"]), fmt_tokens(d["outputTokens"]),
            fmt_tokens(d["totalTokens"]) if "totalTokens" in d else "",
            fmt_cost(d.get("totalCost", d.get("cost", 0.0)))]


@click.command("projects", help="Usage and cost per project (all its sessions), merged over all devices.")
@_report_options
@click.option("--project", "-p", metavar="NAME", help="Only this project (folder name).")
@click.pass_context
def projects(ctx: click.Context, since, until, tz, order, mode, breakdown, as_json, devices, by_device,
             provider, offline, project) -> None:  # type: ignore[no-untyped-def]
    data = _report(ctx, "projects", since, until, tz, order, mode, devices, provider, project=project)
    rows = _rows_for_table(data, "projects", as_json)
    if not rows:
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
    click.echo(table(headers, body, right={1, 3, 4, 5, 6}))


def _short_project(p: str) -> str:
    """The tail of an encoded project folder, so the table fits ("-home-u-src-app" -> "…src-app")."""
    return p if len(p) <= 28 else "…" + p[-27:]


@click.command("blocks", help="5-hour billing blocks over the merged usage of all devices (Claude).")
@_report_options
@click.option("--active", "-a", is_flag=True, help="Only the active block.")
@click.option("--recent", "-r", is_flag=True, help="Only blocks of the last 3 days (and the active one).")
@click.option("--token-limit", "-t", metavar="N|max", help="Token limit for warnings; 'max' = highest past block.")
@click.option("--session-length", "-n", type=float, default=5.0, show_default=True, help="Block length in hours.")
@click.option("--live", "-l", is_flag=True, help="A full-screen view of the active block that refreshes (q quits).")
@click.option("--compact", is_flag=True, help="Live view, compact layout whatever the size (implies --live).")
@click.pass_context
def blocks(ctx: click.Context, since, until, tz, order, mode, breakdown, as_json, devices, by_device,
           provider, offline, active, recent, token_limit, session_length, live=False,
           compact=False) -> None:  # type: ignore[no-untyped-def]
    if live or compact:
        from meshctl.live_cmd import run

        return run(ctx, tz_name=tz, mode=mode, compact=compact, session_hours=session_length, as_json=as_json,
                   command="blocks")
    data = _report(ctx, "blocks", since, until, tz, order, mode, devices, provider, active=active, recent=recent,
                   token_limit=token_limit, session_hours=session_length)
    if as_json:
        emit_json(data)
        return
    click.echo(_blocks_table(data["blocks"], by_device=by_device or True))


def _blocks_table(blocks: list[dict[str, Any]], *, by_device: bool) -> str:
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
