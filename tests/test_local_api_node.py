"""An independent client drives the local API: Node's @grpc/grpc-js with @grpc/proto-loader loading
proto/meshd/v1/local.proto (tests/node/local_api_client.js; no meshd Python code on its side).

It calls every RPC against two real meshed daemons, health and reflection included, follows the
watch stream until a line appended to a Claude log shows up, and reports what it saw; we check it
against `meshctl ... --json`. The npm packages are installed into a cache folder
($MESHD_TEST_NODE_PREFIX, default ~/.cache/meshd-tests/node-<hash of tests/node/package.json>).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.apikit import line, two_daemons, write_lines

ROOT = Path(__file__).resolve().parents[1]
NODE_DIR = ROOT / "tests" / "node"
PACKAGES = ("@grpc/grpc-js", "@grpc/proto-loader", "@grpc/reflection", "grpc-health-check", "@bufbuild/buf")


def _node_modules() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are needed for the Node client test")
    spec = (NODE_DIR / "package.json").read_bytes()
    prefix = Path(os.environ.get("MESHD_TEST_NODE_PREFIX") or
                  Path.home() / ".cache" / "meshd-tests" / f"node-{hashlib.sha256(spec).hexdigest()[:12]}")
    mods = prefix / "node_modules"
    if all((mods / p / "package.json").exists() for p in PACKAGES):
        return mods
    try:
        prefix.mkdir(parents=True, exist_ok=True)
        (prefix / "package.json").write_bytes(spec)
    except OSError as e:
        pytest.skip(f"no writable cache folder for the npm packages ({e}); set MESHD_TEST_NODE_PREFIX")
    try:
        p = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(prefix)],
                           capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.skip("npm install timed out (registry unreachable?)")
    if p.returncode != 0 or not all((mods / q / "package.json").exists() for q in PACKAGES):
        pytest.skip(f"npm could not install the gRPC packages: {p.stderr.strip()[-300:]}")
    return mods


def test_local_proto_passes_buf_lint() -> None:
    """The local API is named as `buf lint` (default rules) accepts."""
    buf = _node_modules() / ".bin" / "buf"
    if not buf.exists():
        pytest.skip("the @bufbuild/buf package has no binary for this platform")
    p = subprocess.run([str(buf), "lint", "--path", "meshd/v1/local.proto"], cwd=ROOT / "proto",
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr


def test_node_client_calls_every_rpc_and_watches(tmp_path: Path) -> None:
    mods = _node_modules()
    from meshd.config import socket_path

    m, a, b = two_daemons(tmp_path)
    try:
        cli = {k: json.loads(a.meshctl(k, "--json", "--timezone", "UTC").stdout)
               for k in ("daily", "weekly", "monthly", "session", "projects")}
        weekly_beta = a.meshctl("weekly", "--json", "--start-of-week", "monday", "--timezone", "America/New_York",
                                "--order", "desc", "--mode", "calculate", "--device", "beta").stdout
        blocks = json.loads(a.meshctl("blocks", "--json", "--timezone", "UTC", "--token-limit", "max").stdout)
        devices = json.loads(a.meshctl("devices", "--json").stdout)["devices"]

        env = dict(os.environ, NODE_PATH=str(mods))
        proc = subprocess.Popen(["node", str(NODE_DIR / "local_api_client.js"), str(socket_path(a.home)),
                                 str(ROOT / "proto"), "m-node-watch"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: list[str] = []
        watching = threading.Event()

        def pump() -> None:
            assert proc.stdout is not None
            for ln in proc.stdout:
                lines.append(ln)
                if ln.strip() == "WATCHING":
                    watching.set()

        t = threading.Thread(target=pump, daemon=True)
        t.start()
        if not watching.wait(120):
            pytest.fail(f"the node client never started watching: {proc.stderr.read() if proc.poll() is not None else ''}")
        write_lines(m.folder("a"), "-home-u-app", "s-node",
                    [line(int(time.time() * 1000) - 500, "s-node", "m-node-watch", inp=4242)])
        rc = proc.wait(120)
        t.join(10)
        err = proc.stderr.read() if proc.stderr else ""
        assert rc == 0, err
        res = json.loads(next(x for x in lines if x.startswith("RESULT "))[7:])

        assert res["health"] == {"(server)": "SERVING", "meshd.v1.LocalService": "SERVING"}
        assert {"meshd.v1.LocalService", "grpc.health.v1.Health"} <= set(res["services"])
        assert res["status"]["device_id"] == a.device_id and res["status"]["peers"] >= 1
        assert sorted((d["device_id"], d["name"], int(d["records"])) for d in res["devices"]) == \
            sorted((d["deviceId"], d["name"], d["records"]) for d in devices)

        for kind, got in res["reports"].items():
            want = cli[kind]
            rows = want["sessions" if kind == "session" else kind]
            key = {"daily": "date", "weekly": "week", "monthly": "month", "session": "sessionId",
                   "projects": "project"}[kind]
            assert got["keys"] == [r[key] for r in rows], kind
            assert [int(x) for x in got["row_tokens"]] == [r["totalTokens"] for r in rows], kind
            assert int(got["totals"]["total_tokens"]) == want["totals"]["totalTokens"], kind
            assert got["totals"]["total_cost"] == want["totals"]["totalCost"], kind
        assert res["weekly_json"] == weekly_beta

        assert [(x["id"], int(x["total_tokens"]), x["cost_usd"]) for x in res["blocks"]] == \
            [(x["id"], x["totalTokens"], x["costUSD"]) for x in blocks["blocks"]]
        active = [x for x in res["blocks"] if x["is_active"]]
        assert len(active) == 1 and sorted(active[0]["devices"]) == ["alpha", "beta"]

        assert [(s["device_id"], s["ok"]) for s in res["sync"]] == [(b.device_id, True)]

        e = res["errors"]
        for name in ("bad_timezone", "negative_limit", "huge_project", "forget_bad_id"):
            assert e[name]["code"] == 3, (name, e[name])  # INVALID_ARGUMENT
            assert e[name]["details"] and "\n" not in e[name]["details"]
        assert e["unknown_device"]["code"] == 5  # NOT_FOUND
        assert res["forget"]["appended"] is True and res["forget"]["device_id"] == "f" * 32
        assert res["forget_again"]["appended"] is False

        w = res["watch"]
        assert w["vector"] == 2
        assert w["usage"]["message_id"] == "m-node-watch" and int(w["usage"]["input_tokens"]) == 4242
        assert w["usage"]["device"] == "alpha" and w["usage"]["position"]["origin"] == a.device_id
        now_active = json.loads(a.meshctl("blocks", "--active", "--json").stdout)["blocks"][0]
        assert w["blocks"][-1]["change"] == "BLOCK_CHANGE_UPDATED"
        assert int(w["blocks"][-1]["total_tokens"]) == now_active["totalTokens"]
    finally:
        m.stop_all()
