"""`meshctl export`: totals equal the reports', CSV survives hostile project names, empty replicas,
broken arguments, and rows stream from a cursor (memory does not grow with the replica)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from meshd.config import load_config
from meshd.store.replica import transaction
from tests.histgen import generate

LINE = ('{{"timestamp":"{ts}","sessionId":"{sid}","message":{{"id":"{mid}","model":"claude-sonnet-4-5",'
        '"usage":{{"input_tokens":{i},"output_tokens":{o}}}}},"requestId":"r-{mid}","version":"1.0.0"}}\n')
TOKENS = ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens", "total_tokens")
REPORT = {"input_tokens": "inputTokens", "output_tokens": "outputTokens", "cache_creation_tokens": "cacheCreationTokens",
          "cache_read_tokens": "cacheReadTokens", "total_tokens": "totalTokens"}


def run(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    """meshctl in a subprocess; stdout decoded without newline translation (CSV keeps its \r)."""
    p = subprocess.run([sys.executable, "-m", "meshctl", *argv], env=env, capture_output=True, timeout=120)
    return subprocess.CompletedProcess(p.args, p.returncode, p.stdout.decode("utf-8"),
                                       p.stderr.decode("utf-8", "replace"))


def copy_logs(src, dst) -> None:  # type: ignore[no-untyped-def]
    """Replicate every log src holds into dst, as gossip would (real batches, real transactions)."""
    for (origin, epoch), _ in src.vector().items():
        while (b := src.read_after(origin, epoch, dst.held(origin, epoch))) is not None:
            with transaction(dst.conn):
                dst.apply_batch(b)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Two devices (two data homes) with generated histories; home A holds the merged replica."""
    from meshd.app import ingest_local, open_replica

    root = tmp_path_factory.mktemp("exp")
    hist = generate(root / "hist", folders=2, target_bytes=2 << 20, seed=11)
    homes = []
    for name, folder in (("alpha", hist.folders[0]), ("beta", hist.folders[1])):
        home = root / name
        home.mkdir()
        (home / "config.toml").write_text(f'device_name = "{name}"\nclaude_dirs = ["{folder}"]\n')
        homes.append(home)
    reps = []
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("CLAUDE_CONFIG_DIR", raising=False)
        for home in homes:
            cfg = load_config(home)
            r = open_replica(cfg)
            ingest_local(r, cfg)
            reps.append(r)
    copy_logs(reps[1], reps[0])
    for r in reps:
        r.conn.close()
    env = dict(os.environ, MESHD_HOME=str(homes[0]), TZ="UTC")
    env.pop("CLAUDE_CONFIG_DIR", None)
    return env


def sums(lines: list[dict]) -> dict[str, float]:  # type: ignore[type-arg]
    out = {k: 0 for k in (*TOKENS, "cost_usd")}
    for d in lines:
        for k in out:
            out[k] += d[k]
    return out


def jsonl(text: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(x) for x in text.split("\n") if x]


@pytest.mark.parametrize("extra", [[], ["--timezone", "America/New_York", "--since", "2026-03-04", "--until",
                                        "2026-03-19"], ["--device", "beta"], ["--mode", "calculate", "-z", "Asia/Kolkata"]])
def test_totals_equal_daily_json(mesh: dict[str, str], extra: list[str]) -> None:
    p = run(mesh, "export", *extra)
    assert p.returncode == 0, p.stderr
    rows = jsonl(p.stdout)
    assert len(rows) > 100
    daily = json.loads(run(mesh, "daily", "--json", *extra).stdout)["totals"]
    got = sums(rows)
    for k in TOKENS:
        assert got[k] == daily[REPORT[k]], k
    assert got["cost_usd"] == pytest.approx(daily["totalCost"], rel=1e-9)
    if "--device" in extra:
        assert {r["device"] for r in rows} == {"beta"}
    elif not extra:
        assert {r["device"] for r in rows} == {"alpha", "beta"}  # the merged view, not just this machine


