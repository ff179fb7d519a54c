"""`meshd run`: the daemon's command line (what systemd and launchd start)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from meshd import __version__
from meshd.errors import MeshError


def _addr(value: str, what: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise click.BadParameter(f"{what} must be HOST:PORT, got {value!r}")
    return f"{host or '0.0.0.0'}:{int(port)}"


def _tune_runtime() -> None:
    """Fewer cyclic-GC passes: a catch-up allocates millions of small acyclic objects (records,
    protobuf messages), and with the default thresholds the collector took a third of the
    receiving thread's time. Everything loaded so far is frozen out of the collector's sight."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="meshd")
def cli() -> None:
    """meshd: the peer-to-peer usage-accounting daemon."""


@cli.command("run")
@click.option("--listen", metavar="HOST:PORT", help="Peer API address (default: config, else 0.0.0.0:47474).")
@click.option("--api-listen", metavar="HOST:PORT",
              help="Also serve the local API over TCP, mutual TLS with mesh certificates only (default: off;"
                   " config: api_listen).")
@click.option("--peer", "peers", multiple=True, metavar="HOST:PORT", help="A static peer to dial (repeatable).")
@click.option("--no-mdns", is_flag=True, help="Do not advertise or browse mDNS.")
@click.option("--sync-interval", type=click.FloatRange(0.1, 86400), metavar="S",
              help="Seconds between push-pull rounds with each peer (default: config, else 30).")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), envvar="MESHD_HOME",
              help="Data home (default: $MESHD_HOME or the platform's data folder).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True)
@click.option("--insecure-dev", is_flag=True, help="Plaintext peer traffic without a mesh (tests only).")
def run(listen: str | None, api_listen: str | None, peers: tuple[str, ...], no_mdns: bool, sync_interval: float | None,
        home: Path | None, log_level: str, insecure_dev: bool) -> None:
    """Run the daemon in the foreground until SIGTERM or SIGINT."""
    logging.basicConfig(level=getattr(logging, log_level.upper()), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        from meshd.config import ensure_home, load_config
        from meshd.daemon import Options
        from meshd.daemon import run as run_daemon

        config = load_config(home.expanduser().absolute() if home else None)
        ensure_home(config.home)
        opts = Options(
            listen=_addr(listen or config.listen, "--listen"),
            api_listen=_addr(api, "--api-listen") if (api := api_listen or config.api_listen) else None,
            peers=tuple(_addr(p, "--peer") for p in (*config.peers, *peers)),
            mdns=config.mdns and not no_mdns,
            sync_interval=sync_interval or config.sync_interval,
            insecure=insecure_dev,
        )
        if insecure_dev:
            logging.getLogger("meshd").warning("--insecure-dev: peer traffic is plaintext and unauthenticated")
        _tune_runtime()
        code = run_daemon(config, opts)
    except MeshError as e:
        msg = f"meshd: error: {e}"
        if e.hint:
            msg += f" (hint: {e.hint})"
        click.echo(msg, err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        code = 0
    sys.exit(code)
