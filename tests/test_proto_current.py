"""The generated code committed in meshd/v1/ matches proto/meshd/v1/*.proto (python proto/gen.py)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_generated_code_is_current() -> None:
    if importlib.util.find_spec("grpc_tools") is None:
        pytest.skip("grpcio-tools is not installed (pip install -e .[test])")
    p = subprocess.run([sys.executable, str(ROOT / "proto" / "gen.py"), "--check"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, f"{p.stdout}{p.stderr}"


def test_services_are_versioned() -> None:
    from meshd.v1 import local_pb2, peer_pb2

    assert peer_pb2.DESCRIPTOR.services_by_name["PeerService"].full_name == "meshd.v1.PeerService"
    assert local_pb2.DESCRIPTOR.services_by_name["LocalService"].full_name == "meshd.v1.LocalService"
