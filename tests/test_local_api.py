"""The local gRPC API against real daemons on real Unix sockets (two meshed daemons on loopback).

- every report kind, with the CLI's filters, equals `meshctl <report> --json` (the `json` field
  byte for byte, and the typed rows' totals);
- devices, forget (the record is appended; devices shows it forgotten), health and reflection;
- hostile values in every request field get INVALID_ARGUMENT (NOT_FOUND for unknown devices) and
  the daemon keeps serving;
- the watch stream: new usage from this device and from a peer, block changes, other records,
  resuming from a cursor, and a watcher that never reads does not hold memory or stall the daemon.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from pathlib import Path

import grpc
import pytest

from meshd.v1 import local_pb2 as pb
from tests.apikit import line, recent, stub, two_daemons, write_lines
from tests.meshkit import Daemon, build_replica
from tests.test_mesh_loopback import converged, free_port, wait_for

TZ = "UTC"


@pytest.fixture(scope="module")
def pair(tmp_path_factory):  # type: ignore[no-untyped-def]
    m, a, b = two_daemons(tmp_path_factory.mktemp("api"))
    ch, s = stub(a.home)
    yield m, a, b, s
    ch.close()
    m.stop_all()


def _flt(args: dict) -> pb.ReportFilter:
    return pb.ReportFilter(**args)


def _cli_args(f: dict) -> list[str]:
    out = []
    for k, flag in (("since", "--since"), ("until", "--until"), ("timezone", "--timezone"), ("provider", "--provider")):
        if f.get(k):
            out += [flag, f[k]]
    if f.get("order"):
        out += ["--order", {pb.ORDER_ASC: "asc", pb.ORDER_DESC: "desc"}[f["order"]]]
    if f.get("mode"):
        out += ["--mode", {1: "auto", 2: "calculate", 3: "display"}[f["mode"]]]
    for d in f.get("devices", []):
        out += ["--device", d]
    return out


REPORTS = [
    ("daily", {}, {}),
    ("daily", {"since": "20260301", "until": "2026-03-31", "order": pb.ORDER_DESC}, {}),
    ("daily", {"timezone": "Asia/Kolkata", "mode": pb.COST_MODE_CALCULATE}, {}),
    ("daily", {"devices": ["beta"]}, {}),
    ("daily", {"provider": "claude"}, {"project": "-home-u-app"}),
    ("weekly", {"timezone": "America/New_York"}, {"start_of_week": "monday"}),
    ("monthly", {"mode": pb.COST_MODE_DISPLAY, "devices": ["alpha", "beta"]}, {}),
    ("session", {}, {}),
    ("session", {"since": "2026-03-01", "until": "2026-03-31"}, {"session_id": "live-a"}),
    ("projects", {}, {}),
    ("projects", {"order": pb.ORDER_ASC, "devices": ["beta"]}, {}),
    ("projects", {"timezone": "Pacific/Chatham"}, {"project": "-home-u-lib"}),
]


@pytest.mark.parametrize("kind,flt,extra", REPORTS, ids=[f"{k}-{i}" for i, (k, _f, _e) in enumerate(REPORTS)])
def test_report_equals_cli_json(pair, kind: str, flt: dict, extra: dict) -> None:
    _m, a, _b, s = pair
    flt = {"timezone": TZ, **flt}
    r = s.Report(pb.ReportRequest(kind=getattr(pb, f"REPORT_KIND_{kind.upper()}"), filter=_flt(flt),
                                  include_json=True, **extra), timeout=30)
    args = [kind, "--json", *_cli_args(flt)]
    if extra.get("project"):
        args += ["--project", extra["project"]]
    if extra.get("session_id"):
        args += ["--id", extra["session_id"]]
    if extra.get("start_of_week"):
        args += ["--start-of-week", extra["start_of_week"]]
    cli = a.meshctl(*args).stdout
    assert r.json == cli
    data = json.loads(cli)
    rows = data["sessions" if kind == "session" else kind]
    assert rows, f"{kind} {flt}: the fixture should produce rows"
    assert [x.total_tokens for x in r.rows] == [x["totalTokens"] for x in rows]
    assert [x.total_cost for x in r.rows] == [x["totalCost"] for x in rows]
    assert r.totals.total_tokens == data["totals"]["totalTokens"]
    assert r.totals.total_cost == data["totals"]["totalCost"]
    for x, d in zip(r.rows, rows):
        assert [m.model_name for m in x.model_breakdowns] == [m["modelName"] for m in d["modelBreakdowns"]]
        assert [(v.device, v.total_tokens) for v in x.devices] == \
            [(v["device"], v["totalTokens"]) for v in d["devices"]]
        assert list(x.models_used) == d["modelsUsed"]
    if kind == "projects":
        assert [x.key for x in r.rows] == [x["project"] for x in rows]
        assert [x.sessions for x in r.rows] == [x["sessions"] for x in rows]


def test_breakdown_and_by_device_off_omit_rows(pair) -> None:
    s = pair[3]
    full = s.Report(pb.ReportRequest(kind=pb.REPORT_KIND_DAILY, filter=pb.ReportFilter(timezone=TZ)))
    lean = s.Report(pb.ReportRequest(kind=pb.REPORT_KIND_DAILY, filter=pb.ReportFilter(timezone=TZ),
                                     breakdown=False, by_device=False))
    assert any(r.model_breakdowns for r in full.rows) and any(r.devices for r in full.rows)
    assert not any(r.model_breakdowns or r.devices for r in lean.rows)
    assert lean.totals == full.totals and not lean.json


def _no_clock(data: dict) -> dict:
    """Blocks minus what moves with the clock between two calls (projection, limit status)."""
    for b in data["blocks"]:
        assert ("projection" in b) and ("burnRate" in b)
        b.pop("projection")
        b.pop("tokenLimitStatus", None)
    return data


@pytest.mark.parametrize("req,args", [
    ({}, []),
    ({"recent": True}, ["--recent"]),
    ({"active": True}, ["--active"]),
    ({"token_limit_max": True}, ["--token-limit", "max"]),
    ({"token_limit": 0}, ["--token-limit", "0"]),
    ({"session_length_hours": 2.5, "filter": pb.ReportFilter(order=pb.ORDER_DESC, timezone=TZ)},
     ["--session-length", "2.5", "--order", "desc"]),
    ({"filter": pb.ReportFilter(devices=["beta"], since="20260320", timezone=TZ)},
     ["--device", "beta", "--since", "20260320"]),
])
def test_blocks_equal_cli_json(pair, req: dict, args: list[str]) -> None:
    _m, a, _b, s = pair
    req = {"filter": pb.ReportFilter(timezone=TZ), **req}
    r = s.Blocks(pb.BlocksRequest(include_json=True, **req), timeout=30)
    cli = json.loads(a.meshctl("blocks", "--json", "--timezone", TZ, *args).stdout)
    assert _no_clock(json.loads(r.json)) == _no_clock(cli)
    assert [b.id for b in r.blocks] == [b["id"] for b in cli["blocks"]]
    assert [b.total_tokens for b in r.blocks] == [b["totalTokens"] for b in cli["blocks"]]
    assert [b.cost_usd for b in r.blocks] == [b["costUSD"] for b in cli["blocks"]]
    active = [b for b in r.blocks if b.is_active]
    if "--device" not in args:
        assert len(active) == 1, "the fixture has an active block"
        assert {d.device for d in active[0].devices} == {"alpha", "beta"} and active[0].overlap
        assert active[0].HasField("burn_rate") and active[0].HasField("projection")
        if "--token-limit" in args:
            assert active[0].HasField("token_limit_status")


def test_devices_equal_cli(pair) -> None:
    _m, a, b, s = pair
    got = s.Devices(pb.DevicesRequest())
    cli = json.loads(a.meshctl("devices", "--json").stdout)
    assert cli["daemon"]
    assert [(d.device_id, d.name, d.state, d.records, d.self) for d in got.devices] == \
        [(d["deviceId"], d["name"], d["state"], d["records"], d["self"]) for d in cli["devices"]]
    by_id = {d.device_id: d for d in got.devices}
    assert by_id[a.device_id].state == "self" and by_id[b.device_id].state == "online"
    assert by_id[b.device_id].HasField("records_behind") and by_id[b.device_id].address


def test_health_and_reflection_on_the_socket(pair) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    from meshd.config import socket_path

    a = pair[1]
    with grpc.insecure_channel(f"unix://{socket_path(a.home)}") as ch:
        h = health_pb2_grpc.HealthStub(ch)
        for svc in ("", "meshd.v1.LocalService"):
            assert h.Check(health_pb2.HealthCheckRequest(service=svc)).status == health_pb2.HealthCheckResponse.SERVING
        refl = reflection_pb2_grpc.ServerReflectionStub(ch)
        resp = list(refl.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
        names = {s.name for s in resp[0].list_services_response.service}
        assert {"meshd.v1.LocalService", "grpc.health.v1.Health"} <= names
    mode = os.stat(socket_path(a.home).parent).st_mode & 0o777
    assert mode == 0o700


# -- hostile input ----------------------------------------------------------------------------------

BIG = "x" * 1_000_000
INVALID = grpc.StatusCode.INVALID_ARGUMENT
R, F = pb.ReportRequest, pb.ReportFilter

HOSTILE = [
    ("Report", R(), INVALID),
    ("Report", R(kind=99), INVALID),
    ("Report", R(kind=1, filter=F(timezone="Nope/Zone")), INVALID),
    ("Report", R(kind=1, filter=F(timezone=BIG)), INVALID),
    ("Report", R(kind=1, filter=F(timezone="UTC\x00")), INVALID),
    ("Report", R(kind=1, filter=F(timezone="../../etc/passwd")), INVALID),
    ("Report", R(kind=1, filter=F(since="2026-13-45")), INVALID),
    ("Report", R(kind=1, filter=F(since="yesterday")), INVALID),
    ("Report", R(kind=1, filter=F(until="20260230")), INVALID),
    ("Report", R(kind=1, filter=F(since="9" * 100_000)), INVALID),
    ("Report", R(kind=1, filter=F(order=7)), INVALID),
    ("Report", R(kind=1, filter=F(mode=-1)), INVALID),
    ("Report", R(kind=1, filter=F(provider="gpt")), INVALID),
    ("Report", R(kind=1, filter=F(provider=BIG)), INVALID),
    ("Report", R(kind=1, filter=F(devices=["nobody"])), grpc.StatusCode.NOT_FOUND),
    ("Report", R(kind=1, filter=F(devices=[""])), INVALID),
    ("Report", R(kind=1, filter=F(devices=["alpha"] * 1000)), INVALID),
    ("Report", R(kind=1, filter=F(devices=[BIG])), INVALID),
    ("Report", R(kind=1, project=BIG), INVALID),
    ("Report", R(kind=1, project="a\nb"), INVALID),
    ("Report", R(kind=1, session_id="s"), INVALID),
    ("Report", R(kind=4, session_id=BIG), INVALID),
    ("Report", R(kind=2, start_of_week="funday"), INVALID),
    ("Report", R(kind=1, start_of_week="monday"), INVALID),
    ("Blocks", pb.BlocksRequest(session_length_hours=-1), INVALID),
    ("Blocks", pb.BlocksRequest(session_length_hours=math.nan), INVALID),
    ("Blocks", pb.BlocksRequest(session_length_hours=math.inf), INVALID),
    ("Blocks", pb.BlocksRequest(session_length_hours=1e9), INVALID),
    ("Blocks", pb.BlocksRequest(token_limit=-5), INVALID),
    ("Blocks", pb.BlocksRequest(token_limit=2**63 - 1), INVALID),
    ("Blocks", pb.BlocksRequest(token_limit=10, token_limit_max=True), INVALID),
    ("Blocks", pb.BlocksRequest(filter=F(provider="codex")), INVALID),
    ("Blocks", pb.BlocksRequest(filter=F(since="2026-02-30")), INVALID),
    ("Forget", pb.ForgetRequest(), INVALID),
    ("Forget", pb.ForgetRequest(device_id="xyz"), INVALID),
    ("Forget", pb.ForgetRequest(device_id="A" * 32), INVALID),
    ("Forget", pb.ForgetRequest(device_id=BIG), INVALID),
    ("Forget", pb.ForgetRequest(device_id="a" * 32, device="beta"), INVALID),
    ("Forget", pb.ForgetRequest(device="nobody"), grpc.StatusCode.NOT_FOUND),
    ("Forget", pb.ForgetRequest(device=BIG), INVALID),
    ("Forget", pb.ForgetRequest(device="alpha"), INVALID),  # this device itself
    ("SyncNow", pb.SyncNowRequest(peer=BIG), INVALID),
    ("Watch", pb.WatchRequest(topics=[99]), INVALID),
    ("Watch", pb.WatchRequest(after=[pb.LogPosition(origin="zz", epoch=1, seq=1)]), INVALID),
    ("Watch", pb.WatchRequest(after=[pb.LogPosition(origin="a" * 32, seq=1)], from_start=True), INVALID),
    ("Watch", pb.WatchRequest(provider="nope"), INVALID),
    ("Watch", pb.WatchRequest(session_length_hours=-3), INVALID),
    ("Watch", pb.WatchRequest(session_length_hours=math.nan, topics=[pb.WATCH_TOPIC_USAGE]), INVALID),
    ("Watch", pb.WatchRequest(after=[pb.LogPosition(origin=f"{i:032x}", epoch=1, seq=1) for i in range(10_001)]),
     INVALID),
    ("Watch", pb.WatchRequest(after=[pb.LogPosition(origin="a" * 32 + "\x00", epoch=1, seq=1)]), INVALID),
    ("Watch", pb.WatchRequest(mode=42), INVALID),
    ("Watch", pb.WatchRequest(devices=["nobody"]), grpc.StatusCode.NOT_FOUND),
    ("Watch", pb.WatchRequest(devices=[BIG]), INVALID),
    ("Watch", pb.WatchRequest(provider="codex", topics=[pb.WATCH_TOPIC_BLOCKS]), INVALID),
]


@pytest.mark.parametrize("method,req,code", HOSTILE, ids=[f"{m}-{i}" for i, (m, _r, _c) in enumerate(HOSTILE)])
def test_hostile_fields_get_a_clear_status(pair, method: str, req, code) -> None:  # type: ignore[no-untyped-def]
    s = pair[3]
    with pytest.raises(grpc.RpcError) as ei:
        got = getattr(s, method)(req, timeout=20)
        if method == "Watch":
            next(got)
    assert ei.value.code() == code, ei.value.details()
    details = ei.value.details()
    assert details and "\n" not in details and len(details) < 400 and "Traceback" not in details
    assert s.Status(pb.StatusRequest(), timeout=5).device_id == pair[1].device_id


def test_too_many_watchers_are_refused(pair) -> None:
    s = pair[3]
    streams = []
    try:
        for _ in range(64):
            st = s.Watch(pb.WatchRequest(topics=[pb.WATCH_TOPIC_USAGE]))
            assert next(st).HasField("started")
            streams.append(st)
        with pytest.raises(grpc.RpcError) as ei:
            next(s.Watch(pb.WatchRequest()))
        assert ei.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        for st in streams:
            st.cancel()
    wait_for(lambda: _watch_ok(s), 10, "a watch to be accepted again once the others are gone", 0.2)


def _watch_ok(s) -> bool:  # type: ignore[no-untyped-def]
    st = s.Watch(pb.WatchRequest())
    try:
        return next(st).HasField("started")
    except grpc.RpcError:
        return False
    finally:
        st.cancel()


# -- watch ------------------------------------------------------------------------------------------


class Reader:
    """Reads a watch stream on a thread into a list."""

    def __init__(self, call) -> None:  # type: ignore[no-untyped-def]
        self.call = call
        self.events: list[pb.WatchResponse] = []
        self.error: Exception | None = None
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self) -> None:
        try:
            for ev in self.call:
                self.events.append(ev)
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:
                self.error = e

    def of(self, kind: str) -> list:  # type: ignore[type-arg]
        return [getattr(e, kind) for e in self.events if e.WhichOneof("event") == kind]

    def close(self) -> None:
        self.call.cancel()
        self.t.join(5)


def test_watch_streams_usage_blocks_and_records(pair) -> None:
    m, a, b, s = pair
    rd = Reader(s.Watch(pb.WatchRequest(topics=[pb.WATCH_TOPIC_USAGE, pb.WATCH_TOPIC_BLOCKS, pb.WATCH_TOPIC_RECORDS],
                                        mode=pb.COST_MODE_CALCULATE)))
    try:
        wait_for(lambda: rd.of("started"), 10, "the started message")
        started = rd.of("started")[0]
        assert started.device_id == a.device_id
        assert {(p.origin, p.epoch, p.seq) for p in started.vector} == {(o, e, q) for (o, e), q in a.vector().items()}
        cli_active = json.loads(a.meshctl("blocks", "--active", "--json").stdout)["blocks"]
        assert started.HasField("active_block") and started.active_block.id == cli_active[0]["id"]

        now = int(time.time() * 1000)
        write_lines(m.folder("a"), "-home-u-app", "s-live", [line(now - 2000 + i, "s-live", f"m-live-{i}", inp=7 + i)
                                                              for i in range(3)])
        write_lines(m.folder("b"), "-home-u-lib", "s-live-b", [line(now - 1000, "s-live-b", "m-live-b", inp=99)])
        wait_for(lambda: len(rd.of("usage")) >= 4, 20, "4 usage events (3 from alpha, 1 relayed from beta)")
        us = rd.of("usage")
        mine = [u for u in us if u.position.origin == a.device_id]
        assert [u.input_tokens for u in mine] == [7, 8, 9] and all(u.device == "alpha" for u in mine)
        assert [u.position.seq for u in mine] == list(range(mine[0].position.seq, mine[0].position.seq + 3))
        theirs = [u for u in us if u.position.origin == b.device_id]
        assert [(u.input_tokens, u.device, u.project) for u in theirs] == [(99, "beta", "-home-u-lib")]
        assert all(u.cost > 0 and u.total_tokens == u.input_tokens + 200 + 300 + 5000 for u in us)
        assert all(u.timestamp.endswith("Z") and u.message_id for u in us)

        def block_caught_up() -> bool:
            bl = rd.of("block")
            cli = json.loads(a.meshctl("blocks", "--active", "--json").stdout)["blocks"]
            return bool(bl) and bool(cli) and bl[-1].block.total_tokens == cli[0]["totalTokens"]

        wait_for(block_caught_up, 20, "a block event whose totals equal `blocks --active --json`", 0.3)
        assert rd.of("block")[-1].change == pb.BLOCK_CHANGE_UPDATED

        # a record of another kind: beta announces itself again under a new name (device record)
        b.stop()
        (m.home("b") / "config.toml").write_text('sync_interval = 1.0\ndevice_name = "beta2"\n')
        m.start("b", "a")
        wait_for(lambda: any(r.kind == "device" and "beta2" in r.body_json for r in rd.of("record")), 30,
                 "the device record from beta")
        assert rd.error is None
    finally:
        rd.close()
        b.stop()
        (m.home("b") / "config.toml").write_text('sync_interval = 1.0\ndevice_name = "beta"\n')
        m.start("b", "a")
        wait_for(lambda: converged([a, b], 2), 20, "convergence again")


def test_watch_resumes_from_a_cursor_and_filters_devices(pair) -> None:
    m, a, b, s = pair
    first = s.Watch(pb.WatchRequest())
    started = next(first).started
    first.cancel()
    now = int(time.time() * 1000)
    write_lines(m.folder("a"), "-home-u-app", "s-resume", [line(now - 500, "s-resume", "m-resume-a", inp=11)])
    write_lines(m.folder("b"), "-home-u-lib", "s-resume-b", [line(now - 400, "s-resume-b", "m-resume-b", inp=12)])
    wait_for(lambda: converged([a, b], 2) and sum(a.vector().values()) > sum(p.seq for p in started.vector), 20,
             "both new lines on alpha")
    rd = Reader(s.Watch(pb.WatchRequest(after=started.vector, topics=[pb.WATCH_TOPIC_USAGE])))
    only_b = Reader(s.Watch(pb.WatchRequest(after=started.vector, topics=[pb.WATCH_TOPIC_USAGE], devices=["beta"])))
    try:
        wait_for(lambda: {u.message_id for u in rd.of("usage")} >= {"m-resume-a", "m-resume-b"}, 15,
                 "the records after the cursor")
        wait_for(lambda: only_b.of("usage"), 15, "beta's record")
        time.sleep(0.5)
        assert {u.device for u in only_b.of("usage")} == {"beta"}
        # a cursor from before everything: every record again, from seq 1 of every log
        full = Reader(s.Watch(pb.WatchRequest(from_start=True, topics=[pb.WATCH_TOPIC_USAGE])))
        try:
            n_usage = json.loads(a.meshctl("status", "--json").stdout)["records"]
            wait_for(lambda: len(full.of("usage")) >= 60, 20, "the history replayed")
            assert len(full.of("usage")) <= n_usage
        finally:
            full.close()
    finally:
        rd.close()
        only_b.close()


def test_forget_appends_the_record_and_is_idempotent(tmp_path: Path) -> None:
    home, claude = tmp_path / "home", tmp_path / "claude"
    recent(claude, "x", 3, "-home-u-x")
    from tests.meshkit import provision

    provision([home])
    other, _ep = build_replica(tmp_path / "other", 10, tag="o")
    d = Daemon("solo", home, [claude], f"127.0.0.1:{free_port()}", mdns=False, sync_interval=1.0).start()
    ch, s = stub(home)
    try:
        rd = Reader(s.Watch(pb.WatchRequest(topics=[pb.WATCH_TOPIC_RECORDS])))
        wait_for(lambda: rd.of("started"), 10, "started")
        r = s.Forget(pb.ForgetRequest(device_id=other, purge=False))
        assert r.appended and r.device_id == other
        again = s.Forget(pb.ForgetRequest(device_id=other))
        assert not again.appended
        up = s.Forget(pb.ForgetRequest(device_id=other, purge=True))
        assert up.appended  # hide -> purge is an upgrade
        wait_for(lambda: len([x for x in rd.of("record") if x.kind == "forget"]) == 2, 10, "2 forget records")
        bodies = [json.loads(x.body_json) for x in rd.of("record") if x.kind == "forget"]
        assert [(x["device_id"], x["purge"]) for x in bodies] == [(other, False), (other, True)]
        devs = {x.device_id: x for x in s.Devices(pb.DevicesRequest()).devices}
        assert devs[other].forgotten and devs[other].state == "forgotten"
        # what meshctl sees: the same tombstone
        out = json.loads(d.meshctl("devices", "--json").stdout)
        assert {x["deviceId"]: x["forgotten"] for x in out["devices"]}[other] is True
        rd.close()
    finally:
        ch.close()
        d.stop()


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return 0


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc for the daemon's memory")
def test_a_watcher_that_never_reads_holds_no_memory_and_stalls_nothing(tmp_path: Path) -> None:
    """100k records arrive while one watcher reads nothing: the daemon's memory stays flat, other
    calls and watchers are served at once, and the slow watcher later gets every record in order."""
    from tests.meshkit import provision, synthetic_entries

    home, claude = tmp_path / "home", tmp_path / "claude"
    (claude / "projects").mkdir(parents=True)
    provision([home])
    d = Daemon("slow", home, [claude], f"127.0.0.1:{free_port()}", mdns=False, sync_interval=1.0).start()
    ch, s = stub(home)
    try:
        slow = s.Watch(pb.WatchRequest(topics=[pb.WATCH_TOPIC_USAGE]))
        assert next(slow).HasField("started")  # then never read until the end
        fast = Reader(s.Watch(pb.WatchRequest(topics=[pb.WATCH_TOPIC_USAGE])))
        wait_for(lambda: fast.of("started"), 10, "the fast watcher")
        assert d.proc is not None
        rss0 = _rss_kb(d.proc.pid)
        from meshd.app import open_replica
        from meshd.store.replica import transaction

        rep = open_replica(home=home)
        n = 100_000
        it = synthetic_entries(n, seed=9, tag="slow")
        for _ in range(n // 20_000):
            with transaction(rep.conn):
                rep.append_usage([next(it) for _ in range(20_000)])
        rep.conn.close()
        wait_for(lambda: len(fast.of("usage")) >= n, 120, "the fast watcher to get every record", 0.2)
        t0 = time.monotonic()
        assert s.Status(pb.StatusRequest(), timeout=5).records >= n
        assert time.monotonic() - t0 < 1.0
        time.sleep(1.0)
        grown = _rss_kb(d.proc.pid) - rss0
        print(f"daemon RSS {rss0} kB -> +{grown} kB with a stalled watcher 100k records behind")
        assert grown < 40_000, f"the daemon grew by {grown} kB while a watcher did not read"
        got, seqs = 0, []
        deadline = time.monotonic() + 120
        for ev in slow:
            if ev.WhichOneof("event") == "usage":
                got += 1
                seqs.append(ev.usage.position.seq)
                if got == n:
                    break
            assert time.monotonic() < deadline
        assert seqs == sorted(seqs) and len(set(seqs)) == n
        slow.cancel()
        fast.close()
    finally:
        ch.close()
        d.stop()


# -- pure parts of the watch stream -------------------------------------------------------------------


def _blk(bid: str, tokens: int, remaining: int = 100) -> dict:
    return {"id": bid, "startTime": bid, "endTime": "2026-03-20T15:00:00.000Z", "actualEndTime": bid, "isActive": True,
            "isGap": False, "entries": tokens // 10, "tokenCounts": {}, "totalTokens": tokens, "costUSD": tokens / 1e4,
            "models": ["m"], "devices": [], "overlap": False,
            "burnRate": {"tokensPerMinute": 1.0, "tokensPerMinuteForIndicator": 1.0, "costPerHour": 1.0},
            "projection": {"totalTokens": tokens * 2, "totalCost": 1.0, "remainingMinutes": remaining}}


def test_block_events_start_update_end() -> None:
    from meshd.rpc.watch import block_deadline_ms, block_events

    a1, a2, b1 = _blk("2026-03-20T10:00:00.000Z", 100), _blk("2026-03-20T10:00:00.000Z", 250), \
        _blk("2026-03-20T16:00:00.000Z", 10)
    assert block_events(None, None) == []
    assert [e.block.change for e in block_events(None, a1)] == [pb.BLOCK_CHANGE_STARTED]
    assert [e.block.change for e in block_events(a1, a2)] == [pb.BLOCK_CHANGE_UPDATED]
    assert block_events(a1, _blk("2026-03-20T10:00:00.000Z", 100, remaining=42)) == []  # the clock alone
    ended = block_events(a2, None)
    assert [e.block.change for e in ended] == [pb.BLOCK_CHANGE_ENDED]
    assert not ended[0].block.block.is_active and not ended[0].block.block.HasField("projection")
    assert ended[0].block.block.total_tokens == 250
    assert [e.block.change for e in block_events(a2, b1)] == [pb.BLOCK_CHANGE_ENDED, pb.BLOCK_CHANGE_STARTED]
    assert block_deadline_ms(a1) == 1774018800000 and block_deadline_ms(None) is None


def test_read_log_cursor(tmp_path: Path) -> None:
    """read_log: each log in seq order from the cursor, unknown logs from seq 1, at most `limit`."""
    import sqlite3

    from meshd import query

    dev, ep = build_replica(tmp_path / "h", 700, tag="c")
    conn = sqlite3.connect(f"file:{tmp_path / 'h' / 'meshd.db'}?mode=ro", uri=True)
    held = query.vector(conn)
    cur: dict = {(dev, ep): 600}
    got = query.read_log(conn, cur, 50)
    assert [r[2] for r in got] == list(range(601, 651)) and cur[(dev, ep)] == 650
    rest = query.read_log(conn, cur, 10_000)
    assert rest[-1][2] == held[(dev, ep)] and query.read_log(conn, cur, 10) == []
    fresh: dict = {}
    everything = query.read_log(conn, fresh, 10_000)
    assert len(everything) == sum(held.values()) and {r[3] for r in everything} >= {"usage"}
