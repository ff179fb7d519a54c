"""Report commands: daily, weekly, monthly, session, blocks (ccusage-compatible JSON)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from meshctl.common import open_and_ingest, parse_day
from meshctl.render import emit_json, fmt_cost, fmt_tokens, table, term_width


def _report_options(f: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option("--since", "-s", metavar="DATE", help="First day to include (YYYYMMDD or YYYY-MM-DD)."),
        click.option("--until", "-u", metavar="DATE", help="Last day to include (YYYYMMDD or YYYY-MM-DD)."),
        click.option("--timezone", "-z", "tz", metavar="TZ", help="IANA zone for dates (default: system)."),
        click.option("--order", "-o", type=click.Choice(["asc", "desc"]), default="asc", show_default=True),
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


def _common(ctx: click.Context, since: str | None, until: str | None, tz: str | None, mode: str | None,
            devices: tuple[str, ...], provider: str) -> dict[str, Any]:
    from meshd.core.periods import resolve_tz
    from meshd.errors import ConfigError
    from meshd.store.usage import RowFilter, origins_named

    config, replica = open_and_ingest(ctx)
    origins = None
    if devices:
        found: list[str] = []
        for name in devices:
            ids = origins_named(replica.conn, name)
            if not ids:
                raise ConfigError(f"unknown device {name!r}", hint="see `meshctl devices`")
            found.extend(ids)
        origins = tuple(found)
    return {
        "replica": replica,
        "tz": resolve_tz(tz or config.timezone),
        "since": parse_day(since, "--since"),
        "until": parse_day(until, "--until"),
        "mode": mode or config.cost_mode,
        "filter": RowFilter(provider=None if provider == "all" else provider, origins=origins),
    }


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
        from dataclasses import replace

        from meshd.core import reports
        from meshd.store.usage import DAILY_WINNERS, WINNERS, day_rows, usage_rows

        c = _common(ctx, since, until, tz, mode, devices, provider)
        flt = replace(c["filter"], project=project) if project else c["filter"]
        daily_rule = name == "daily"  # ccusage's daily dedups sidechain replays; its other reports do not
        if project:
            rows = usage_rows(c["replica"].conn, c["mode"], flt, grain="entry",
                              which=DAILY_WINNERS if daily_rule else WINNERS)
        else:
            rows = day_rows(c["replica"].conn, c["mode"], flt, c["tz"], daily_rule=daily_rule)
        fn = getattr(reports, name)
        kw: dict[str, Any] = {"tz": c["tz"], "since": c["since"], "until": c["until"], "order": order}
        if name == "weekly":
            kw["start_of_week"] = start_of_week
        data = fn(rows, **kw)
        if as_json:
            emit_json(data)
            return
        click.echo(_period_table(data[key], data["totals"], label, key_field=_KEY_FIELD[key],
                                 breakdown=breakdown, by_device=by_device))

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
    from dataclasses import replace

    from meshd.core import reports
    from meshd.store.usage import usage_rows

    c = _common(ctx, since, until, tz, mode, devices, provider)
    flt = replace(c["filter"], session=session_id) if session_id else c["filter"]
    rows = usage_rows(c["replica"].conn, c["mode"], flt, by_session=True)
    if ctx.get_parameter_source("order") == click.core.ParameterSource.DEFAULT:
        order = "desc"  # sessions: most expensive first, as ccusage
    data = reports.session(rows, tz=c["tz"], since=c["since"], until=c["until"], order=order)
    if as_json:
        emit_json(data)
        return
    sessions = data["sessions"]
    if not sessions:
        click.echo("No usage found.")
        return
    headers = ["Session", "Project", "Last", "Input", "Output", "Total", "Cost"]
    body = [[s["sessionId"][:12], s.get("projectPath", "")[-24:], str(s.get("lastActivity", ""))[:10],
             fmt_tokens(s["inputTokens"]), fmt_tokens(s["outputTokens"]), fmt_tokens(s["totalTokens"]),
             fmt_cost(s["totalCost"])] for s in sessions]
    body.append(["\x00"])
    t = data["totals"]
    body.append(["Total", "", "", fmt_tokens(t["inputTokens"]), fmt_tokens(t["outputTokens"]),
                 fmt_tokens(t["totalTokens"]), fmt_cost(t["totalCost"])])
    click.echo(table(headers, body, right={3, 4, 5, 6}))


@click.command("blocks", help="5-hour billing blocks over the merged usage of all devices (Claude).")
@_report_options
@click.option("--active", "-a", is_flag=True, help="Only the active block.")
@click.option("--recent", "-r", is_flag=True, help="Only blocks of the last 3 days (and the active one).")
@click.option("--token-limit", "-t", metavar="N|max", help="Token limit for warnings; 'max' = highest past block.")
@click.option("--session-length", "-n", type=float, default=5.0, show_default=True, help="Block length in hours.")
@click.pass_context
def blocks(ctx: click.Context, since, until, tz, order, mode, breakdown, as_json, devices, by_device,
           provider, offline, active, recent, token_limit, session_length) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from meshd.clock import now_ms
    from meshd.core import blocks as core_blocks
    from meshd.errors import ConfigError
    from meshd.store.usage import usage_rows

    if not 0 < session_length <= 24 * 7:
        raise ConfigError("--session-length must be between 0 and 168 hours")
    if provider == "codex":
        raise ConfigError("blocks are Claude-only: Codex usage has no 5-hour blocks",
                          hint="use daily, monthly or session with --provider codex")
    limit: int | str | None = None
    if token_limit is not None:
        if token_limit in ("max", ""):
            limit = "max"
        elif token_limit.isdigit() and len(token_limit) < 19:
            limit = int(token_limit)
        else:
            raise ConfigError(f"--token-limit must be a number or 'max', not {token_limit[:40]!r}")
    c = _common(ctx, since, until, tz, mode, devices, provider)
    flt = replace(c["filter"], provider="claude")
    # Rollup buckets are 15 minutes: exact for blocks whose length is a multiple of that.
    grain = "minute" if core_blocks.session_length_ms(session_length) % 900_000 == 0 else "entry"
    rows = usage_rows(c["replica"].conn, c["mode"], flt, grain=grain, merge_models=True)
    data = core_blocks.blocks_report(
        rows, now_ms=now_ms(), session_hours=session_length, tz=c["tz"], since=c["since"],
        until=c["until"], order=order, active_only=active, recent=recent, token_limit=limit,
    )
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
