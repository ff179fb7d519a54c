"""The local API over TCP: off unless asked for, and then mutual TLS with mesh certificates only.

Issue 4.4: a member's certificate may call it; a plaintext client, a client from another mesh and
a revoked member are refused; a daemon without a mesh refuses to serve it at all."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from meshd.security import tls
from meshd.security.testing import foreign_material, make_mesh
from meshd.v1 import local_pb2, local_pb2_grpc
from tests.meshkit import Daemon, append_claude_lines


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _channel(api: str, material=None) -> grpc.Channel:  # type: ignore[no-untyped-def]
    """A blocking channel: plaintext without material, else TLS with that home's certificate."""
    if material is None:
        return grpc.insecure_channel(api)
    return grpc.secure_channel(api, tls.channel_credentials(material), options=list(tls.channel_options(None)))


def _status(channel: grpc.Channel) -> local_pb2.StatusResponse:
    with channel as ch:
        return local_pb2_grpc.LocalServiceStub(ch).Status(local_pb2.StatusRequest(), timeout=10)


def _code(channel: grpc.Channel) -> grpc.StatusCode | None:
    try:
        _status(channel)
    except grpc.RpcError as e:
        return e.code()  # type: ignore[no-any-return, attr-defined]
    return None


@pytest.fixture
def served(tmp_path: Path):  # type: ignore[no-untyped-def]
    homes = [tmp_path / "a", tmp_path / "member", tmp_path / "revoked"]
    mesh = make_mesh(homes)
    api = f"127.0.0.1:{free_port()}"
    (homes[0] / "config.toml").write_text(f'sync_interval = 3.0\napi_listen = "{api}"\n')
    folder = tmp_path / "claude-a"
    append_claude_lines(folder, 3, seed=5, tag="a")
    d = Daemon("a", homes[0], [folder], f"127.0.0.1:{free_port()}", mdns=False).start()
    yield d, mesh, api
    d.stop()


def test_member_certificate_reads_the_local_api_over_tcp(served) -> None:  # type: ignore[no-untyped-def]
    d, mesh, api = served
    assert any("local API also on" in line for line in d.lines), d.stderr_tail()
    st = _status(_channel(api, mesh.material[1]))
    assert st.device_id == d.device_id and st.transport == "mtls"


def test_plaintext_and_foreign_clients_are_refused(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _d, _mesh, api = served
    assert _code(_channel(api)) == grpc.StatusCode.UNAVAILABLE
    foreign = foreign_material(tmp_path / "stranger")
    assert _code(_channel(api, foreign)) == grpc.StatusCode.UNAVAILABLE


def test_revoked_member_is_refused(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d, mesh, api = served
    revoked = mesh.material[2]
    assert _code(_channel(api, revoked)) is None  # a member until forgotten
    folder = tmp_path / "claude-r"
    append_claude_lines(folder, 1, seed=9, tag="r")
    r = Daemon("revoked", mesh.homes[2], [folder], f"127.0.0.1:{free_port()}", peers=[d.listen], mdns=False).start()
    try:  # let `a` learn the device, so it can be forgotten by id
        for _ in range(150):
            if any(o == revoked.device_id for o, _e in d.vector()):
                break
            time.sleep(0.1)
    finally:
        r.stop()
    p = d.meshctl("forget", revoked.device_id, check=False)
    assert p.returncode == 0, p.stderr

    def refused() -> bool:
        return _code(_channel(api, revoked)) == grpc.StatusCode.PERMISSION_DENIED

    for _ in range(100):
        if refused():
            break
        time.sleep(0.1)
    assert refused()
    assert _code(_channel(api, mesh.material[1])) is None  # members still served


def test_no_tcp_listener_unless_asked(tmp_path: Path) -> None:
    home = tmp_path / "h"
    make_mesh([home])
    folder = tmp_path / "claude"
    append_claude_lines(folder, 1, seed=1, tag="x")
    d = Daemon("h", home, [folder], f"127.0.0.1:{free_port()}", mdns=False).start()
    try:
        assert not any("local API also on" in line for line in d.lines)
        listening = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True)
        if listening.returncode == 0:  # only the peer port (and, on the CA holder, pairing on port + 1)
            ours = [ln.split()[3] for ln in listening.stdout.splitlines() if f"pid={d.proc.pid}," in ln]  # type: ignore[union-attr]
            port = int(d.listen.rpartition(":")[2])
            assert ours and {int(a.rpartition(":")[2]) for a in ours} <= {port, port + 1}, ours
    finally:
        d.stop()


@pytest.mark.parametrize("value", ["nohost", "1.2.3.4:99999", "x:-1", "a" * 5000])
def test_bad_api_listen_is_one_line(tmp_path: Path, value: str) -> None:
    home = tmp_path / "h"
    make_mesh([home])
    p = subprocess.run([sys.executable, "-m", "meshd", "run", "--home", str(home), "--no-mdns",
                        "--listen", "127.0.0.1:0", "--api-listen", value], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert "--api-listen" in p.stderr


def test_api_listen_without_a_mesh_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "h"
    home.mkdir()
    p = subprocess.run([sys.executable, "-m", "meshd", "run", "--home", str(home), "--no-mdns", "--insecure-dev",
                        "--listen", "127.0.0.1:0", "--api-listen", f"127.0.0.1:{free_port()}"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    assert "mutual TLS" in p.stderr and "meshctl init" in p.stderr


def test_config_api_listen_must_be_a_string(tmp_path: Path) -> None:
    from meshd.config import load_config
    from meshd.errors import ConfigError

    (tmp_path / "config.toml").write_text("api_listen = 7\n")
    with pytest.raises(ConfigError, match="api_listen"):
        load_config(tmp_path)
