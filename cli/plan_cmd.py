"""`meshctl plan` and `meshctl budget`: replicated settings (last writer wins). The pace lines that
`status` and `monthly` show (plan value, budgets with warnings, daily average, trend, projections)
are report_views.pace_lines."""

from __future__ import annotations

import math

import click

from meshctl.render import emit_json, fmt_cost, table
from meshd.query import pace_summary


# -- plan -----------------------------------------------------------------------------------------


@click.group("plan", invoke_without_command=True)
@click.pass_context
def plan(ctx: click.Context) -> None:
    """The account's plan (pro $20, max5x $100, max20x $200, api), shared by every device."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(plan_show)


@plan.command("show")
@click.option("--json", "-j", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def plan_show(ctx: click.Context, as_json: bool = False) -> None:
    """Show the plan and who set it."""
    from meshd.core.settings import PLAN_KEY, PLANS
    from meshd.store import settings as st
    from meshd.store.usage import device_names

    from meshctl.common import open_and_ingest

    _config, replica = open_and_ingest(ctx, ingest=False)
    cur = st.current(replica.conn, PLAN_KEY).get(PLAN_KEY)
    name = None if cur is None else str(cur[0])
    by = None if cur is None else device_names(replica.conn).get(cur[2], cur[2][:8])
    if as_json:
        emit_json({"plan": name, "monthlyPrice": PLANS.get(name) if name else None, "setBy": by})
        return
    if name is None:
        click.echo("No plan set (meshctl plan set pro|max5x|max20x|api).")
    else:
        price = PLANS[name] if name in PLANS else None
        click.echo(f"{name}" + (f" ({fmt_cost(price)}/month)" if price else "") + f", set on {by}")


@plan.command("set")
@click.argument("name", metavar="pro|max5x|max20x|api")
@click.pass_context
def plan_set(ctx: click.Context, name: str) -> None:
    """Set the plan for every device of the mesh."""
    from meshd.core.settings import PLAN_KEY, PLANS
    from meshd.errors import ConfigError

    name = name.strip().lower()
    if name not in PLANS:
        raise ConfigError(f"unknown plan {name[:40]!r}", hint="one of " + ", ".join(PLANS))
    _put(ctx, PLAN_KEY, name)
    click.echo(f"Plan set to {name}.")


# -- budget ---------------------------------------------------------------------------------------


@click.group("budget")
def budget() -> None:
    """Monthly budgets per project (USD), shared by every device; warnings at 90 % and 100 %."""


def parse_amount(text: str) -> float:
    from meshd.core.settings import MAX_BUDGET
    from meshd.errors import ConfigError

    raw = text.strip().removeprefix("$").replace(",", "") if len(text) <= 40 else ""
    try:
        v = float(raw)
    except ValueError:
        raise ConfigError(f"invalid amount {text[:40]!r}", hint="a number of US dollars, e.g. 100 or 49.50") from None
    if not math.isfinite(v) or not 0 < v <= MAX_BUDGET:
        raise ConfigError(f"invalid amount {text[:40]!r}", hint="more than 0 and at most 1e9 US dollars")
    return round(v, 2)


def _resolve_project(conn, name: str) -> tuple[str, str | None]:  # type: ignore[no-untyped-def]
    """The project as reports name it: exact, or the one known project ending in -NAME; plus a note."""
    known = [p for (p,) in conn.execute("SELECT DISTINCT project FROM usage")]
    if name in known:
        return name, None
    tail = [p for p in known if p.endswith("-" + name) or p.endswith("/" + name)]
    if len(tail) == 1:
        return tail[0], f"(project {tail[0]})"
    if tail:
        return name, "note: several projects end with this name: " + ", ".join(sorted(tail)[:5])
    return name, "note: no usage recorded for this project yet"


@budget.command("set")
@click.argument("project")
@click.argument("amount")
@click.pass_context
def budget_set(ctx: click.Context, project: str, amount: str) -> None:
    """Set PROJECT's monthly budget to AMOUNT US dollars.

    PROJECT as reports show it (put `--` before a name that starts with "-": `budget set -- -home-me-app 50`),
    or its last part when only one project ends with it.
    """
    from meshd.core.settings import budget_key
    from meshd.errors import ConfigError

    value = parse_amount(amount)
    try:
        budget_key(project)
    except ValueError as e:
        raise ConfigError(f"invalid project name: {e}") from None
    from meshctl.common import open_and_ingest

    _config, replica = open_and_ingest(ctx, quiet=True)
    project, note = _resolve_project(replica.conn, project)
    _put(ctx, budget_key(project), value, replica)
    click.echo(f"Budget for {project}: {fmt_cost(value)} per month." + (f" {note}" if note else ""))


@budget.command("remove")
@click.argument("project")
@click.pass_context
def budget_remove(ctx: click.Context, project: str) -> None:
    """Remove PROJECT's budget (on every device)."""
    from meshd.core.settings import budget_key
    from meshd.errors import ConfigError
    from meshd.store import settings as st

    try:
        key = budget_key(project)
    except ValueError as e:
        raise ConfigError(f"invalid project name: {e}") from None
    from meshctl.common import open_and_ingest

    _config, replica = open_and_ingest(ctx, ingest=False)
    if project not in st.budgets(replica.conn):
        raise ConfigError(f"no budget for {project[:80]!r}", hint="see `meshctl budget list`")
    _put(ctx, key, None, replica)
    click.echo(f"Budget for {project} removed.")


@budget.command("list")
@click.option("--json", "-j", "as_json", is_flag=True, help="Print JSON.")
@click.option("--timezone", "-z", "tz", metavar="TZ", help="IANA zone for the month (default: system).")
@click.pass_context
def budget_list(ctx: click.Context, as_json: bool, tz: str | None) -> None:
    """Budgets with this month's spend, merged over all devices."""
    from meshd.clock import now_ms
    from meshd.core.periods import resolve_tz

    from meshctl.common import open_and_ingest

    config, replica = open_and_ingest(ctx)
    s = pace_summary(replica.conn, config.cost_mode, resolve_tz(tz or config.timezone), now_ms())
    if as_json:
        emit_json({"month": s["month"], "budgets": s["budgets"]})
        return
    if not s["budgets"]:
        click.echo("No budgets (meshctl budget set PROJECT AMOUNT).")
        return
    click.echo(table(
        ["Project", "Budget", s["month"], "Used", "Status", "Projected"],
        [[b["project"], fmt_cost(b["budget"]), fmt_cost(b["totalCost"]), f"{b['percentUsed']:.0f}%", b["status"],
          fmt_cost(b["projectedCost"])] for b in s["budgets"]],
        right={1, 2, 3, 5}))


def _put(ctx: click.Context, key: str, value: object, replica=None) -> None:  # type: ignore[no-untyped-def]
    """Append a setting record to this device's log (the daemon replicates it)."""
    from meshd.clock import now_ms
    from meshd.errors import ConfigError
    from meshd.store import settings as st
    from meshd.store.replica import transaction

    if replica is None:
        from meshctl.common import open_and_ingest

        _config, replica = open_and_ingest(ctx, ingest=False)
    try:
        with transaction(replica.conn):
            st.put(replica, key, value, now_ms())
    except ValueError as e:
        raise ConfigError(str(e)) from None
