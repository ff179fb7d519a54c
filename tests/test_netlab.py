"""The namespace lab itself: connectivity, faults, and that close() leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.netlab import Lab, wait_for

pytestmark = pytest.mark.netns

SERVER = (
    "import socket\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('0.0.0.0', 9000)); s.listen()\n"
    "while True:\n"
    "    c, _ = s.accept(); c.send(b'hi'); c.close()\n"
)


def _reach(lab: Lab, src: str, dst: str) -> bool:
    code = f"import socket; s = socket.create_connection(('{lab.ip(dst)}', 9000), timeout=0.7); print(s.recv(2))"
    return lab.run(src, [sys.executable, "-c", code], timeout=10).returncode == 0


def test_lab_connectivity_faults_and_cleanup(netlab) -> None:
    lab: Lab = netlab(3)
    srv = lab.spawn("b", [sys.executable, "-c", SERVER])
    wait_for(lambda: _reach(lab, "a", "b"), 10, what="a reaches b")
    assert _reach(lab, "c", "b")

    lab.partition("a", "b")
    assert not _reach(lab, "a", "b")
    assert _reach(lab, "c", "b")
    lab.unpartition("a", "b")
    assert _reach(lab, "a", "b")

    lab.cut("b")
    assert not _reach(lab, "a", "b")
    lab.heal("b")
    wait_for(lambda: _reach(lab, "a", "b"), 10, what="a reaches b after heal")

    names = lab.namespaces
    lab.close()
    assert srv.poll() is not None
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(line.split()[0] in names for line in listed.splitlines() if line.strip())


def test_lab_cleanup_kills_strays(netlab) -> None:
    lab: Lab = netlab(1)
    # A grandchild the lab did not spawn directly still dies with the namespace.
    lab.spawn("a", ["sh", "-c", "sleep 300 & sleep 300"])
    wait_for(lambda: len(subprocess.run(["ip", "netns", "pids", lab.ns("a")], capture_output=True,
                                        text=True).stdout.split()) >= 2, 5, what="two sleeps")
    pids = subprocess.run(["ip", "netns", "pids", lab.ns("a")], capture_output=True, text=True).stdout.split()
    lab.close()
    time.sleep(0.1)
    for pid in pids:
        alive = os.path.exists(f"/proc/{pid}") and open(f"/proc/{pid}/stat").read().split()[2] != "Z"
        assert not alive, pid
