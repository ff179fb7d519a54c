"""`meshctl statusline`: the line, the recorded reading, and that nothing on stdin can make it fail."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from meshd.core.statusline import Limit, Line, fmt_age, render, share
from meshctl.entry import _statusline_home
NOW_S = int(time.time())


def live_lines(folder: Path, n: int, tag: str, seed: int = 1) -> Path:
    """Append n assistant usage lines stamped in the last minutes (today, in the active block)."""
    d = folder / "projects" / "-home-u-proj"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"sess-{tag}.jsonl"
    now = time.time() - 120
    out = []
    for i in range(n):
        ts = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now - 60 * (n - i)))
        out.append(json.dumps({
            "timestamp": ts, "sessionId": f"sess-{tag}", "type": "assistant", "version": "2.1.90",
            "requestId": f"r-{tag}-{seed}-{i}", "cwd": "/home/u/proj",
            "message": {"id": f"m-{tag}-{seed}-{i}", "model": "claude-sonnet-4-5",
                        "usage": {"input_tokens": 1000 * (i + 1), "output_tokens": 500,
                                  "cache_read_input_tokens": 20000}}}, separators=(",", ":")))
    with open(path, "a") as f:
        f.write("\n".join(out) + "\n")
    return path


append_claude_lines = live_lines


def rate(five: float = 23.5, seven: float = 41.2) -> dict:
    return {"five_hour": {"used_percentage": five, "resets_at": NOW_S + 7200},
            "seven_day": {"used_percentage": seven, "resets_at": NOW_S + 400_000}}


# -- pure parts --------------------------------------------------------------------------------


def test_render_full_line():
    line = Line(block_cost=3.214, block_left_min=133, burn_per_hour=4.1, today_cost=45.666,
                limits=[Limit("five_hour", 23.5, 180_000, "laptop", False), Limit("seven_day", 41.2, 5_000, None, False)],
                share=0.62)
    assert render(line) == "$3.21 block 2h13m left $4.10/h | $45.67 today | 5h 24% 3m ago @laptop · 7d 41% | here 62%"


def test_render_sparse_and_expired():
    line = Line(limits=[Limit("five_hour", 80, 10_000_000, None, True)], note="mesh offline")
    assert render(line) == "no active block | $0.00 today | 5h reset | mesh offline"
    assert render(Line(block_cost=1, block_left_min=5, today_cost=float("nan"))) == "$1.00 block 5m left | $? today"


def test_fmt_age_edges():
    assert [fmt_age(x) for x in (-5, 0, 9_999, 10_000, 59_999, 60_000, 3_599_999, 3_600_000, 86_400_000)] == [
        "now", "now", "now", "10s ago", "59s ago", "1m ago", "59m ago", "1h ago", "1d ago"]


def test_share_splits_cost_since_the_window_start():
    rows = [(100, "me", 1.0), (200, "me", 3.0), (200, "other", 1.0), (50, "other", 100.0), (300, "x", 0.0)]
    assert share(rows, "me", 100) == pytest.approx(0.8)
    assert share(rows, "me", 1000) is None
    assert share([(100, "other", 2.0)], "me", 0) == 0.0


def test_fast_entry_recognizes_only_plain_statusline_calls():
    assert _statusline_home(["statusline"]) == (True, None)
    assert _statusline_home(["--home", "/x", "statusline"]) == (True, "/x")
    assert _statusline_home(["--home=/x", "statusline"]) == (True, "/x")
    for argv in (["statusline", "--help"], ["--home", "", "statusline"], ["--home="], ["daily"], [],
                 ["--home=", "statusline"], ["statusline", "x"]):
        assert _statusline_home(argv)[0] is False, argv


# -- the command, as a real process ------------------------------------------------------------------


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    claude = tmp_path / "claude"
    (claude / "projects").mkdir(parents=True)
    e = dict(os.environ, MESHD_HOME=str(tmp_path / "home"), CLAUDE_CONFIG_DIR=str(claude), TZ="UTC")
    e.pop("MESHD_DEBUG", None)
    return e


def meshctl(env: dict[str, str], *args: str, stdin: bytes | None = b"", timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "meshctl", *args], env=env, input=stdin, capture_output=True,
                          timeout=timeout)


def statusline(env: dict[str, str], stdin: bytes | None = b"") -> str:
    p = meshctl(env, "statusline", stdin=stdin)
    assert p.returncode == 0, p.stderr
    assert p.stderr == b"", p.stderr
    out = p.stdout.decode()
    assert out.endswith("\n") and out.count("\n") == 1, out
    return out.strip()


def reading_records(home: Path) -> list[dict]:
    conn = sqlite3.connect(home / "meshd.db")
    try:
        return [json.loads(b) for (b,) in conn.execute("SELECT body FROM log WHERE kind='ratelimit' ORDER BY seq")]
    finally:
        conn.close()


def test_no_replica_yet_prints_a_hint(env):
    assert statusline(env, b"{}") == "meshd: no data yet (run `meshctl daily` or `meshd run`)"
    assert not (Path(env["MESHD_HOME"]) / "meshd.db").exists()


def test_records_the_reading_once_and_shows_it(env):
    claude = Path(env["CLAUDE_CONFIG_DIR"])
    append_claude_lines(claude, 5, seed=1, tag="a")
    assert meshctl(env, "daily", "--json").returncode == 0
    payload = json.dumps({"rate_limits": rate()}).encode()
    line = statusline(env, payload)
    assert "5h 24%" in line and "7d 41%" in line and "today" in line, line
    statusline(env, payload)  # a refresh with the same numbers: not recorded again
    recs = reading_records(Path(env["MESHD_HOME"]))
    assert len(recs) == 1
    assert recs[0]["windows"]["five_hour"] == {"used_percentage": 23.5, "resets_at": NOW_S + 7200}
    statusline(env, json.dumps({"rate_limits": rate(30)}).encode())
    assert len(reading_records(Path(env["MESHD_HOME"]))) == 2
    # without a reading on stdin, the recorded one is shown
    assert "5h 30%" in statusline(env, b"{}")


def test_a_reading_creates_the_replica_when_there_is_none(env):
    line = statusline(env, json.dumps({"rate_limits": rate(12)}).encode())
    assert "5h 12%" in line
    assert len(reading_records(Path(env["MESHD_HOME"]))) == 1


HOSTILE = [
    b"", b"\n", b"null", b"[]", b"42", b'"x"', b"{", b"\xff\xfe\x00garbage", os.urandom(3000),
    b"[" * 100_000 + b"]" * 100_000,  # nesting far beyond the parser's limit
    b'{"rate_limits": 5}', b'{"rate_limits": {"five_hour": "50%"}}',
    b'{"rate_limits": {"five_hour": {"used_percentage": 1e308, "resets_at": "soon"}}}',
    b'{"rate_limits": {"five_hour": {"used_percentage": -3, "resets_at": -1}}}',
    b'{"rate_limits": {"five_hour": {"used_percentage": NaN}}}',
    b'{"rate_limits": {"five_hour": {"used_percentage": 99999999999999999999999999}}}',
    b'{"transcript_path": "/etc/passwd"}', b'{"transcript_path": "../../x.jsonl"}',
    b'{"transcript_path": ["a"]}', b'{"transcript_path": "/nonexistent/projects/p/s.jsonl"}',
    json.dumps({"rate_limits": rate(), "pad": "x" * (2 << 20)}).encode(),  # larger than the 1 MiB cap
]


@pytest.mark.parametrize("stdin", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_stdin_still_prints_a_sane_line(env, stdin):
    append_claude_lines(Path(env["CLAUDE_CONFIG_DIR"]), 3, seed=2, tag="h")
    assert meshctl(env, "daily").returncode == 0
    line = statusline(env, stdin)
    assert "block" in line and "$0.00 today" not in line and "Traceback" not in line
    assert reading_records(Path(env["MESHD_HOME"])) == []  # nothing usable, nothing recorded


def test_a_writer_that_never_closes_stdin_does_not_hang_it(env):
    p = subprocess.Popen([sys.executable, "-m", "meshctl", "statusline"], env=env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdin is not None
    p.stdin.write(b'{"rate_limits": ')
    p.stdin.flush()
    t = time.monotonic()
    rc = p.wait(timeout=20)
    assert rc == 0 and time.monotonic() - t < 15
    assert p.stdout is not None and p.stdout.read().decode().startswith("meshd: no data yet")
    p.stdin.close()


def test_broken_config_gives_a_line_and_exit_0(env):
    home = Path(env["MESHD_HOME"])
    live_lines(Path(env["CLAUDE_CONFIG_DIR"]), 2, tag="c")
    assert meshctl(env, "daily").returncode == 0
    (home / "config.toml").write_text("cost_mode = [")
    line = statusline(env, b"{}")
    assert line.startswith("meshd: unavailable (") and "invalid TOML" in line


def test_without_a_daemon_new_transcript_lines_are_ingested_in_the_background(env):
    claude = Path(env["CLAUDE_CONFIG_DIR"])
    f = live_lines(claude, 4, tag="t", seed=5)
    assert meshctl(env, "daily").returncode == 0
    payload = json.dumps({"transcript_path": str(f)}).encode()
    before = statusline(env, payload)
    assert "block" in before and "$0.00 today" not in before
    live_lines(claude, 6, tag="t", seed=6)  # Claude Code writes more to the session
    t0 = time.monotonic()
    statusline(env, payload)  # answers at once and starts an ingest in the background
    while (after := statusline(env, payload)) == before and time.monotonic() - t0 < 30:
        time.sleep(0.2)
    daily = json.loads(meshctl(env, "daily", "--json").stdout)
    today = daily["daily"][-1]["totalCost"]
    assert f"${today:,.2f} today" in after, (before, after, today)


def test_an_old_replica_is_upgraded_in_the_background(env):
    home = Path(env["MESHD_HOME"])
    live_lines(Path(env["CLAUDE_CONFIG_DIR"]), 2, tag="u")
    assert meshctl(env, "daily").returncode == 0
    conn = sqlite3.connect(home / "meshd.db")
    conn.execute("UPDATE meta SET value='5' WHERE key='schema'")
    conn.commit()
    conn.close()
    assert statusline(env, b"{}") == "meshd: upgrading the replica (or run `meshctl status`)"
    t0 = time.monotonic()
    while "today" not in (line := statusline(env, b"{}")) and time.monotonic() - t0 < 30:
        time.sleep(0.2)
    assert "block" in line and "today" in line


def test_statusline_help_goes_through_click(env):
    p = meshctl(env, "statusline", "--help")
    assert p.returncode == 0 and b"Claude Code" in p.stdout


# -- snapshots and the cache -----------------------------------------------------------------------

from meshd.core.ratelimit import Observation, Window  # noqa: E402
from meshd.core.statusline import compose  # noqa: E402

T = 1_767_225_600_000


def snap(**kw: object) -> dict:
    base = {"block": {"cost": 3.0, "start": T - 3_600_000, "end": T + 4 * 3_600_000, "burn": 2.5},
            "today": 7.5, "limits": {"five_hour": {"pct": 40.0, "at": T - 120_000, "resets": T + 3_600_000,
                                                   "device": "laptop"},
                                     "seven_day": {"pct": 12.0, "at": T - 5_000, "resets": T + 86_400_000,
                                                   "device": None}},
            "buckets": [[T - 4 * 3_600_000 - 1_800_000, 9.0, 9.0], [T - 1_800_000, 1.0, 4.0]], "daemon": True, "multi": True}
    base.update(kw)
    return base


def test_compose_at_now():
    line = compose(snap(), None, T)
    assert render(line) == "$3.00 block 4h00m left $2.50/h | $7.50 today | 5h 40% 2m ago @laptop · 7d 12% | here 25%"
    # a minute later from the same snapshot: ages and time left move
    assert "3h59m left" in render(compose(snap(), None, T + 60_000)) and "3m ago" in render(compose(snap(), None, T + 60_000))
    # past the block's end and the 5h reset
    late = render(compose(snap(), None, T + 5 * 3_600_000))
    assert late.startswith("no active block") and "5h reset" in late
    assert render(compose(snap(daemon=False), None, T)).endswith("| mesh offline")


def test_compose_prefers_the_reading_on_stdin():
    obs = Observation(T, "statusline", (Window("five_hour", 55.0, (T + 600_000) // 1000),))
    line = render(compose(snap(), obs, T))
    assert "5h 55% ·" in line and "@laptop" not in line
    # the window began 4h50m ago: both buckets (4h30m and 30m ago) count, this machine paid 10 of 13
    assert line.endswith("here 77%")
    # without an official window the block start is used: only the later bucket
    assert render(compose(snap(limits={}), None, T)).endswith("here 25%")


@pytest.mark.parametrize("menv", [
    {"MESHD_HOME": "/x/y"}, {"MESHD_HOME": "~/h"}, {"MESHD_HOME": "rel/dir"}, {"MESHD_HOME": "/a/../b//c/"},
    {"XDG_DATA_HOME": "/xdg"}, {},
])
def test_home_dir_agrees_with_meshd_config(monkeypatch, menv):
    from meshd.config import default_home
    from meshctl.statusline import home_dir

    for k in ("MESHD_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(k, raising=False)
    for k, v in menv.items():
        monkeypatch.setenv(k, v)
    assert home_dir(None) == str(default_home())
    assert home_dir(Path("some/where")) == str(Path("some/where").expanduser().absolute())


PROBE_CACHED = """
import sys, json
sys.argv = ['meshctl', 'statusline']
from meshctl.entry import main
main()
sys.stderr.write('MODULES ' + json.dumps(sorted(m for m in sys.modules if m.startswith(('meshd', 'click', 'orjson')))))
"""


def test_an_unchanged_replica_is_answered_from_the_cached_snapshot(env):
    home = Path(env["MESHD_HOME"])
    f = live_lines(Path(env["CLAUDE_CONFIG_DIR"]), 6, tag="k")
    assert meshctl(env, "daily").returncode == 0
    payload = json.dumps({"transcript_path": str(f), "rate_limits": rate()}).encode()
    first = statusline(env, payload)  # computes, records the reading, writes the cache
    assert (home / "statusline.cache").stat().st_mode & 0o777 == 0o600
    p = subprocess.run([sys.executable, "-c", PROBE_CACHED], env=env, input=payload, capture_output=True, timeout=60)
    mods = json.loads(p.stderr.decode().rsplit("MODULES ", 1)[1])
    assert p.stdout.decode().strip() == first
    assert "meshd.store.usage" not in mods and "meshd.core.blocks" not in mods and "meshd.config" not in mods, mods
    assert not any(m.startswith(("click", "orjson")) for m in mods), mods
    assert statusline(dict(env, MESHD_STATUSLINE_CACHE="0"), payload) == first  # computed afresh: the same
    # new usage lands in the replica: the next refresh sees it
    live_lines(Path(env["CLAUDE_CONFIG_DIR"]), 3, tag="k", seed=9)
    assert meshctl(env, "daily").returncode == 0
    assert statusline(env, payload) != first
    # a corrupt cache is ignored and replaced
    (home / "statusline.cache").write_bytes(b"\x00garbage{")
    assert "block" in statusline(env, payload)
    assert json.loads((home / "statusline.cache").read_bytes())["v"] == 1


def test_a_cache_with_a_matching_signature_but_broken_content_is_recomputed(env):
    home = Path(env["MESHD_HOME"])
    live_lines(Path(env["CLAUDE_CONFIG_DIR"]), 4, tag="z")
    assert meshctl(env, "daily").returncode == 0
    good = statusline(env, b"{}")
    cache = json.loads((home / "statusline.cache").read_bytes())
    for broken in ({"block": "x"}, {"limits": {"five_hour": 5}}, {"buckets": [[1]]}, {"today": "lots"}):
        (home / "statusline.cache").write_text(json.dumps({**cache, **broken}))
        assert statusline(env, b"{}") == good


def test_render_fits_the_width_claude_code_passes():
    line = Line(block_cost=3.214, block_left_min=133, burn_per_hour=4.1, today_cost=45.666,
                limits=[Limit("five_hour", 23.5, 180_000, "laptop", False), Limit("seven_day", 41.2, 5_000, None, False)],
                share=0.62, note="mesh offline")
    full = render(line)
    assert render(line, len(full)) == full
    assert render(line, len(full) - 1) == full.removesuffix(" | mesh offline")
    assert render(line, 80) == "$3.21 block 2h13m left $4.10/h | $45.67 today | 5h 24% 3m ago @laptop · 7d 41%"
    assert render(line, 70) == "$3.21 block 2h13m left $4.10/h | $45.67 today | 5h 24% · 7d 41%"
    assert render(line, 50) == "$3.21 block 2h13m left $4.10/h | $45.67 today"
    assert render(line, 20) == "$3.21 block 2h13m le"
    assert render(Line(message="meshd: no data yet"), 10) == "meshd: no "


def test_columns_from_claude_code_are_honoured(env):
    live_lines(Path(env["CLAUDE_CONFIG_DIR"]), 4, tag="c")
    assert meshctl(env, "daily").returncode == 0
    payload = json.dumps({"rate_limits": rate()}).encode()
    wide = statusline(env, payload)
    for cols in ("40", "abc", "5", "-1", "99999999999999999999"):
        line = statusline(dict(env, COLUMNS=cols), payload)
        assert line == wide or (cols == "40" and len(line) <= 40 and line.startswith("$")), (cols, line)
