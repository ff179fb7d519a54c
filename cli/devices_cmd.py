"""`meshctl devices` and `meshctl forget`: the devices of the mesh, from the replica (and the
daemon's peer table when a daemon runs; grpc is imported only then)."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from meshctl.render import emit_json, fmt_int, table


def _daemon_peers(home) -> dict[str, dict[str, Any]] | None:  # type: ignore[no-untyped-def]
    """device id -> best peer entry from the running daemon; None when no daemon answers."""
    from meshd.config import socket_path

    if not socket_path(home).exists():
        return None
    from meshd.errors import DaemonError
    from meshd.rpc import local

    try:
        st = local.status(home)
    except DaemonError:
        return None
    from meshd.query import peer_info

    return peer_info(st.peers, st.device_id)


def device_rows(conn, my_id: str, peers: dict[str, dict[str, Any]] | None) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """One row per device the replica knows (meshd/query.py, shared with the local API)."""
    from meshd.query import device_rows as rows

    return rows(conn, my_id, peers)


def _ago(iso: str | None) -> str:
    if not iso:
        return "-"
    s = time.time() - time.mktime(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")) + time.mktime(time.gmtime(0))
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= n:
            return f"{int(s // n)}{unit} ago"
    return f"{max(0, int(s))}s ago"


@click.command("devices")
@click.option("--json", "-j", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def devices(ctx: click.Context, as_json: bool) -> None:
    """The mesh's devices: records held and behind, online or offline, address, last seen."""
    from meshd.app import open_readonly
    from meshd.identity import device_id_for

    from meshctl.common import get_config

    config = get_config(ctx)
    my_id = device_id_for(config.home, config.device_id)
    conn = open_readonly(config)
    peers = _daemon_peers(config.home)
    rows = device_rows(conn, my_id, peers) if conn is not None else []
    if as_json:
        emit_json({"devices": rows, "daemon": peers is not None})
        return
    if not rows:
        click.echo("No devices yet (run `meshctl daily` or `meshd run` to create the replica).")
        return
    click.echo(table(
        ["Name", "Id", "State", "Records", "Behind", "Last seen", "Address"],
        [[r["name"] + (" *" if r["self"] else ""), r["shortId"], r["state"], fmt_int(r["records"]),
          "-" if r["recordsBehind"] is None else fmt_int(r["recordsBehind"]), _ago(r["lastSeen"] or r["lastActivity"]),
          r["address"] or "-"] for r in rows],
        right={3, 4}))
    if peers is None:
        click.echo("(no daemon running: online state, address and records behind are unknown; start `meshd run`)")


def resolve_device(conn, who: str) -> str:  # type: ignore[no-untyped-def]
    """A device id from a full id, an id prefix (4+ characters) or a name; MeshError otherwise."""
    from meshd.query import resolve_device as resolve

    return resolve(conn, who)


@click.command("forget")
@click.argument("device")
@click.option("--purge", is_flag=True, help="Delete the device's usage from the replica instead of hiding it.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def forget(ctx: click.Context, device: str, purge: bool, yes: bool) -> None:
    """Remove DEVICE (name or id) from the mesh for good: a tombstone every replica obeys."""
    from meshd.app import open_replica
    from meshd.errors import ConfigError, DaemonError
    from meshd.store.forget import append_forget, forgotten_ids

    from meshctl.common import get_config

    config = get_config(ctx)
    replica = open_replica(config)
    did = resolve_device(replica.conn, device)
    if did == replica.device_id:
        raise ConfigError("refusing to forget this device itself", hint="run `meshctl forget` on another device")
    if did in forgotten_ids(replica.conn) and not purge:
        click.echo(f"device {did[:8]} is already forgotten")
        return
    if not yes and sys.stdin.isatty():
        click.confirm(f"Forget device {did[:8]} on every replica (this cannot be undone)?", abort=True)
    append_forget(replica, did, purge, int(time.time() * 1000))
    replica.conn.close()
    try:
        from meshd.rpc.local import socket_path

        if socket_path(config.home).exists():
            from meshd.rpc import local

            local.forget(config.home, did, purge)
    except DaemonError:
        pass
    click.echo(f"forgot device {did[:8]}{' (usage purged)' if purge else ''}; the tombstone gossips to every replica")
