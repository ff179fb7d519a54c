"""Device identity: a private, stable id derived from the machine id and the data home.

device_id = first 32 hex of SHA-256(salt || machine id || absolute path of the home).
The raw machine id never leaves this module.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

try:  # the builtin module: hashlib's OpenSSL load costs every meshctl run ~3 ms of start-up
    from _sha256 import sha256
except ImportError:  # pragma: no cover - Python builds without it (3.12+ names it _sha2)
    from hashlib import sha256

_SALT = b"meshd.device-id.v1\x00"
_FALLBACK = "machine-id.fallback"


def _read_machine_id(home: Path) -> str:
    if sys.platform.startswith("linux"):
        for p in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
            try:
                v = Path(p).read_text().strip()
            except OSError:
                continue
            if v:
                return v
    elif sys.platform == "darwin":
        import subprocess

        try:
            out = subprocess.run(
                ["ioreg", "-rd1", "-c", "IOPlatformExpertDevice"], capture_output=True, text=True, timeout=5
            ).stdout
            for line in out.splitlines():
                if "IOPlatformUUID" in line:
                    return line.split("=")[-1].strip().strip('"')
        except (OSError, subprocess.SubprocessError):
            pass
    elif sys.platform == "win32":
        try:
            import winreg  # type: ignore[import-not-found]

            key = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\Microsoft\Cryptography")
            return str(winreg.QueryValueEx(key, "MachineGuid")[0])
        except OSError:
            pass
    # No machine id available: a random one kept in the home stands in for it.
    fb = home / _FALLBACK
    try:
        return fb.read_text().strip()
    except OSError:
        import uuid

        v = uuid.uuid4().hex
        fb.write_text(v)
        return v


def derive_device_id(machine_id: str, home: Path) -> str:
    """Pure derivation of the device id."""
    h = sha256(_SALT + machine_id.encode() + b"\x00" + str(home.absolute()).encode())
    return h.hexdigest()[:32]


def device_id_for(home: Path, override: str | None = None) -> str:
    """This device's id for the given data home (the config may override it)."""
    if override:
        return override
    return derive_device_id(_read_machine_id(home), home)


def default_device_name() -> str:
    """A human name for this device: the host name."""
    return os.environ.get("MESHD_DEVICE_NAME") or host_name().split(".")[0] or "device"


def host_name() -> str:
    """The host name (uname's node name: what gethostname(2) returns; no socket import on POSIX)."""
    uname = getattr(os, "uname", None)
    if uname is not None:
        return str(uname().nodename)
    import socket  # pragma: no cover - Windows

    return socket.gethostname()  # pragma: no cover
