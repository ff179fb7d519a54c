"""Test helpers: a mesh CA and device certificates for N homes, without pairing.

    from meshd.security.testing import make_mesh
    mesh = make_mesh([home_a, home_b, home_c])          # device ids derived like the daemon does
    mesh.material[0].device_id, mesh.fingerprint

The first home holds the CA key (it can `meshctl invite` and serve pairing), like the machine that
ran `meshctl init`; the others look exactly as after `meshctl join`. `foreign_material(home)` makes
a home that belongs to another mesh (for refusal tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from meshd.security import pki


@dataclass
class TestMesh:
    homes: list[Path]
    material: list[pki.MeshMaterial]
    ca_key_pem: bytes
    ca_cert_pem: bytes

    @property
    def fingerprint(self) -> str:
        return pki.ca_fingerprint(self.ca_cert_pem)

    def add(self, home: Path, device_id: str | None = None) -> pki.MeshMaterial:
        """Issue a certificate for one more home (as a successful `meshctl join` would)."""
        m = issue(home, self.ca_key_pem, self.ca_cert_pem, device_id)
        self.homes.append(Path(home))
        self.material.append(m)
        return m


def _device_id(home: Path, device_id: str | None) -> str:
    if device_id:
        return device_id
    from meshd.config import load_config
    from meshd.identity import device_id_for

    Path(home).mkdir(parents=True, exist_ok=True, mode=0o700)
    return device_id_for(Path(home).absolute(), load_config(Path(home).absolute()).device_id)


def issue(home: Path, ca_key_pem: bytes, ca_cert_pem: bytes, device_id: str | None = None,
          *, with_ca_key: bool = False) -> pki.MeshMaterial:
    did = _device_id(home, device_id)
    key = pki.new_key()
    cert = pki.issue_device_cert(pki.load_key(ca_key_pem), pki.load_cert(ca_cert_pem), did, key.public_key())
    pki.save_material(home, ca_cert_pem=ca_cert_pem, device_key_pem=pki.key_pem(key),
                      device_cert_pem=pki.cert_pem(cert), ca_key_pem=ca_key_pem if with_ca_key else None)
    return pki.load_material(home, expect_device_id=did)


def make_mesh(homes: Sequence[Path], device_ids: Sequence[str | None] | None = None) -> TestMesh:
    """A new CA and one device certificate per home; the first home also keeps the CA key."""
    ca_key, ca = pki.create_ca("meshd test mesh")
    kp, cp = pki.key_pem(ca_key), pki.cert_pem(ca)
    ids = list(device_ids) if device_ids is not None else [None] * len(homes)
    mats = [issue(h, kp, cp, i, with_ca_key=(n == 0)) for n, (h, i) in enumerate(zip(homes, ids))]
    return TestMesh([Path(h) for h in homes], mats, kp, cp)


def foreign_material(home: Path, device_id: str | None = None) -> pki.MeshMaterial:
    """A home that belongs to a different mesh (its own CA)."""
    return make_mesh([home], [device_id]).material[0]
