"""The `meshctl` command group. Read-only commands import neither grpc, zeroconf nor sqlite_utils."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from meshd import __version__
from meshd.errors import MeshError


class MeshGroup(click.Group):
    """Loads commands lazily; turns MeshError (and anything unexpected) into one line and an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(_COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self.commands.get(cmd_name) or _load(cmd_name)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except MeshError as e:
            msg = f"meshctl: error: {e}"
            if e.hint:
                msg += f" (hint: {e.hint})"
            click.echo(msg, err=True)
            ctx.exit(1)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("meshctl: interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            # The reader (e.g. `| head`) went away: not an error.
            sys.stderr.close()
            ctx.exit(0)
        except Exception as e:  # never a traceback for users; MESHD_DEBUG=1 shows it
            if os.environ.get("MESHD_DEBUG"):
                raise
            click.echo(
                f"meshctl: internal error: {type(e).__name__}: {e} (hint: rerun with MESHD_DEBUG=1 for details)",
                err=True,
            )
            ctx.exit(2)
        return None


@click.group(cls=MeshGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="MESHD_HOME",
    help="Data home (default: $MESHD_HOME or the platform's data folder).",
)
@click.version_option(__version__, prog_name="meshctl")
@click.pass_context
def cli(ctx: click.Context, home: Path | None) -> None:
    """meshd's command line: usage reports across all your machines."""
    ctx.ensure_object(dict)
    ctx.obj["home"] = home.expanduser().absolute() if home else None


# Commands are imported only when used, so `meshctl daily` loads none of the others' modules.
_COMMANDS = {
    "daily": "meshctl.reports_cmd:daily",
    "weekly": "meshctl.reports_cmd:weekly",
    "monthly": "meshctl.reports_cmd:monthly",
    "session": "meshctl.reports_cmd:session",
    "projects": "meshctl.reports_cmd:projects",
    "blocks": "meshctl.reports_cmd:blocks",
    "status": "meshctl.status_cmd:status",
    "pricing": "meshctl.pricing_cmd:pricing",
    "init": "meshctl.security_cmd:init",
    "invite": "meshctl.security_cmd:invite",
    "join": "meshctl.security_cmd:join",
    "devices": "meshctl.devices_cmd:devices",
    "forget": "meshctl.devices_cmd:forget",
    "sync": "meshctl.sync_cmd:sync",
    "statusline": "meshctl.statusline_cmd:statusline",
    "plan": "meshctl.plan_cmd:plan",
    "budget": "meshctl.plan_cmd:budget",
    "service": "meshctl.service_cmd:service",
    "export": "meshctl.export_cmd:export",
}


def _load(name: str) -> click.Command | None:
    import importlib

    target = _COMMANDS.get(name)
    if target is None:
        return None
    module, attr = target.split(":")
    cmd: click.Command = getattr(importlib.import_module(module), attr)
    return cmd

