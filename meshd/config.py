"""Where meshd keeps its data, and the TOML config file in that home.

Home: `--home`, else `$MESHD_HOME`, else the platform's data folder
(`$XDG_DATA_HOME/meshd` or `~/.local/share/meshd` on Linux, `~/Library/Application Support/meshd`
on macOS, `%LOCALAPPDATA%\\meshd` on Windows). Everything lives in it: `config.toml`,
`meshd.db` (the replica), keys and certificates, the daemon's socket folder, and caches safe to
delete (`listing.cache`: the log folders' listing, meshd/ingest/listing.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from meshd.errors import ConfigError

DEFAULT_PORT = 47474
CONFIG_NAME = "config.toml"
DB_NAME = "meshd.db"

_KNOWN_KEYS = {
    "device_name": str,
    "device_id": str,
    "claude_dirs": list,
    "codex_dirs": list,
    "listen": str,
    "api_listen": str,
    "peers": list,
    "mdns": bool,
    "sync_interval": (int, float),
    "timezone": str,
    "cost_mode": str,
}


def default_home() -> Path:
    """The data home from `$MESHD_HOME` or the platform's usual place."""
    env = os.environ.get("MESHD_HOME")
    if env:
        return Path(env).expanduser().absolute()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "meshd"
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "meshd"
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "meshd"


_FIELDS = ("home", "device_name", "device_id", "claude_dirs", "codex_dirs", "listen", "api_listen", "peers",
           "mdns", "sync_interval", "timezone", "cost_mode", "extra")


class Config:
    """Settings from `<home>/config.toml`; every field has a sane default. Immutable.

    A plain class rather than a dataclass: every meshctl command loads the config, and importing
    dataclasses (with inspect) costs more start-up than the whole report query."""

    __slots__ = _FIELDS
    home: Path
    device_name: str | None
    device_id: str | None
    claude_dirs: tuple[str, ...] | None
    codex_dirs: tuple[str, ...] | None
    listen: str
    api_listen: str | None  # the local API over TCP (mutual TLS only); off unless asked for
    peers: tuple[str, ...]
    mdns: bool
    sync_interval: float
    timezone: str | None
    cost_mode: str
    extra: dict[str, object]

    def __init__(self, home: Path, device_name: str | None = None, device_id: str | None = None,
                 claude_dirs: tuple[str, ...] | None = None, codex_dirs: tuple[str, ...] | None = None,
                 listen: str = f"0.0.0.0:{DEFAULT_PORT}", api_listen: str | None = None,
                 peers: tuple[str, ...] = (), mdns: bool = True, sync_interval: float = 30.0,
                 timezone: str | None = None, cost_mode: str = "auto", extra: dict[str, object] | None = None
                 ) -> None:
        values = (home, device_name, device_id, claude_dirs, codex_dirs, listen, api_listen, peers, mdns,
                  sync_interval, timezone, cost_mode, {} if extra is None else extra)
        for name, value in zip(_FIELDS, values):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: Config is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: Config is immutable")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in _FIELDS)

    __hash__ = None  # type: ignore[assignment]  # `extra` is a dict

    def __reduce__(self) -> tuple[type[Config], tuple[object, ...]]:  # pickle and copy, despite __setattr__
        return Config, tuple(getattr(self, f) for f in _FIELDS)

    def __repr__(self) -> str:
        return "Config(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in _FIELDS) + ")"

    @property
    def db_path(self) -> Path:
        return self.home / DB_NAME


def load_config(home: Path | None = None) -> Config:
    """Read `<home>/config.toml` (missing file: defaults); raise ConfigError with the reason."""
    home = (home or default_home()).expanduser().absolute()
    path = home / CONFIG_NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config(home=home)
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    if len(raw) > 1 << 20:
        raise ConfigError(f"{path} is larger than 1 MiB")
    import tomllib  # only with a config file (start-up time)

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    return _from_dict(home, path, data)


def _from_dict(home: Path, path: Path, data: dict[str, object]) -> Config:
    kw: dict[str, object] = {}
    extra: dict[str, object] = {}
    for key, value in data.items():
        want = _KNOWN_KEYS.get(key)
        if want is None:
            extra[key] = value
            continue
        if not isinstance(value, want) or (want is not bool and isinstance(value, bool)):
            raise ConfigError(f"{path}: '{key}' has the wrong type ({type(value).__name__})")
        if isinstance(value, list):
            if not all(isinstance(v, str) and v for v in value):
                raise ConfigError(f"{path}: '{key}' must be a list of non-empty strings")
            value = tuple(value)
        kw[key] = value
    if "sync_interval" in kw and not 0.1 <= float(kw["sync_interval"]) <= 86400:  # type: ignore[arg-type]
        raise ConfigError(f"{path}: 'sync_interval' must be between 0.1 and 86400 seconds")
    if "cost_mode" in kw and kw["cost_mode"] not in ("auto", "calculate", "display"):
        raise ConfigError(f"{path}: 'cost_mode' must be auto, calculate or display")
    did = kw.get("device_id")
    if did is not None and not _is_device_id(str(did)):
        raise ConfigError(f"{path}: 'device_id' must be 32 lowercase hex characters")
    return Config(home=home, extra=extra, **kw)  # type: ignore[arg-type]


def _is_device_id(s: str) -> bool:
    return len(s) == 32 and all(c in "0123456789abcdef" for c in s)


def socket_path(home: Path) -> Path:
    """The daemon's local API socket: `<home>/run/meshd.sock`, or a short per-user 0700 folder
    in /tmp when that path is too long for a Unix socket (about 107 bytes)."""
    p = Path(home).absolute() / "run" / "meshd.sock"
    if len(str(p).encode()) <= 100:
        return p
    import hashlib
    import tempfile

    tag = hashlib.sha256(str(Path(home).absolute()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"meshd-{os.getuid()}" / f"{tag}.sock"


def ensure_home(home: Path) -> Path:
    """Create the home folder (0700) if needed."""
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as e:
        raise ConfigError(f"cannot create data home {home}: {e.strerror}") from None
    return home
