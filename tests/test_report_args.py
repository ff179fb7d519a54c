"""meshctl's click-free parse of report command lines equals click's parse, or leaves it to click."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshctl import reports_cmd
from meshctl.main import cli
from meshctl.report_args import COMMANDS, EXTRA, Parsed, options, parse

FLAGS = sorted({f for c in COMMANDS for o in options(c) for f in o.flags})
VALUES = ["", "x", "2026-01-09", "20260109", "asc", "desc", "auto", "calculate", "display", "claude", "codex",
          "all", "monday", "sunday", "Sunday", "5", "2.5", "nan", "1e3", " 7 ", "-3", "max", "--json", "-j",
          "-h", "--help", "--", "-", "Asia/Tokyo", "é", "a=b", "--since=x"]
TOKENS = FLAGS + list(COMMANDS) + VALUES + ["--home", "--home=/tmp/h", "--version", "-jb", "-bj", "-zUTC",
                                            "--json=1", "--no-json", "--since=", "--device=d", "-s=2026"]


def click_parse(argv: list[str]) -> tuple[Path | None, str, dict[str, Any]] | None:
    """What click hands the report command for argv, or None when click does anything else."""
    seen: list[tuple[Path | None, str, dict[str, Any]]] = []
    real = reports_cmd.show
    reports_cmd.show = lambda home, name, opts: seen.append((home, name, dict(opts)))  # type: ignore[assignment]
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            cli.main(args=list(argv), prog_name="meshctl", standalone_mode=False)
    except BaseException:  # usage errors, --help's exit, ...
        return None
    finally:
        reports_cmd.show = real  # type: ignore[assignment]
    return seen[0] if seen else None


def same(fast: Parsed, by_click: tuple[Path | None, str, dict[str, Any]] | None) -> None:
    assert by_click is not None, "the fast path took a command line click refuses"
    home, name, opts = by_click
    assert fast.command == name
    assert fast.opts == opts
    assert (Path(fast.home).expanduser().absolute() if fast.home is not None else None) == home


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=8), st.sampled_from(COMMANDS))
def test_fast_parse_equals_click_or_defers(tail: list[str], command: str) -> None:
    for argv in ([command, *tail], tail):
        if "--live" in argv or "-l" in argv or "--compact" in argv:
            argv = [a for a in argv if a not in ("--live", "-l", "--compact")]  # click would start the live view
        fast = parse(argv)
        if fast is not None:
            same(fast, click_parse(argv))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(COMMANDS), st.data())
def test_valid_option_sets_parse_fast(command: str, data: st.DataObject) -> None:
    """Plain valid command lines take the fast path (it is not just a path that always defers)."""
    argv = [command]
    for o in options(command):
        if o.dest in ("live", "compact") or not data.draw(st.booleans()):
            continue
        flag = data.draw(st.sampled_from(o.flags))
        if o.kind == "flag":
            argv.append(flag)
            continue
        value = data.draw(st.sampled_from(o.choices) if o.choices else
                          st.sampled_from(["1.5", "3", "8"]) if o.kind == "float" else
                          st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=12))
        if flag.startswith("--") and data.draw(st.booleans()):
            argv.append(f"{flag}={value}")
        else:
            argv += [flag, value]
    fast = parse(argv)
    assert fast is not None, argv
    same(fast, click_parse(argv))


@pytest.mark.parametrize("argv", [
    ["daily", "--json"], ["blocks", "--json"], ["--home", "/tmp/meshd-x", "weekly", "-j", "-w", "monday"],
    ["--home=/tmp/meshd-x", "session", "--id", "abc"], ["blocks", "-t", "max", "-n", "2.5", "--recent", "-j"],
    ["daily", "--device", "a", "--device=b", "-s", "20260101", "-u", "2026-02-01", "-z", "Asia/Tokyo"],
    ["projects", "--project", "-home-u-app", "--order", "asc"],
])
def test_common_command_lines_parse_fast(argv: list[str]) -> None:
    fast = parse(argv)
    assert fast is not None
    same(fast, click_parse(argv))


@pytest.mark.parametrize("argv", [
    ["daily", "--help"], ["daily", "-h"], ["--help"], ["--version"], ["daily", "-jb"], ["daily", "extra"],
    ["daily", "--order", "sideways"], ["daily", "--json=1"], ["daily", "--device"], ["blocks", "--live"],
    ["blocks", "--compact", "-j"], ["blocks", "-n", "soon"], ["status"], ["daily", "--", "--json"],
    ["--home"], ["--home", "/h"], ["daily", "--bogus"], ["weekly", "-w", "Monday"], [],
])
def test_everything_else_goes_to_click(argv: list[str]) -> None:
    assert parse(argv) is None


def test_home_that_click_refuses_goes_to_click(tmp_path: Path) -> None:
    a_file = tmp_path / "f"
    a_file.write_text("")
    assert parse(["--home", str(a_file), "daily"]) is None
    assert parse(["daily"], {"MESHD_HOME": str(a_file)}) is None
    assert parse(["daily"], {"MESHD_HOME": ""}) == Parsed(None, "daily", parse(["daily"], {}).opts)  # type: ignore[union-attr]
    assert parse(["daily"], {"MESHD_HOME": str(tmp_path)}).home == str(tmp_path)  # type: ignore[union-attr]
    if os.geteuid() != 0:  # root reads everything
        locked = tmp_path / "locked"
        locked.mkdir(mode=0)
        assert parse(["--home", str(locked), "daily"]) is None


def test_every_report_command_has_a_spec() -> None:
    from meshctl.main import _COMMANDS

    assert set(EXTRA) == {k for k, v in _COMMANDS.items() if v.startswith("meshctl.reports_cmd:")}


# -- the fast path prints what the click path prints ---------------------------------------------

CLICK = "import sys\nfrom meshctl.main import cli\ncli(prog_name='meshctl')\n"


@pytest.fixture(scope="module")
def hist_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    import subprocess
    import sys

    from tests.histgen import generate

    root = tmp_path_factory.mktemp("paths")
    hist = generate(root / "hist", folders=2, target_bytes=1_500_000, seed=3)
    odd = hist.folders[0] / "projects" / "-home-u-\x1b[31mred\x1b[0m"  # click.echo strips ANSI off a pipe
    odd.mkdir()
    (odd / "s.jsonl").write_bytes(hist.files[0].read_bytes())
    env = dict(os.environ, MESHD_HOME=str(root / "home"), CLAUDE_CONFIG_DIR=hist.claude_config_dir,
               TZ="America/New_York", COLUMNS="120")
    env.pop("CODEX_HOME", None)
    env["HOME"] = str(root)
    subprocess.run([sys.executable, "-m", "meshctl", "daily", "--json"], env=env, check=True, capture_output=True)
    return env


@pytest.mark.parametrize("argv", [
    ["daily", "--json"], ["daily"], ["daily", "-b", "--by-device"], ["weekly", "--json", "-w", "monday"],
    ["weekly"], ["monthly"], ["session", "--json"], ["session"], ["projects", "--json"], ["projects", "-b"],
    ["blocks", "--json"], ["blocks"], ["blocks", "--json", "-t", "max", "-n", "3"],
    ["daily", "--json", "-z", "Asia/Kolkata", "--since", "20260305", "--until", "2026-03-20"],
    ["daily", "--device", "nosuch"], ["daily", "--json", "--timezone", "Nowhere/Zone"], ["blocks", "-t", "abc"],
    ["daily", "--since", "2026-02-30"], ["blocks", "--session-length", "0"], ["session", "--id", "none"],
])
def test_fast_and_click_paths_print_the_same(hist_env: dict[str, str], argv: list[str]) -> None:
    import subprocess
    import sys

    assert parse(argv) is not None
    fast = subprocess.run([sys.executable, "-m", "meshctl", *argv], env=hist_env, capture_output=True, timeout=60)
    slow = subprocess.run([sys.executable, "-c", CLICK, *argv], env=hist_env, capture_output=True, timeout=60)
    assert (fast.returncode, fast.stdout, fast.stderr) == (slow.returncode, slow.stdout, slow.stderr)
    assert fast.stdout or fast.returncode
