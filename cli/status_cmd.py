"""`meshctl status`: this device, its sources, today's cost and the active block."""

from __future__ import annotations

from typing import Any

import click

from meshctl.render import emit_json, fmt_cost, fmt_tokens


def source_stats(conn) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Per source folder: files, usage entries and skipped lines (with the last skipped file)."""
    out: dict[str, dict[str, Any]] = {}
    for source, path, entries, skipped, last_skip in conn.execute(
        "SELECT source, path, entries, skipped, last_skip FROM files ORDER BY path"
    ):
        s = out.setdefault(source, {"path": source, "files": 0, "entries": 0, "skippedLines": 0, "skipped": []})
        s["files"] += 1
        s["entries"] += entries
        s["skippedLines"] += skipped
        if skipped:
            s["skipped"].append({"file": path, "lines": skipped, "last": last_skip})
    return list(out.values())


@click.command("status")
@click.option("--json", "-j", "as_json", is_flag=True, help="Print JSON.")
@click.option("--timezone", "-z", "tz", metavar="TZ", help="IANA zone for 'today' (default: system).")
@click.option("--live", "-l", is_flag=True, help="A full-screen view that refreshes as usage arrives (q quits).")
@click.option("--compact", is_flag=True, help="Live view, compact layout whatever the size (implies --live).")
@click.pass_context
def status(ctx: click.Context, as_json: bool, tz: str | None, live: bool, compact: bool) -> None:
    """This device, its log sources, today's cost and the active block."""
    if live or compact:
        from meshctl.live_cmd import run

        return run(ctx, tz_name=tz, mode=None, compact=compact, as_json=as_json)
    from meshd.clock import now_ms
    from meshd.core import blocks as core_blocks
    from meshd.core.periods import day_key, resolve_tz
    from meshd.store.usage import RowFilter, usage_rows

    from meshctl.common import open_and_ingest

    config, replica = open_and_ingest(ctx)
    conn = replica.conn
    zone = resolve_tz(tz or config.timezone)
    now = now_ms()
    today = day_key(now, zone)
    from meshd.store.usage import device_names

    names = device_names(conn)  # the same display names as report rows
    rows = usage_rows(conn, config.cost_mode, RowFilter(since_ms=now - 3 * 86_400_000))
    me = names.get(replica.device_id, replica.device_id[:8])
    t = {"local": [0, 0.0], "remote": [0, 0.0]}
    for r in rows:
        if day_key(r.ts, zone) == today:
            side = "local" if r.device == me else "remote"
            t[side][0] += r.total_tokens
            t[side][1] += r.cost
    claude_rows = [r for r in rows if r.provider == "claude"]
    blk = core_blocks.blocks_report(claude_rows, now_ms=now, session_hours=5.0, tz=zone, active_only=True)
    active = blk["blocks"][0] if blk["blocks"] else None
    vec = replica.vector()
    block_split = None
    if active:
        local_cost = sum(d["costUSD"] for d in active.get("devices", []) if d["device"] == me)
        local_tok = sum(d["totalTokens"] for d in active.get("devices", []) if d["device"] == me)
        block_split = {
            "local": {"totalTokens": local_tok, "costUSD": local_cost},
            "remote": {"totalTokens": active["totalTokens"] - local_tok, "costUSD": active["costUSD"] - local_cost},
            "remoteDevices": len([d for d in active.get("devices", []) if d["device"] != me]),
        }
    from meshctl.devices_cmd import _daemon_peers

    peers = _daemon_peers(config.home)
    peer_list = None if peers is None else [
        {"deviceId": did, "name": names.get(did, did[:8]), **info} for did, info in peers.items() if did
    ]
    data = {
        "device": {"id": replica.device_id, "name": me, "epoch": replica.epoch, "home": str(config.home)},
        "sources": source_stats(conn),
        "today": {
            "date": today,
            "local": {"totalTokens": t["local"][0], "totalCost": t["local"][1]},
            "remote": {"totalTokens": t["remote"][0], "totalCost": t["remote"][1]},
            "total": {"totalTokens": t["local"][0] + t["remote"][0], "totalCost": t["local"][1] + t["remote"][1]},
        },
        "activeBlock": active,
        "activeBlockSplit": block_split,
        "daemon": peers is not None,
        "peers": peer_list,
        "devices": len({o for o, _e in vec}),
        "records": sum(vec.values()),
    }
    from meshd.query import pace_summary

    from meshctl.report_views import pace_lines

    pace = pace_summary(conn, config.cost_mode, zone, now)  # plan value, pace, budgets (mesh-wide)
    data.update(plan=pace["plan"], pace=pace["pace"], budgets=pace["budgets"])
    from meshctl.limits_view import limit_line, rate_limits

    data["rateLimits"] = rate_limits(conn, config.cost_mode, now, names)  # official readings, split by device
    if as_json:
        emit_json(data)
        return
    lines = [f"Device   {me} ({replica.device_id[:8]}, epoch {replica.epoch:x})", f"Home     {config.home}"]
    if not data["sources"]:
        lines.append("Sources  none found (set CLAUDE_CONFIG_DIR or CODEX_HOME, or claude_dirs / codex_dirs in config.toml)")
    for s in data["sources"]:
        lines.append(f"Source   {s['path']}: {s['files']} files, {s['entries']:,} entries, {s['skippedLines']:,} skipped lines")
        for sk in s["skipped"][:5]:
            lines.append(f"           skipped {sk['lines']} in {sk['file']} ({sk['last']})")
    td = data["today"]
    lines.append(
        f"Today    {today}: {fmt_cost(td['total']['totalCost'])} ({fmt_tokens(td['total']['totalTokens'])} tokens)"
        f"  local {fmt_cost(td['local']['totalCost'])}  remote {fmt_cost(td['remote']['totalCost'])}"
    )
    if active:
        mins = (active.get("projection") or {}).get("remainingMinutes")
        left = f", {int(mins) // 60}h{int(mins) % 60:02d}m left" if isinstance(mins, (int, float)) else ""
        lines.append(f"Block    {active['startTime'][11:16]}Z: {fmt_cost(active['costUSD'])}, "
                     f"{fmt_tokens(active['totalTokens'])} tokens{left}")
        if block_split:
            lines.append(f"           local {fmt_cost(block_split['local']['costUSD'])}  remote "
                         f"{fmt_cost(block_split['remote']['costUSD'])} ({block_split['remoteDevices']} other devices)")
    else:
        lines.append("Block    no active block")
    for w in data["rateLimits"].values():
        lines.append(limit_line(w, now))
    lines.extend(pace_lines(pace))
    if peer_list is None:
        lines.append("Mesh     daemon not running (reports use this replica; start it with `meshd run`)")
    elif not peer_list:
        lines.append("Mesh     no peers yet")
    for pe in peer_list or []:
        ago = ""
        if pe.get("lastSuccessMs"):
            ago = f", last sync {max(0, now - int(pe['lastSuccessMs'])) // 1000}s ago"
        err = f", error: {pe['lastError']}" if pe.get("lastError") and pe.get("state") != "online" else ""
        lines.append(f"Peer     {pe['name']} ({pe['deviceId'][:8]}) {pe['state']} at {pe.get('address') or '-'}{ago}{err}")
    click.echo("\n".join(lines))
