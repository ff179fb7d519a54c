"""`meshctl init`, `meshctl invite`, `meshctl join`: creating a mesh and pairing machines."""

from __future__ import annotations

import re
import time

import click

from meshd.errors import ConfigError, PairingError

_TTL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")


def parse_ttl(text: str) -> float:
    m = _TTL.match(text)
    if not m:
        raise ConfigError(f"bad --ttl {text!r}", hint="e.g. 90s, 10m, 1h")
    v = float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]
    from meshd.security.pairing import MAX_TTL

    if not 1 <= v <= MAX_TTL:
        raise ConfigError("--ttl must be between 1 second and 24 hours")
    return v


def _device_id(config) -> str:  # type: ignore[no-untyped-def]
    from meshd.identity import device_id_for

    return device_id_for(config.home, config.device_id)


@click.command("init")
@click.option("--force", is_flag=True, help="Replace an existing mesh (every paired device must join again).")
@click.pass_context
def init(ctx: click.Context, force: bool) -> None:
    """Create a new mesh on this machine: a CA and this device's certificate."""
    from meshd.config import ensure_home
    from meshd.security import pki

    from meshctl.common import get_config

    config = get_config(ctx)
    ensure_home(config.home)
    m = pki.init_mesh(config.home, _device_id(config), force=force)
    click.echo(f"created mesh {m.fingerprint}; this device is {m.device_id}")
    click.echo(f"keys and certificates: {pki.tls_dir(config.home)} (owner-only; ca.key signs new devices)")
    click.echo("next: start the daemon (`meshd run`), then `meshctl invite` here and `meshctl join CODE` on each other machine")


@click.command("invite")
@click.option("--ttl", default="10m", show_default=True, help="How long the code stays valid (s, m or h).")
@click.option("--address", metavar="HOST:PORT", help="Where the new machine reaches this daemon's pairing port (default: guessed).")
@click.option("--no-address", is_flag=True, help="Print the code without an address.")
@click.pass_context
def invite(ctx: click.Context, ttl: str, address: str | None, no_address: bool) -> None:
    """Print a one-time code that lets one new machine join (last line of output)."""
    from meshd.security import pairing, pki

    from meshctl.common import get_config

    config = get_config(ctx)
    seconds = parse_ttl(ttl)
    m = pki.load_material(config.home)
    if not m.is_ca_holder:
        raise PairingError(
            "only the machine that ran `meshctl init` (it holds the mesh CA key) can invite",
            hint="run `meshctl invite` on that machine",
        )
    addr = None if no_address else (address or _pairing_address(config))
    store = pairing.InviteStore(config.home)
    try:
        code, expires = store.create(seconds, addr)
    finally:
        store.close()
    until = time.strftime("%H:%M:%S", time.localtime(expires))
    click.echo(f"invite for mesh {m.fingerprint}: valid until {until}, for one machine and one attempt")
    if addr:
        click.echo(f"the daemon here must be running and reachable at {addr} (pairing port)")
    else:
        click.echo("no address in the code: pass --address HOST:PORT (this daemon's pairing port) to `meshctl join`")
    click.echo("on the new machine run: meshctl join CODE")
    click.echo(str(code))


def _pairing_address(config) -> str | None:  # type: ignore[no-untyped-def]
    from meshd.security import pairing

    recorded = pairing.read_pairing_address(config.home)
    listen = recorded or pairing.pairing_listen(config.listen, config.extra.get("pairing_listen"))
    host, _, port = listen.rpartition(":")
    if not port.isdigit() or port == "0":
        return None
    if host in ("0.0.0.0", "::", "[::]", ""):
        return pairing.guess_address(int(port))
    return listen


@click.command("join")
@click.argument("code")
@click.option("--address", metavar="HOST:PORT", help="The inviter's pairing address (default: the one in the code).")
@click.option("--force", is_flag=True, help="Leave the mesh this machine belongs to and join this one.")
@click.pass_context
def join(ctx: click.Context, code: str, address: str | None, force: bool) -> None:
    """Join a mesh with a code from `meshctl invite` (no daemon needed here)."""
    from meshd.config import ensure_home
    from meshd.security import pairing

    from meshctl.common import get_config

    config = get_config(ctx)
    ensure_home(config.home)
    m = pairing.join(config.home, code, address, _device_id(config), force=force)
    click.echo(f"joined mesh {m.fingerprint} as device {m.device_id}")
    click.echo("next: start the daemon here (`meshd run`); it finds the others by mDNS or config `peers`")
