"""`meshctl statusline` as a click command (help, and runs through the group); the work is in statusline.py."""

from __future__ import annotations

import click


@click.command("statusline")
@click.pass_context
def statusline(ctx: click.Context) -> None:
    """One status line for Claude Code: reads its JSON on stdin, always exits 0.

    Records the official 5h/7d reading for the whole mesh and prints mesh-wide block and today
    costs, burn rate, time left, the freshest official percentages and this machine's share.
    In ~/.claude/settings.json: {"statusLine": {"type": "command", "command": "meshctl statusline"}}
    """
    from meshctl.statusline import run

    run((ctx.find_root().obj or {}).get("home"))
