"""Read-only meshctl commands stay fast: they import neither grpc, zeroconf nor sqlite_utils."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("grpc", "zeroconf", "sqlite_utils", "rich")

PROBE = """
import sys, json
from meshctl.main import cli
try:
    cli(sys.argv[1:], prog_name="meshctl")
except SystemExit as e:
    code = e.code
else:
    code = 0
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy})
sys.stderr.write("\\nPROBE " + json.dumps({{"code": code, "heavy": heavy}}) + "\\n")
"""


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    claude = tmp_path / "claude"
    (claude / "projects" / "p").mkdir(parents=True)
    (claude / "projects" / "p" / "s.jsonl").write_text(
        '{"timestamp":"2026-01-09T10:00:00.000Z","sessionId":"s","message":{"id":"m1","model":'
        '"claude-sonnet-4-5","usage":{"input_tokens":100,"output_tokens":50}},"requestId":"r1",'
        '"version":"1.0.0"}\n'
    )
    e = dict(os.environ)
    e.update(MESHD_HOME=str(tmp_path / "home"), CLAUDE_CONFIG_DIR=str(claude), TZ="UTC")
    return e


@pytest.mark.parametrize(
    "argv",
    [
        ["daily", "--json"],
        ["weekly", "--json"],
        ["monthly"],
        ["session", "--json"],
        ["projects", "--json"],
        ["projects"],
        ["blocks", "--json"],
        ["status"],
        ["status", "--json"],
        ["status", "--live"],  # without a terminal: one snapshot
        ["blocks", "--live", "--compact"],
        ["pricing"],
        ["devices"],
        ["devices", "--json"],
        ["statusline"],
        ["plan"],
        ["plan", "show", "--json"],
        ["budget", "list"],
        ["budget", "list", "--json"],
        ["export"],
        ["export", "--format", "csv"],
        ["service", "status"],
        ["service", "status", "--json", "--platform", "launchd"],
        ["service", "install", "--dry-run"],
        ["service", "uninstall", "--dry-run"],
        ["--help"],
    ],
)
def test_read_only_commands_stay_light(argv: list[str], env: dict[str, str]) -> None:
    p = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=repr(set(HEAVY))), *argv],
        env=env, capture_output=True, text=True, timeout=60,
    )
    line = [x for x in p.stderr.splitlines() if x.startswith("PROBE ")]
    assert line, p.stderr
    probe = json.loads(line[-1][6:])
    assert probe["code"] in (0, None), p.stderr
    assert probe["heavy"] == [], f"{argv} imported {probe['heavy']}"


def test_statusline_fast_path_skips_click_and_heavy_modules(env: dict[str, str]) -> None:
    """`meshctl statusline` (the console script's entry) loads neither click nor the heavy modules."""
    code = (
        "import sys, json\nsys.argv = ['meshctl', 'statusline']\nfrom meshctl.entry import main\nmain()\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {set(HEAVY) | {'click'}!r})\n"
        "sys.stderr.write('PROBE ' + json.dumps(bad))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], env=env, input=b"{}", capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().count("\n") == 1
    assert p.stderr.decode().rsplit("PROBE ", 1)[1] == "[]"


# What a warm report (nothing new to ingest) must not load: click (its fast path skips it), orjson
# (core/jsontext writes its bytes), the writer side (app, replica, tailer) and the stdlib modules
# whose import costs more than the report (dataclasses with inspect, hashlib, socket, platform...).
WARM_FORBIDDEN = {"click", "orjson", "dataclasses", "inspect", "hashlib", "socket", "platform", "tomllib",
                  "uuid", "secrets", "meshd.app", "meshd.store.replica", "meshd.ingest.tailer",
                  "meshd.core.entry", "meshd.pricing_store"}


# monthly adds the plan and budgets (store/settings.py, which decodes with orjson): click stays out.
MONTHLY_MAY = {"orjson", "dataclasses", "inspect", "uuid", "platform"}


@pytest.mark.parametrize("argv", [["daily", "--json"], ["blocks", "--json"], ["weekly", "-j", "-b"],
                                  ["monthly"], ["monthly", "--json"], ["session", "--json"], ["projects"],
                                  ["blocks"], ["daily", "--json", "--timezone", "Asia/Tokyo"]])
def test_warm_reports_skip_click_and_the_writer(argv: list[str], env: dict[str, str]) -> None:
    """The report commands' fast path (cli/entry.py + meshd/warm.py) once nothing is new to ingest."""
    forbidden = WARM_FORBIDDEN - MONTHLY_MAY if argv[0] == "monthly" else WARM_FORBIDDEN
    first = subprocess.run([sys.executable, "-m", "meshctl", "daily", "--json"], env=env, capture_output=True,
                           timeout=60)
    assert first.returncode == 0, first.stderr
    code = (
        "import os, sys, json\nsys.argv = ['meshctl', *sys.argv[1:]]\nfrom meshctl.entry import main\n"
        # the fast path ends with os._exit (no teardown): made a SystemExit here, to look after it
        "def _exit(code):\n    raise SystemExit(code)\nos._exit = _exit\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        f"bad = sorted(m for m in sys.modules if m in {forbidden!r} or m.split('.')[0] in {set(HEAVY)!r})\n"
        "sys.stderr.write('PROBE ' + json.dumps(bad))\n"
    )
    p = subprocess.run([sys.executable, "-c", code, *argv], env=env, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout
    assert p.stderr.decode().rsplit("PROBE ", 1)[1] == "[]"


def test_every_module_imports_on_its_own() -> None:
    """Each module imports in a fresh interpreter (catches circular imports)."""
    root = Path(__file__).resolve().parent.parent
    mods = []
    for base, pkg in ((root / "meshd", "meshd"), (root / "cli", "meshctl")):
        for f in sorted(base.rglob("*.py")):
            rel = f.relative_to(base).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if parts and parts[-1] == "__main__":
                continue
            mods.append(".".join([pkg, *parts]))
    code = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    failed = []
    for m in mods:
        p = subprocess.run([sys.executable, "-c", code, m], capture_output=True, text=True, timeout=60)
        if p.returncode:
            failed.append((m, p.stderr.strip().splitlines()[-1:]))
    assert not failed, failed