def test_exact_dedup_totals_equal_monthly_and_rows_are_documented(mesh: dict[str, str]) -> None:
    from meshctl.export_cmd import COLUMNS

    rows = jsonl(run(mesh, "export", "--dedup", "exact").stdout)
    monthly = json.loads(run(mesh, "monthly", "--json").stdout)["totals"]
    got = sums(rows)
    for k in TOKENS:
        assert got[k] == monthly[REPORT[k]], k
    assert got["cost_usd"] == pytest.approx(monthly["totalCost"], rel=1e-9)
    assert list(rows[0]) == sorted(COLUMNS)  # every documented column, sorted keys
    stamps = [r["timestamp"] for r in rows]
    assert stamps == sorted(stamps) and all(s.endswith("Z") and s[10] == "T" for s in stamps)
    for r in rows:
        assert r["total_tokens"] == r["input_tokens"] + r["output_tokens"] + r["cache_creation_tokens"] + r["cache_read_tokens"]
        assert r["cache_creation_tokens"] == r["cache_creation_5m_tokens"] + r["cache_creation_1h_tokens"]
        assert len(r["device_id"]) == 32 and r["date"] == r["timestamp"][:10]  # TZ=UTC


def test_csv_equals_jsonl_and_output_file(mesh: dict[str, str], tmp_path: Path) -> None:
    rows = jsonl(run(mesh, "export").stdout)
    out = tmp_path / "usage.csv"
    p = run(mesh, "export", "--format", "csv", "--output", str(out), "--csv-raw")
    assert p.returncode == 0 and p.stdout == "", p.stderr
    assert [x.name for x in tmp_path.iterdir()] == ["usage.csv"]  # no temp file left behind
    with open(out, newline="", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(rows)
    for c, j in zip(table, rows):
        assert c["project"] == j["project"] and int(c["total_tokens"]) == j["total_tokens"]
        assert float(c["cost_usd"]) == j["cost_usd"]  # repr: exact round trip


def test_provider_filter_and_unknown_provider_rows(mesh: dict[str, str]) -> None:
    p = run(mesh, "export", "--provider", "codex")
    assert p.returncode == 0 and p.stdout == ""
    assert jsonl(run(mesh, "export", "--provider", "claude").stdout) == jsonl(run(mesh, "export").stdout)


HOSTILE = ["a,b", 'say "hi"', "two\nlines", "cr\rhere", "=HYPERLINK(\"evil\")", "+1+1", "-2+3", "@SUM(A1)",
           "\tTAB", "plain", "ünï 😀", "'quoted"]


@pytest.fixture()
def hostile_env(tmp_path: Path) -> dict[str, str]:
    claude = tmp_path / "claude" / "projects"
    for k, name in enumerate(HOSTILE):
        d = claude / name
        d.mkdir(parents=True)
        (d / f"s{k}.jsonl").write_text(LINE.format(ts=f"2026-01-09T10:{k:02d}:00.000Z", sid=f"s{k}", mid=f"m{k}",
                                                    i=100 + k, o=k))
    return dict(os.environ, MESHD_HOME=str(tmp_path / "home"), CLAUDE_CONFIG_DIR=str(tmp_path / "claude"), TZ="UTC")


def test_csv_quotes_hostile_project_names_and_guards_formulas(hostile_env: dict[str, str]) -> None:
    p = run(hostile_env, "export", "--format", "csv")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("timestamp,date,device,")
    with io.StringIO(p.stdout, newline="") as f:  # csv module: RFC 4180 reader
        table = list(csv.DictReader(f))
    assert [r["project"] for r in table] == [
        ("'" + n if n[0] in "=+-@\t\r" else n) for n in HOSTILE
    ]
    assert [int(r["input_tokens"]) for r in table] == [100 + k for k in range(len(HOSTILE))]
    raw = run(hostile_env, "export", "--format", "csv", "--csv-raw").stdout
    with io.StringIO(raw, newline="") as f:
        assert [r["project"] for r in csv.DictReader(f)] == HOSTILE
    # JSON lines carry the names exactly
    assert [r["project"] for r in jsonl(run(hostile_env, "export").stdout)] == HOSTILE
    assert [r["project"] for r in jsonl(run(hostile_env, "export", "--project", "a,b").stdout)] == ["a,b"]


def test_guard_cell_rules() -> None:
    from meshctl.export_cmd import guard_cell

    assert guard_cell("=1+1") == "'=1+1" and guard_cell("@x") == "'@x" and guard_cell("-home-a") == "'-home-a"
    assert guard_cell("home") == "home" and guard_cell("") == "" and guard_cell("a=b") == "a=b"


def test_empty_replica(tmp_path: Path) -> None:
    (tmp_path / "claude" / "projects").mkdir(parents=True)
    env = dict(os.environ, MESHD_HOME=str(tmp_path / "home"), CLAUDE_CONFIG_DIR=str(tmp_path / "claude"))
    p = run(env, "export")
    assert p.returncode == 0 and p.stdout == "" and p.stderr == ""
    p = run(env, "export", "--format", "csv")
    assert p.returncode == 0 and p.stdout.split("\r\n") == [
        "timestamp,date,device,device_id,provider,model,project,session,input_tokens,output_tokens,"
        "cache_creation_5m_tokens,cache_creation_1h_tokens,cache_creation_tokens,cache_read_tokens,"
        "reasoning_tokens,total_tokens,cost_usd", ""]


@pytest.mark.parametrize("argv", [
    ["--format", "xml"],
    ["--since", "2026-02-30"],
    ["--until", "9" * 5000],
    ["--timezone", "Mars/Olympus"],
    ["--device", "no-such-machine"],
    ["--mode", "free"],
    ["--dedup", "maybe"],
    ["--provider", "gemini"],
    ["--output", ""],
    ["--output", "/"],
    ["--output", "/nonexistent/dir/x.csv"],
    ["--output", "x" * 5000],
])
def test_broken_arguments_fail_cleanly(hostile_env: dict[str, str], argv: list[str]) -> None:
    p = run(hostile_env, "export", *argv)
    assert p.returncode != 0
    assert "Traceback" not in p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert 1 <= len(lines) <= 4, p.stderr
    assert p.stdout == ""


def test_export_streams_in_constant_memory(tmp_path: Path) -> None:
    """Python-side memory while exporting does not grow with the number of rows (a list would)."""
    from meshctl.export_cmd import records, write_csv, write_jsonl
    from meshd.app import open_replica
    from meshd.core.entry import UsageEntry
    from meshd.core.periods import resolve_tz
    from meshd.store.usage import RowFilter

    replica = open_replica(home=tmp_path / "home")

    def add(n: int, start: int) -> None:
        with transaction(replica.conn):
            replica.append_usage(
                UsageEntry(ts=1_767_000_000_000 + (start + i) * 1000, provider="claude", model="claude-sonnet-4-5",
                           session_id=f"s{(start + i) % 97}", project=f"-home-p{(start + i) % 13}", input_tokens=i,
                           output_tokens=1, message_id=f"m{start + i}", request_id=f"r{start + i}")
                for i in range(n))

    class Sink(io.RawIOBase):
        n = 0

        def writable(self) -> bool:
            return True

        def write(self, b) -> int:  # type: ignore[no-untyped-def,override]
            self.n += len(b)
            return len(b)

    def peak(writer) -> tuple[int, int]:  # type: ignore[no-untyped-def]
        sink = Sink()
        tracemalloc.start()
        try:
            rows = records(replica.conn, mode="auto", flt=RowFilter(), tz=resolve_tz("UTC"), since=None, until=None,
                           rule="daily")
            count = writer(rows, sink)
            return tracemalloc.get_traced_memory()[1], count
        finally:
            tracemalloc.stop()

    add(5_000, 0)
    small_j, n1 = peak(write_jsonl)
    small_c, _ = peak(write_csv)
    add(60_000, 5_000)
    big_j, n2 = peak(write_jsonl)
    big_c, _ = peak(write_csv)
    assert (n1, n2) == (5_000, 65_000)
    # 60 000 more rows as dicts or tuples would be tens of MB; streaming stays flat.
    assert big_j < small_j + (1 << 20), (small_j, big_j)
    assert big_c < small_c + (1 << 20), (small_c, big_c)
    assert big_j < 4 << 20 and big_c < 4 << 20


@pytest.mark.parametrize("rule", ["daily", "exact"])
def test_export_queries_walk_an_index_instead_of_sorting(tmp_path: Path, rule: str) -> None:
    """SQLite's side of constant memory: no temp B-tree for ORDER BY (temp_store is MEMORY)."""
    from meshd.app import open_replica
    from meshd.store import export
    from meshd.store.usage import RowFilter

    replica = open_replica(home=tmp_path / "home")
    seen: list[str] = []
    conn = replica.conn

    class Spy:
        def execute(self, sql: str, args=()):  # type: ignore[no-untyped-def]
            seen.append(" ".join(str(x[-1]) for x in conn.execute("EXPLAIN QUERY PLAN " + sql, args)))
            return conn.execute(sql, args)

    for flt in (RowFilter(), RowFilter(since_ms=1, until_ms=2, provider="claude", origins=("a", "b"), project="p")):
        list(export.usage_entries(Spy(), "auto", flt, rule=rule))  # type: ignore[arg-type]
    assert seen and all("TEMP B-TREE" not in s and "USING INDEX" in s for s in seen), seen
