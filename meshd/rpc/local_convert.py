"""Report, block and device dicts (meshd/query.py, the CLI's JSON) -> meshd.v1 local messages."""

from __future__ import annotations

from typing import Any

from meshd.v1 import local_pb2 as pb

ROW_LISTS = {"daily": "daily", "weekly": "weekly", "monthly": "monthly", "session": "sessions",
             "projects": "projects"}
ROW_KEYS = {"daily": "date", "weekly": "week", "monthly": "month", "session": "sessionId", "projects": "project"}


def _u(v: Any) -> int:
    """A token count (never negative on the wire)."""
    return max(0, int(v or 0))


def _usage(msg_type: Any, d: dict[str, Any], name_key: str) -> Any:
    return msg_type(**{name_key: str(d.get(name_key, ""))},
                    input_tokens=_u(d.get("inputTokens")), output_tokens=_u(d.get("outputTokens")),
                    cache_creation_tokens=_u(d.get("cacheCreationTokens")),
                    cache_read_tokens=_u(d.get("cacheReadTokens")),
                    total_tokens=_u(d.get("totalTokens")), total_cost=float(d.get("totalCost", 0.0)))


def report_row(kind: str, r: dict[str, Any], breakdown: bool, by_device: bool) -> pb.ReportRow:
    row = pb.ReportRow(
        key=str(r[ROW_KEYS[kind]]), input_tokens=_u(r["inputTokens"]), output_tokens=_u(r["outputTokens"]),
        cache_creation_tokens=_u(r["cacheCreationTokens"]), cache_read_tokens=_u(r["cacheReadTokens"]),
        total_tokens=_u(r["totalTokens"]), total_cost=float(r["totalCost"]), models_used=r.get("modelsUsed", []),
        project=str(r.get("projectPath", r.get("project", "")) or ""),
        first_activity=str(r.get("firstActivity", "") or ""), last_activity=str(r.get("lastActivity", "") or ""),
        sessions=_u(r.get("sessions", 0)),
    )
    if breakdown:
        row.model_breakdowns.extend(
            pb.ModelBreakdown(model_name=m["modelName"], input_tokens=_u(m["inputTokens"]),
                              output_tokens=_u(m["outputTokens"]), cache_creation_tokens=_u(m["cacheCreationTokens"]),
                              cache_read_tokens=_u(m["cacheReadTokens"]), cost=float(m["cost"]),
                              provider=str(m.get("provider", "") or ""))
            for m in r.get("modelBreakdowns", []))
    if by_device:
        row.devices.extend(_usage(pb.DeviceUsage, d, "device") for d in r.get("devices", []))
    row.providers.extend(_usage(pb.ProviderUsage, p, "provider") for p in r.get("providers", []))
    return row


def totals(t: dict[str, Any]) -> pb.Totals:
    return pb.Totals(input_tokens=_u(t["inputTokens"]), output_tokens=_u(t["outputTokens"]),
                     cache_creation_tokens=_u(t["cacheCreationTokens"]), cache_read_tokens=_u(t["cacheReadTokens"]),
                     total_tokens=_u(t["totalTokens"]), total_cost=float(t["totalCost"]))


def report(kind: str, data: dict[str, Any], *, breakdown: bool, by_device: bool
           ) -> tuple[list[pb.ReportRow], pb.Totals]:
    rows = [report_row(kind, r, breakdown, by_device) for r in data.get(ROW_LISTS[kind], [])]
    return rows, totals(data["totals"])


def block(b: dict[str, Any], *, by_device: bool = True) -> pb.Block:
    tc = b.get("tokenCounts", {})
    out = pb.Block(
        id=b["id"], start_time=b["startTime"], end_time=b["endTime"], actual_end_time=b.get("actualEndTime") or "",
        is_active=bool(b["isActive"]), is_gap=bool(b["isGap"]), entries=_u(b["entries"]),
        input_tokens=_u(tc.get("inputTokens")), output_tokens=_u(tc.get("outputTokens")),
        cache_creation_input_tokens=_u(tc.get("cacheCreationInputTokens")),
        cache_read_input_tokens=_u(tc.get("cacheReadInputTokens")), total_tokens=_u(b["totalTokens"]),
        cost_usd=float(b["costUSD"]), models=b.get("models", []),
        usage_limit_reset_time=b.get("usageLimitResetTime") or "", overlap=bool(b.get("overlap", False)),
    )
    br = b.get("burnRate")
    if br:
        out.burn_rate.CopyFrom(pb.BurnRate(tokens_per_minute=br["tokensPerMinute"],
                                           tokens_per_minute_for_indicator=br["tokensPerMinuteForIndicator"],
                                           cost_per_hour=br["costPerHour"]))
    pr = b.get("projection")
    if pr:
        out.projection.CopyFrom(pb.Projection(total_tokens=_u(pr["totalTokens"]), total_cost=float(pr["totalCost"]),
                                              remaining_minutes=int(pr["remainingMinutes"])))
    ts = b.get("tokenLimitStatus")
    if ts:
        st = pb.TokenLimitStatus(limit=_u(ts["limit"]), projected_usage=_u(ts["projectedUsage"]), status=ts["status"])
        if ts.get("percentUsed") is not None:
            st.percent_used = float(ts["percentUsed"])
        out.token_limit_status.CopyFrom(st)
    if by_device:
        out.devices.extend(
            pb.BlockDevice(device=d["device"], entries=_u(d["entries"]), total_tokens=_u(d["totalTokens"]),
                           cost_usd=float(d["costUSD"]), share=float(d["share"]), first_entry=d["firstEntry"],
                           last_entry=d["lastEntry"])
            for d in b.get("devices", []))
    return out


def device(d: dict[str, Any]) -> pb.Device:
    out = pb.Device(
        name=d["name"], device_id=d["deviceId"], self=bool(d["self"]), forgotten=bool(d["forgotten"]),
        state=d["state"], address=d.get("address") or "", last_seen=d.get("lastSeen") or "",
        last_activity=d.get("lastActivity") or "", records=_u(d["records"]), epochs=int(d["epochs"]),
        last_error=d.get("lastError") or "", host=d.get("host") or "", os=d.get("os") or "",
        version=d.get("version") or "",
    )
    if d.get("recordsBehind") is not None:
        out.records_behind = _u(d["recordsBehind"])
    return out
