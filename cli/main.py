"""The `meshctl` command group. Read-only commands import neither grpc, zeroconf nor sqlite_utils."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from meshd import __version__
from meshd.errors import MeshError


class MeshGroup(click.Group):
    """Turns MeshError (and anything unexpected) into one line on stderr and a non-zero exit."""

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


def _register() -> None:
    from meshctl.pricing_cmd import pricing
    from meshctl.reports_cmd import blocks, daily, monthly, session, weekly
    from meshctl.status_cmd import status

    for cmd in (daily, weekly, monthly, session, blocks, status, pricing):
        cli.add_command(cmd)

    from meshctl.security_cmd import init, invite, join

    for cmd in (init, invite, join):
        cli.add_command(cmd)


_register()
