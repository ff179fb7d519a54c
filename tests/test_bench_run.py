"""bench/run: one table of DESIGN §6's figures. Checks rows and numbers, never timings."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "bench" / "run"


def load_run():  # type: ignore[no-untyped-def]
    loader = importlib.machinery.SourceFileLoader("bench_run", str(RUN))
    spec = importlib.util.spec_from_loader("bench_run", loader)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    loader.exec_module(mod)
    return mod


def bench(*args: str, env: dict[str, str] | None = None, timeout: float = 600,
          user: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*(user or []), sys.executable, str(RUN), *args], capture_output=True, text=True,
                          env=env or dict(os.environ), timeout=timeout, cwd=ROOT)


def test_quick_local_run_prints_every_local_row_with_numbers(tmp_path: Path) -> None:
    env = dict(os.environ)
    cc = env.get("CCUSAGE_BIN")
    if not cc:   # no peer: the meshd figures must still be there, marked "no ccusage"
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.defpath])
        cc = shutil.which("ccusage", path=env["PATH"])
    out = tmp_path / "rows.json"
    p = bench("--quick", "--only", "reports,update,statusline", "--mb", "3", "--big-mb", "0", "--json", str(out),
              "--keep", str(tmp_path / "work"), env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    doc = json.loads(out.read_text())
    rows = {r["key"]: r for r in doc["rows"]}
    want = ["first_ingest@3", "daily_warm@3", "blocks_warm@3", "statusline_steady@3", "statusline_full@3",
            "statusline_reading@3", "update@3"]
    assert list(rows) == want, list(rows)
    lines = p.stdout.splitlines()
    assert lines[0].startswith("meshd bench/run, ") and "--quick" in lines[0]
    assert lines[1].split()[:2] == ["what", "meshd"]
    for key in want:   # every row is in the printed table, with its number
        r = rows[key]
        assert any(ln.startswith(r["what"]) and r["meshd"] in ln for ln in lines), (key, p.stdout)
    for key in want[:3]:
        v = rows[key]["values"]
        assert v["meshd_s"] > 0 and v["history_bytes"] > 2_000_000
        if cc:
            assert v["ccusage_s"] > 0 and v["ratio_x"] == pytest.approx(v["ccusage_s"] / v["meshd_s"])
            assert rows[key]["result"] in ("met", "MISSED") and rows[key]["ratio"].endswith("x")
        else:
            assert rows[key]["ccusage"] == "no ccusage" and rows[key]["result"] == "n/a (no ccusage)"
    for key in want[3:6]:
        v = rows[key]["values"]
        assert 0 < v["median_ms"] <= v["p90_ms"] and v["cpu_ms"] > 0 and v["runs"] == 7
        assert rows[key]["meshd"] == f"{v['median_ms']:.1f} ms (cpu {v['cpu_ms']:.0f})"
        assert rows[key]["result"] == ("met" if v["median_ms"] < 100 else "MISSED")
        assert rows[key]["target"] == "< 100 ms"
    u = rows["update@3"]["values"]
    assert u["new_bytes"] > 10_000 and u["update_s"] > 0 and u["unchanged_s"] > 0
    assert u["update_cost_s"] == pytest.approx(u["update_s"] - u["unchanged_s"])
    assert not any(k.startswith(("catchup", "converge", "idle", "bytes")) for k in rows)   # --only honoured
    assert doc["markdown"].count("\n") == len(want) + 1
    assert set(doc["steps"]) == {"generate 3 MB", "reports 3 MB", "statusline 3 MB", "update 3 MB"}
    # --keep leaves the scripts' logs and JSON behind
    assert (tmp_path / "work" / "logs" / "reports_3_MB.log").exists()
    assert json.loads((tmp_path / "work" / "h3" / "reports.json").read_text())["runs"] == 3


@pytest.mark.parametrize("args,env_extra", [
    (["--only", "bogus"], {}),
    (["--only", ""], {}),
    (["--only", ",,,"], {}),
    (["--only", "x" * 100_000], {}),
    (["--mb", "-1"], {}),
    (["--mb", "abc"], {}),
    (["--mb", "1e309"], {}),
    (["--mb", "nan"], {}),
    (["--mb", "0"], {}),
    (["--records", "1.5"], {}),
    (["--records", "1" + "0" * 400], {}),
    (["--trials", "0"], {}),
    (["--idle", "-5"], {}),
    (["--mb", "300", "--big-mb", "200"], {}),
    (["--json", "/nonexistent-dir/rows.json"], {}),
    (["--json", ""], {}),
    (["--json", "/"], {}),
    (["--keep", str(RUN)], {}),
    (["--quick"], {"CCUSAGE_BIN": "/nonexistent/ccusage"}),
    (["--quick"], {"CCUSAGE_BIN": str(RUN.parent)}),
], ids=lambda v: repr(v)[:40])
def test_bad_arguments_are_one_line_errors(args: list[str], env_extra: dict[str, str], tmp_path: Path) -> None:
    p = bench(*args, env=dict(os.environ, **env_extra), timeout=60)
    assert p.returncode == 2, (p.stdout, p.stderr)
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bench/run: error: ") and "(hint: " in err[0], p.stderr
    assert len(err[0]) < 600 and "Traceback" not in p.stderr and p.stdout == ""


def test_unknown_option_is_argparse_usage_error() -> None:
    p = bench("--frobnicate", timeout=60)
    assert p.returncode == 2 and "unrecognized arguments" in p.stderr and "Traceback" not in p.stderr


def test_mesh_rows_say_skipped_without_root() -> None:
    m = load_run()
    rows = m.mesh_rows(list(m.STEPS), None, "needs root", 1_000_000)
    assert [r["key"] for r in rows] == ["catchup", "converge", "idle_rss", "idle_cpu", "bytes_round", "bytes_sync"]
    assert all(r["meshd"] == "skipped (needs root)" and r["result"] == "skipped" and r["target"] for r in rows)
    only = m.mesh_rows(["idle"], None, "needs root", 10)
    assert [r["key"] for r in only] == ["idle_rss", "idle_cpu"]


def test_mesh_rows_from_mesh_bench_json() -> None:
    # The shape mesh_bench.py --json writes (numbers parsed from its `measured` strings).
    fig = [
        {"what": "catch-up, records (usage rows + rollup checked)", "measured": "1,000,001", "target": "",
         "numbers": [1000001.0]},
        {"what": "catch-up, from ready line", "measured": "8.00 s = 125,000 rec/s", "target": "",
         "numbers": [8.0, 125000.0]},
        {"what": "convergence, 5 daemons, trials", "measured": "30", "target": "", "numbers": [30.0]},
        {"what": "convergence p50 / p95 / max", "measured": "42 / 1054 / 1071 ms", "target": "",
         "numbers": [42.0, 1054.0, 1071.0]},
        {"what": "idle RSS over 60 s (max of 5)", "measured": "66 MB (min 60)", "target": "", "numbers": [66.0, 60.0]},
        {"what": "idle CPU over 60 s (max of 5)", "measured": "0.20 % of a core (mean 0.15)", "target": "",
         "numbers": [0.2, 0.15]},
        {"what": "idle bytes per push-pull round (2 peers, 1 s interval)", "measured": "595 B (1,190 B/s)",
         "target": "", "numbers": [595.0, 1190.0]},
        {"what": "bytes per explicit `meshctl sync` round, idle", "measured": "2,654 B (10/10 ok)", "target": "",
         "numbers": [2654.0, 10.0, 10.0]},
    ]
    m = load_run()
    rows = {r["key"]: r for r in m.mesh_rows(list(m.STEPS), fig, None, 1_000_001)}
    assert rows["catchup"]["result"] == "met" and rows["catchup"]["values"]["rec_per_s"] == pytest.approx(125000.125)
    assert rows["converge"]["result"] == "MISSED" and rows["converge"]["values"]["p95_ms"] == 1054
    assert rows["idle_rss"]["result"] == "met" and rows["idle_cpu"]["meshd"] == "0.20 %"
    assert rows["bytes_round"]["result"] == "met" and rows["bytes_sync"]["result"] == "MISSED"
    broken = m.mesh_rows(["converge"], fig[:2], None, 10)   # a figure missing from the output
    assert broken[0]["result"] == "failed"


def test_live_rows_from_live_idle_cpu_json() -> None:
    m = load_run()
    fig = [{"daemon": False, "feed": "polling", "files": 21, "seconds": 5.0, "cpu_pct": 0.4},
           {"daemon": True, "feed": "via daemon", "files": 21, "seconds": 5.0, "cpu_pct": 0.123}]
    rows = m.live_rows(fig, None)
    assert [r["key"] for r in rows] == ["live_nodaemon", "live_daemon"]
    assert rows[1]["meshd"] == "0.12 % (feed: via daemon)" and "21 log files, 5 s" in rows[1]["what"]
    skipped = m.live_rows(None, "needs tmux")
    assert [r["meshd"] for r in skipped] == ["skipped (needs tmux)"] * 2


def test_table_lines_up_and_markdown_escapes() -> None:
    m = load_run()
    rows = [m.row("a", "x | y", "1 s", ratio="2.00x", target="≥ 1x", result="met"), m.row("b", "long name", "2 s")]
    text = m.table(rows).splitlines()
    assert len(text) == 4 and text[2].index("1 s") == text[3].index("2 s") == text[0].index("meshd")
    md = m.table(rows, markdown=True).splitlines()
    assert md[2].startswith("| x \\| y | 1 s | — | 2.00x |") and md[3].endswith("| — | — |")


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv to run bench/run as an unprivileged user")
def test_mesh_steps_skip_as_unprivileged_user() -> None:
    work = Path(tempfile.mkdtemp(prefix="benchrun-nobody-"))   # pytest's own tmp folders are root-only
    try:
        work.chmod(0o777)
        out = work / "rows.json"
        env = dict(os.environ, HOME=str(work), TMPDIR=str(work))
        p = bench("--only", "mesh", "--json", str(out), env=env, timeout=120,
                  user=["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
        rows = json.loads(out.read_text())["rows"] if out.exists() else None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if p.returncode != 0 and "Permission denied" in p.stderr:
        pytest.skip(f"the checkout is not readable by nobody: {p.stderr.strip()[-200:]}")
    assert p.returncode == 0, p.stderr
    assert rows is not None and len(rows) == 6 and all(r["meshd"] == "skipped (needs root)" for r in rows)
    assert p.stdout.count("skipped (needs root)") == 6
