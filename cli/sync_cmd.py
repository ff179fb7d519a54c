"""`meshctl sync`: ask the running daemon to push-pull with every peer now (grpc imported lazily)."""

from __future__ import annotations

import click

from meshctl.render import emit_json, fmt_int, table


@click.command("sync")
@click.option("--json", "-j", "as_json", is_flag=True, help="Print JSON.")
@click.option("--peer", default="", metavar="ID|HOST:PORT", help="Only this peer.")
@click.option("--timeout", type=click.FloatRange(0.5, 600), default=30.0, show_default=True, help="Seconds to wait.")
@click.pass_context
def sync(ctx: click.Context, as_json: bool, peer: str, timeout: float) -> None:
    """Sync with every peer now (needs `meshd run`) and show each peer's result."""
    from meshd.rpc import local

    from meshctl.common import get_config

    config = get_config(ctx)
    r = local.sync_now(config.home, peer, timeout)
    rows = [{"address": x.address, "deviceId": x.device_id or None, "ok": x.ok, "error": x.error or None,
             "recordsPulled": x.records_pulled, "seconds": round(x.seconds, 3)} for x in r.results]
    if as_json:
        emit_json({"peers": rows})
    elif not rows:
        click.echo("no peers known yet (add --peer HOST:PORT to `meshd run`, or enable mDNS)")
    else:
        click.echo(table(["Peer", "Id", "Result", "Pulled", "Seconds"],
                         [[x["address"], (x["deviceId"] or "-")[:8], "ok" if x["ok"] else f"error: {x['error']}",
                           fmt_int(x["recordsPulled"]), f"{x['seconds']:.2f}"] for x in rows], right={3, 4}))
    if rows and not any(x["ok"] for x in rows):
        ctx.exit(1)
