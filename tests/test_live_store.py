"""The live view's replica reads (meshd/store/live.py) on real SQLite replicas."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from meshd.app import open_replica
from meshd.core.entry import UsageEntry
from meshd.store.live import data_version, local_midnight_ms, read_snapshot
from meshd.store.replica import transaction

H = 3_600_000
NOW = int(datetime(2026, 3, 20, 13, 40, tzinfo=timezone.utc).timestamp() * 1000)


def entry(ts: int, i: int, tag: str, tokens: int = 1000) -> UsageEntry:
    return UsageEntry(ts, "claude", "claude-sonnet-4-5", "s", "p", tokens, tokens // 2,
                      message_id=f"m-{tag}-{i}", request_id=f"r-{tag}-{i}")


def make(tmp: Path, name: str):  # type: ignore[no-untyped-def]
    home = tmp / name
    home.mkdir()
    (home / "config.toml").write_text(f'device_name = "{name}"\n')
    return open_replica(home=home)


def copy_logs(src, dst) -> None:  # type: ignore[no-untyped-def]
    with transaction(dst.conn):
        for origin, epoch in src.vector():
            after = dst.held(origin, epoch)
            while (b := src.read_after(origin, epoch, after)) is not None:
                dst.apply_batch(b)
                after = b.last_seq


def test_snapshot_of_a_two_device_replica(tmp_path: Path) -> None:
    me, other = make(tmp_path, "lap"), make(tmp_path, "desk")
    with transaction(me.conn):  # yesterday (not today), then in the active block
        me.append_usage([entry(NOW - 20 * H, 0, "old")] + [entry(NOW - 3 * H + i * 60_000, i, "me") for i in range(10)])
    with transaction(other.conn):
        other.append_usage(entry(NOW - 2 * H + i * 60_000, i, "o", 3000) for i in range(5))
    copy_logs(other, me)
    v0 = data_version(me.conn)
    s = read_snapshot(me.conn, device_id=me.device_id, now_ms=NOW, tz=timezone.utc)
    assert s.device_name == "lap" and s.devices == 2
    assert s.block is not None and s.split is not None
    assert s.block.start_ms == NOW - 3 * H - 40 * 60_000  # 10:00 UTC: the first entry's hour
    assert s.block.entries == 15 and {d.name for d in s.block.devices} == {"lap", "desk"}
    assert s.split.local.tokens == 10 * 1500 and s.split.remote.tokens == 5 * 4500 and s.split.remote_hosts == 1
    assert s.today_local.tokens == 10 * 1500 and s.today_remote.tokens == 5 * 4500  # yesterday's entry left out
    assert s.today == "2026-03-20"
    assert s.block.cost_per_hour is not None and s.today_total.cost > 0
    # another connection's commit moves data_version (what the view polls)
    copy_more = make(tmp_path, "vm")
    with transaction(copy_more.conn):
        copy_more.append_usage([entry(NOW - 60_000, 0, "vm")])
    other_conn = open_replica(home=tmp_path / "lap")
    copy_logs(copy_more, other_conn)
    assert data_version(me.conn) != v0
    s2 = read_snapshot(me.conn, device_id=me.device_id, now_ms=NOW, tz=timezone.utc)
    assert s2.split is not None and s2.split.remote_hosts == 2 and s2.devices == 3


def test_snapshot_of_an_empty_replica(tmp_path: Path) -> None:
    me = make(tmp_path, "lap")
    s = read_snapshot(me.conn, device_id=me.device_id, now_ms=NOW, tz=timezone.utc)
    assert s.block is None and s.split is None and s.today_total.tokens == 0 and s.devices == 1


def test_today_follows_the_zone(tmp_path: Path) -> None:
    me = make(tmp_path, "lap")
    with transaction(me.conn):  # 13:40 UTC is already the next day in Tokyo (22:40)... and 23:30 UTC too
        me.append_usage([entry(NOW - 14 * H, 0, "a"), entry(NOW - 2 * H, 1, "b")])
    tokyo = ZoneInfo("Asia/Tokyo")
    assert local_midnight_ms(NOW, tokyo) == int(datetime(2026, 3, 20, tzinfo=tokyo).timestamp() * 1000)
    utc = read_snapshot(me.conn, device_id=me.device_id, now_ms=NOW, tz=timezone.utc)
    jp = read_snapshot(me.conn, device_id=me.device_id, now_ms=NOW, tz=tokyo)
    assert utc.today_local.tokens == 1500  # 23:40 the day before is yesterday in UTC
    assert jp.today_local.tokens == 3000  # 08:40 and 20:40 in Tokyo: both today


@pytest.mark.parametrize("mode", ["auto", "calculate", "display"])
def test_cost_modes(tmp_path: Path, mode: str) -> None:
    me = make(tmp_path, "lap")
    with transaction(me.conn):
        me.append_usage([UsageEntry(NOW - 60_000, "claude", "claude-sonnet-4-5", "s", "p", 1000, 10, cost_usd=7.0,
                                    message_id="m", request_id="r")])
    s = read_snapshot(me.conn, device_id=me.device_id, now_ms=NOW, tz=timezone.utc, mode=mode)
    want = {"auto": 7.0, "display": 7.0}.get(mode)
    if want is None:
        assert 0 < s.today_local.cost < 1
    else:
        assert s.today_local.cost == pytest.approx(want)


def _limits_module():  # type: ignore[no-untyped-def]
    from meshd.core import ratelimit
    from meshd.store import limits

    return ratelimit, limits


def test_freshest_official_reading_from_another_device(tmp_path: Path) -> None:
    ratelimit, limits = _limits_module()
    me, other = make(tmp_path, "lap"), make(tmp_path, "desk")
    reset5 = (NOW + 2 * H) // 1000
    with transaction(me.conn):
        limits.record_reading(me, ratelimit.Observation(NOW - 600_000, "statusline", (
            ratelimit.Window("five_hour", 20.0, reset5), ratelimit.Window("seven_day", 40.0, None))))
    with transaction(other.conn):
        limits.record_reading(other, ratelimit.Observation(NOW - 60_000, "statusline", (
            ratelimit.Window("five_hour", 35.5, reset5),)))
    copy_logs(other, me)
    s = read_snapshot(me.conn, device_id=me.device_id, now_ms=NOW, tz=timezone.utc)
    assert s.limits is not None
    got = {r.window: r for r in s.limits}
    assert got["5h"].used_pct == 35.5 and got["5h"].device == "desk" and got["5h"].recorded_ms == NOW - 60_000
    assert got["5h"].resets_at_ms == reset5 * 1000
    assert got["7d"].used_pct == 40.0 and got["7d"].device == "lap"


def test_no_reading_yet(tmp_path: Path) -> None:
    _limits_module()
    me = make(tmp_path, "lap")
    assert read_snapshot(me.conn, device_id=me.device_id, now_ms=NOW, tz=timezone.utc).limits == ()


def test_plan_and_month_cost(tmp_path: Path) -> None:
    from meshd.store import settings

    me = make(tmp_path, "lap")
    s = read_snapshot(me.conn, device_id=me.device_id, now_ms=NOW, tz=timezone.utc)
    assert s.plan_known and s.plan is None
    month_start = int(datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp() * 1000)
    with transaction(me.conn):
        me.append_usage([UsageEntry(month_start - 1, "claude", "m", "s", "p", 1, 1, cost_usd=50.0, message_id="a",
                                    request_id="a"),
                         UsageEntry(month_start, "claude", "m", "s", "p", 1, 1, cost_usd=30.0, message_id="b",
                                    request_id="b"),
                         UsageEntry(NOW - H, "claude", "m", "s", "p", 1, 1, cost_usd=120.0, message_id="c",
                                    request_id="c")])
        settings.put(me, "plan", "max5x", NOW)
    s = read_snapshot(me.conn, device_id=me.device_id, now_ms=NOW, tz=timezone.utc)
    assert s.plan is not None and s.plan.name == "max5x" and s.plan.price_usd == 100.0
    assert s.month_cost == pytest.approx(150.0)  # February's entry left out


def test_feed_rereads_only_when_another_connection_commits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from meshctl import live_cmd
    from meshd.config import load_config

    claude = tmp_path / "claude"
    (claude / "projects").mkdir(parents=True)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(claude))
    me = make(tmp_path, "lap")
    feed = live_cmd.Feed(load_config(tmp_path / "lap"), me, timezone.utc, "auto", 5.0)
    now = int(datetime.now(timezone.utc).timestamp() * 1000)
    assert feed.tick(now, force=True) and feed.snapshot is not None and feed.snapshot.block is None
    assert feed.snapshot.feed == "poll" and not feed.snapshot.daemon  # no daemon for this home
    assert not feed.tick(now)  # nothing changed: no re-read
    writer = open_replica(home=tmp_path / "lap")
    with transaction(writer.conn):
        writer.append_usage([entry(now - 1000, 0, "w")])
    assert feed.tick(now)
    assert feed.snapshot.block is not None and feed.snapshot.block.entries == 1
    assert not feed.tick(now)
