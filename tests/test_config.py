"""Config files: broken, hostile and huge values give a ConfigError naming the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshd.config import default_home, load_config
from meshd.errors import ConfigError


def write(home: Path, text: str | bytes) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    p = home / "config.toml"
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return home


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    c = load_config(tmp_path)
    assert c.home == tmp_path and c.mdns and c.cost_mode == "auto" and c.peers == ()


def test_valid_file(tmp_path: Path) -> None:
    c = load_config(write(tmp_path, 'device_name = "laptop"\npeers = ["10.0.0.2:47474"]\nsync_interval = 5\n'
                                    'future_key = 1\n'))
    assert (c.device_name, c.peers, c.sync_interval) == ("laptop", ("10.0.0.2:47474",), 5)
    assert c.extra == {"future_key": 1}  # unknown keys are kept, not fatal


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("device_name = ", "invalid TOML"),
        (b"\xff\xfe garbage", "invalid TOML"),
        ("peers = 'one'", "wrong type"),
        ("peers = [1, 2]", "list of non-empty strings"),
        ("peers = ['']", "list of non-empty strings"),
        ("mdns = 'yes'", "wrong type"),
        ("sync_interval = true", "wrong type"),
        ("sync_interval = 0", "between"),
        ("sync_interval = 1e12", "between"),
        ("cost_mode = 'free'", "cost_mode"),
        ("device_id = 'NOTHEX'", "device_id"),
        ("device_id = '" + "a" * 33 + "'", "device_id"),
    ],
)
def test_bad_values_are_refused_with_the_reason(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_config(write(tmp_path, text))


def test_huge_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="larger than 1 MiB"):
        load_config(write(tmp_path, "# " + "x" * (2 << 20)))


def test_home_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MESHD_HOME", str(tmp_path / "h"))
    assert default_home() == tmp_path / "h"
