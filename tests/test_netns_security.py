"""Security across network namespaces: pairing by code between two hosts, refusals from a third.

Host a: `meshctl init`, a stand-in peer (tests/secpeer.py: mTLS server with the peer interceptor
and the pairing listener). Host b joins with a code. Host c is the stranger: wrong, reused and
expired codes; plaintext, certificate-less and foreign-CA clients; then b is revoked by a
`forget` record in a's replica and refused.
Skips with a reason when not root / no namespaces (tests/netlab.py).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from tests.netlab import wait_for

pytestmark = pytest.mark.netns

ROOT = Path(__file__).resolve().parents[1]
SECPEER = str(ROOT / "tests" / "secpeer.py")
PORT = 47474


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ, MESHD_HOME=str(home), PYTHONPATH=str(ROOT))
    return env


def test_pairing_and_refusals_between_namespaces(netlab, tmp_path: Path) -> None:
    lab = netlab(3)
    ha, hb, hc = (tmp_path / h for h in "abc")

    def ctl(host: str, home: Path, *args: str):  # type: ignore[no-untyped-def]
        return lab.run(host, [sys.executable, "-m", "meshctl", "--home", str(home), *args], env=_env(home), timeout=60)

    r = ctl("a", ha, "init")
    assert r.returncode == 0, r.stderr
    srv = lab.spawn("a", [sys.executable, SECPEER, "serve", str(ha), f"0.0.0.0:{PORT}"], env=_env(ha),
                    stdout=__import__("subprocess").PIPE)
    line = srv.stdout.readline()  # type: ignore[union-attr]
    assert line.startswith("READY"), (line, srv.stderr.read() if srv.poll() is not None else "")  # type: ignore[union-attr]
    peer = lab.addr("a", PORT)
    pairing_addr = lab.addr("a", PORT + 1)

    def invite(ttl: str = "2m") -> str:
        r = ctl("a", ha, "invite", "--ttl", ttl, "--address", pairing_addr)
        assert r.returncode == 0, r.stderr
        code = r.stdout.strip().splitlines()[-1]
        assert code.startswith("mesh-") and code.endswith("@" + pairing_addr)
        return code

    # A wrong guess from the stranger burns the code; the right code then fails too.
    code = invite()
    ident, secret = code.split("@")[0].split("-", 2)[1], code.split("@")[0].split("-", 2)[2]
    wrong = f"mesh-{ident}-{'a' * 4}-{'b' * 4}-{'c' * 4}@{pairing_addr}"
    assert wrong != code
    r = ctl("c", hc, "join", wrong)
    assert r.returncode == 1 and "wrong invite code" in r.stderr, r.stderr
    r = ctl("b", hb, "join", code)
    assert r.returncode == 1 and "burned" in r.stderr, r.stderr

    # An expired code.
    code = invite("1s")
    time.sleep(1.5)
    r = ctl("b", hb, "join", code)
    assert r.returncode == 1 and "expired" in r.stderr, r.stderr

    # The happy path between namespaces (b passes the peer port: join also tries port + 1).
    code = invite()
    r = ctl("b", hb, "join", code.split("@")[0], "--address", peer)
    assert r.returncode == 0, r.stderr
    assert "joined mesh" in r.stdout
    # The same code again, from the stranger.
    r = ctl("c", hc, "join", code)
    assert r.returncode == 1 and "already been used" in r.stderr, r.stderr

    def call(host: str, home: str, mode: str) -> str:
        r = lab.run(host, [sys.executable, SECPEER, "call", home, peer, mode], env=_env(Path(home)), timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    b_id = __import__("meshd.security.pki", fromlist=["x"]).load_material(hb).device_id
    assert call("b", str(hb), "member") == f"OK:{b_id}"
    # The stranger: plaintext, no certificate, a foreign CA — refused in the handshake.
    assert call("c", str(hb), "plaintext").startswith("UNAVAILABLE")
    assert call("c", str(hb), "certless").startswith("UNAVAILABLE")
    assert call("c", str(hb), "foreign").startswith("UNAVAILABLE")

    # Revocation: a forget record for b in a's replica; a's interceptor refuses b from then on.
    from meshd.app import open_replica
    from meshd.store.replica import transaction

    replica = open_replica(home=ha)
    with transaction(replica.conn):
        replica.append_local("forget", [b'{"device_id": "%s"}' % b_id.encode()])
    replica.conn.close()
    wait_for(lambda: call("b", str(hb), "member").startswith("PERMISSION_DENIED"), 20, interval=0.5,
             what="b to be refused after its forget record")
    lab.kill(srv)
