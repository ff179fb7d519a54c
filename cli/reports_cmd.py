"""Report commands: daily, weekly, monthly, session, projects, blocks (ccusage-compatible JSON).

Their options are declared once in report_args.py (which meshctl's click-free fast path parses
too); the work is report_views.show, over meshd/query.py, which the daemon's local API uses too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from meshctl.report_args import COMMANDS, Opt, options
from meshctl.report_views import show

_HELP = {
    "daily": "Usage and cost per date, merged over all devices.",
    "weekly": "Usage and cost per week, merged over all devices.",
    "monthly": "Usage and cost per month, merged over all devices.",
    "session": "Usage and cost per Claude Code session, merged over all devices.",
    "projects": "Usage and cost per project (all its sessions), merged over all devices.",
    "blocks": "5-hour billing blocks over the merged usage of all devices (Claude).",
}


def _click_option(o: Opt) -> Callable[[Any], Any]:
    kw: dict[str, Any] = {"help": o.help}
    if o.hidden:
        kw["hidden"] = True
    if o.metavar:
        kw["metavar"] = o.metavar
    if o.kind == "flag":
        kw["is_flag"] = True
    elif o.kind == "multiple":
        kw["multiple"] = True
    elif o.kind == "float":
        kw.update(type=float, default=o.default)
    if o.choices is not None:
        kw.update(type=click.Choice(list(o.choices)), default=o.default)
    if o.show_default:
        kw["show_default"] = True
    return click.option(*o.flags, o.dest, **kw)


def _command(name: str) -> click.Command:
    def cmd(ctx: click.Context, **opts: Any) -> None:
        if opts.get("live") or opts.get("compact"):
            from meshctl.live_cmd import run

            return run(ctx, tz_name=opts["tz"], mode=opts["mode"], compact=opts["compact"],
                       session_hours=opts["session_length"], as_json=opts["as_json"], command="blocks")
        show((ctx.find_root().obj or {}).get("home"), name, opts)
        return None

    f: Callable[..., Any] = click.pass_context(cmd)
    for o in reversed(options(name)):
        f = _click_option(o)(f)
    return click.command(name, help=_HELP[name])(f)


daily, weekly, monthly, session, projects, blocks = (_command(name) for name in COMMANDS)
