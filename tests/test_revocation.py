"""Revocation between real daemons on 127.0.0.1 with mutual TLS (issue 4.3, DESIGN §5).

A device is forgotten on one member while it holds an open channel, with a Pull stream it has
stopped reading, to another member. The forget record gossips; the other member refuses the
device, ends its open stream, closes its connections, and from then on the device can neither
pull from nor push to any member, while the rest of the mesh keeps converging."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import grpc

from meshd.security import tls
from meshd.v1 import peer_pb2, peer_pb2_grpc
from tests.meshkit import append_claude_lines, build_replica, vector
from tests.test_mesh_loopback import SYNC, converged, history, mesh, same, wait_for  # noqa: F401

DENIED = grpc.StatusCode.PERMISSION_DENIED


def _hello(device_id: str, epoch: int) -> peer_pb2.Hello:
    return peer_pb2.Hello(device_id=device_id, epoch=epoch, protocol_version=1)


def test_revoked_device_with_an_open_channel_is_cut_off(mesh, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    m = mesh("abc")
    history(m, "abc")
    build_replica(m.home("a"), 80_000, seed=3, tag="bulk")  # enough for a Pull that fills the windows
    a, b, c = m.start("a", "bc"), m.start("b", "ac"), m.start("c", "ab")
    ds = [a, b, c]
    wait_for(lambda: converged(ds, 3), 60, "3 daemons to converge")
    c_epoch = next(e for (o, e) in c.vector() if o == c.device_id)
    sec = tls.PeerSecurity.load(c.home, c.device_id)  # c's own certificate: what the revoked device holds

    async def attack() -> dict[str, object]:
        out: dict[str, object] = {}
        async with sec.channel(m.addr("a"), a.device_id) as ch:
            stub = peer_pb2_grpc.PeerServiceStub(ch)
            r = await stub.Handshake(peer_pb2.HandshakeRequest(hello=_hello(c.device_id, c_epoch)), timeout=5)
            out["before"] = r.hello.device_id
            stream = stub.Pull(peer_pb2.PullRequest(), timeout=120)  # everything, and then stop reading
            first = await stream.read()
            assert first is not grpc.aio.EOF and first.records
            assert ch.get_state() == grpc.ChannelConnectivity.READY
            t0 = time.monotonic()
            done = await asyncio.to_thread(b.meshctl, "forget", c.device_id, "--yes")
            assert done.returncode == 0
            # a learns the forget by gossip, ends the open stream and closes every connection
            while "serving again" not in "".join(a.lines):
                assert time.monotonic() - t0 < 20, "a did not act on the forget record"
                await asyncio.sleep(0.05)
            out["cut_after"] = time.monotonic() - t0
            try:
                while await asyncio.wait_for(stream.read(), 20) is not grpc.aio.EOF:
                    pass
                out["stream"] = "EOF"
            except grpc.aio.AioRpcError as e:
                out["stream"] = e.code()
                out["stream_details"] = e.details()
            state = ch.get_state()
            if state == grpc.ChannelConnectivity.READY:
                await asyncio.wait_for(ch.wait_for_state_change(state), 10)
            out["state_after"] = ch.get_state()
            # new calls on the same channel (it reconnects) are refused: no pull, no push
            for name, call in (
                ("handshake", stub.Handshake(peer_pb2.HandshakeRequest(hello=_hello(c.device_id, c_epoch)),
                                             timeout=5)),
                ("notify", stub.Notify(peer_pb2.NotifyRequest(hello=_hello(c.device_id, c_epoch)), timeout=5)),
            ):
                try:
                    await call
                    out[name] = grpc.StatusCode.OK
                except grpc.aio.AioRpcError as e:
                    out[name] = e.code()
                    out[name + "_details"] = e.details()
            try:
                out["pull"] = [x async for x in stub.Pull(peer_pb2.PullRequest(), timeout=5)]
            except grpc.aio.AioRpcError as e:
                out["pull"] = e.code()
        return out

    out = asyncio.run(attack())
    assert out["before"] == a.device_id
    assert out["stream"] in (DENIED, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED), out
    assert out["cut_after"] < 15, out
    assert out["state_after"] != grpc.ChannelConnectivity.READY, "the revoked device's connection stayed open"
    assert out["handshake"] == out["notify"] == out["pull"] == DENIED, out
    assert "removed from this mesh" in str(out["handshake_details"])
    assert "revocation: closed every peer connection" in "".join(a.lines)
    assert "refused" in "".join(a.lines)

    # The revoked daemon itself: what it writes now reaches nobody, and it gets nothing new.
    held_c = {d.name: d.vector().get((c.device_id, c_epoch), 0) for d in (a, b)}
    append_claude_lines(m.folder("c"), 5, seed=501, tag="after-revoke")
    append_claude_lines(m.folder("a"), 5, seed=502, tag="a-after-revoke")
    wait_for(lambda: converged([a, b]) and vector(a.home).get((a.device_id, next(
        e for (o, e) in a.vector() if o == a.device_id)), 0) > 0, 15, "a and b to converge without c")
    c.meshctl("sync", check=False)
    time.sleep(4 * SYNC)
    for d in (a, b):
        assert d.vector().get((c.device_id, c_epoch), 0) == held_c[d.name], f"{d.name} got c's new records"
    a_log = max((e for (o, e) in a.vector() if o == a.device_id))
    assert c.vector().get((a.device_id, a_log), 0) < a.vector()[(a.device_id, a_log)], "c pulled after revocation"
    p = c.meshctl("sync", "--json", check=False)
    assert p.returncode != 0, p.stdout  # every round of the revoked device fails ...
    res = json.loads(p.stdout)
    assert res["peers"] and not any(r["ok"] for r in res["peers"]), res
    assert all("PERMISSION_DENIED" in r["error"] or "forgotten" in r["error"] for r in res["peers"]), res
    wait_for(lambda: same(a.json("daily"), b.json("daily")), 15, "a and b to report the same totals")
    for d in (a, b):
        rows = json.loads(d.meshctl("devices", "--json").stdout)["devices"]
        assert [r["state"] for r in rows if r["deviceId"] == c.device_id] == ["forgotten"]
