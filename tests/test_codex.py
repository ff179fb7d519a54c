"""Codex CLI usage: the pure rollout parser, source discovery, incremental ingest into a real
SQLite replica, pricing, and the --provider filter of meshctl's reports."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from meshd.app import ingest_local
from meshd.config import Config
from meshd.core import codex_log
from meshd.core.codex_log import CodexState, parse_chunk
from meshd.core.pricing import PriceTable, codex_entry_cost
from meshd.ingest import tailer
from meshd.ingest.sources import codex_files, codex_roots
from meshd.store.db import connect, init_schema
from meshd.store.replica import Replica
from tests.codexgen import generate

DEV = "c" * 32


def tc(ts: str, *, total: tuple[int, ...] | None = None, last: tuple[int, ...] | None = None, **info: object) -> str:
    def u(v: tuple[int, ...]) -> dict:
        return {"input_tokens": v[0], "cached_input_tokens": v[1], "output_tokens": v[2],
                "reasoning_output_tokens": v[3], "total_tokens": v[0] + v[2]}
    if total is not None:
        info["total_token_usage"] = u(total)
    if last is not None:
        info["last_token_usage"] = u(last)
    return json.dumps({"timestamp": ts, "type": "event_msg", "payload": {"type": "token_count", "info": info}})


def ctx(model: str | None, ts: str = "2026-03-01T10:00:00.000Z", cwd: str | None = None) -> str:
    p: dict[str, object] = {}
    if model is not None:
        p["model"] = model
    if cwd is not None:
        p["cwd"] = cwd
    return json.dumps({"timestamp": ts, "type": "turn_context", "payload": p})


def parse(lines: list[str], state: CodexState | None = None, sid: str = "2026/03/01/s"):
    body = ("\n".join(lines) + "\n").encode()
    res, _ = parse_chunk(body, 0, state or CodexState(), sid)
    return res


# ---- pure parser -------------------------------------------------------------------------------


def test_running_totals_become_per_event_usage_and_last_usage_wins() -> None:
    r = parse([
        json.dumps({"timestamp": "2026-03-01T09:59:00.000Z", "type": "session_meta", "payload": {"cwd": "/h/a/p"}}),
        ctx("gpt-5-codex"),
        tc("2026-03-01T10:00:01.000Z", total=(1000, 200, 100, 40), last=(1000, 200, 100, 40)),
        tc("2026-03-01T10:01:00.000Z", total=(3000, 1200, 300, 100)),           # delta 2000/1000/200/60
        tc("2026-03-01T10:02:00.000Z", info=None),                              # not usage
        json.dumps({"timestamp": "2026-03-01T10:02:30.000Z", "type": "event_msg",
                    "payload": {"type": "token_count", "info": None}}),
        tc("2026-03-01T10:03:00.000Z", total=(3000, 1200, 300, 100)),           # delta 0: nothing
        ctx("gpt-5.4"),
        tc("2026-03-01T10:04:00.000Z", total=(9000, 1200, 400, 100), last=(7, 9, 1, 0)),  # last wins, cached<=input
        tc("2026-03-01T10:05:00.000Z", total=(9100, 1200, 410, 100)),           # delta from the last total
    ])
    got = [(e.model, e.input_tokens, e.cache_read_tokens, e.output_tokens, e.reasoning_tokens) for e in r.entries]
    assert got == [("gpt-5-codex", 800, 200, 100, 40), ("gpt-5-codex", 1000, 1000, 200, 60),
                   ("gpt-5.4", 0, 7, 1, 0), ("gpt-5.4", 100, 0, 10, 0)]
    assert {e.provider for e in r.entries} == {"codex"}
    assert {e.project for e in r.entries} == {"-h-a-p"}
    assert r.skipped == 0


def test_model_fallbacks_as_ccusage() -> None:
    r = parse([
        tc("2026-03-01T10:00:00.000Z", last=(10, 0, 1, 0)),                     # no model yet: gpt-5
        ctx("codex-auto-review"),
        tc("2026-03-06T10:00:00.000Z", last=(20, 0, 1, 0)),                     # priced by date: gpt-5.4
        tc("2025-10-01T10:00:00.000Z", last=(30, 0, 1, 0), model="codex-auto-review"),  # gpt-5-codex
        tc("2026-03-03T10:00:00.000Z", last=(40, 0, 1, 0), model="  gpt-5.2-codex "),   # the event's own
        tc("2026-03-03T10:01:00.000Z", last=(50, 0, 1, 0), metadata={"model": "gpt-5.5"}),
    ])
    assert [e.model for e in r.entries] == ["gpt-5", "gpt-5.4", "gpt-5-codex", "gpt-5.2-codex", "gpt-5.5"]
    assert codex_log.auto_review_model("2026-08-01T00:00:00Z") == "gpt-5.6-luna"
    assert codex_log.auto_review_model("2020-01-01T00:00:00Z") == "gpt-5"
    assert codex_log.auto_review_model("garbage") == "gpt-5"


def test_lenient_token_fields_and_alternative_names() -> None:
    line = json.dumps({"timestamp": "2026-03-01T10:00:00.000Z", "type": "event_msg", "payload": {
        "type": "token_count", "info": {"last_token_usage": {
            "input_tokens": " 1000", "cached_input_tokens": -1, "cached_tokens": 100, "output_tokens": 10.0,
            "completion_tokens": True, "output": "7", "reasoning_tokens": "2", "total_tokens": 0}}}})
    (e,) = parse([ctx("gpt-5"), line]).entries
    assert (e.input_tokens, e.cache_read_tokens, e.output_tokens, e.reasoning_tokens) == (900, 100, 7, 2)


def test_cache_writes_are_split_from_input() -> None:
    line = json.dumps({"timestamp": "2026-03-01T10:00:00.000Z", "type": "event_msg", "payload": {
        "type": "token_count", "info": {"last_token_usage": {
            "input_tokens": 1000, "cached_input_tokens": 100, "cache_write_input_tokens": 50, "output_tokens": 10}}}})
    (e,) = parse([ctx("gpt-5"), line]).entries
    assert (e.input_tokens, e.cache_read_tokens, e.cache_write_5m_tokens) == (850, 100, 50)


def test_broken_and_hostile_lines_are_skipped_and_counted() -> None:
    huge = tc("2026-03-01T10:00:09.000Z", last=(1 << 60, 0, 1, 0))
    r = parse([
        ctx("gpt-5"),
        "garbage{{",
        '{"type":"event_msg","payload":{"type":"token_count"',                  # torn
        tc("2026-03-01T10:00:00.123456Z", last=(10, 0, 1, 0)),                  # microseconds: ccusage aborts
        tc("2026-03-01 10:00:00Z", last=(10, 0, 1, 0)),
        tc("2026-02-30T10:00:00.000Z", last=(10, 0, 1, 0)),
        huge,
        "[1,2,3] token_count",
        tc("2026-03-01T10:00:01.000Z", last=(10, 0, 1, 0)),                     # the one good line
        tc("   ", last=(10, 0, 1, 0)),                                           # no timestamp: ignored
        json.dumps({"type": "turn_context", "payload": "not an object"}),
        json.dumps({"timestamp": 1772359200, "type": "event_msg",                # epoch seconds are fine
                    "payload": {"type": "token_count", "info": {"last_token_usage": {"input_tokens": 5}}}}),
        "\x00" * 5000,
    ])
    assert [e.input_tokens for e in r.entries] == [10, 5]
    assert r.entries[1].ts == 1772359200_000
    assert r.skipped == 8 and r.last_skip is not None


def test_subagent_replayed_prefix_only_moves_the_total() -> None:
    lines = [
        json.dumps({"timestamp": "2026-03-01T03:00:00.000Z", "type": "session_meta",
                    "payload": {"source": {"subagent": {"thread_spawn": {"parent_thread_id": "p"}}}}}),
        ctx("gpt-5.2-codex"),
        tc("2026-03-01T03:00:00.100Z", total=(1000, 0, 100, 0)),
        tc("2026-03-01T03:00:00.200Z", total=(2000, 0, 200, 0)),
        tc("2026-03-01T03:00:05.000Z", total=(2500, 0, 250, 0)),
        tc("2026-03-01T03:00:00.300Z", total=(3000, 0, 300, 0)),               # same second, but after: counts
    ]
    data = ("\n".join(lines) + "\n").encode()
    state = codex_log.start_state(data)
    assert state.replay_second == "2026-03-01T03:00:00"
    r = parse(lines, state)
    assert [e.input_tokens for e in r.entries] == [500, 500]
    # not a subagent file: nothing is skipped
    assert codex_log.start_state(data.replace(b"thread_spawn", b"thread_other")).replay_second is None


def test_state_survives_a_round_trip_and_hostile_state_is_fresh() -> None:
    s = CodexState([1, 2, 3, 4, 5, 6], "gpt-5", True, "/x", "2026-03-01T03:00:00", True)
    assert CodexState.from_json(s.to_json()) == s
    for bad in (b"", b"null", b"[]", b"{", b'{"prev_total":[1,2]}', b'{"prev_total":[-1,0,0,0,0,0]}',
                b'{"model":5,"skip_replay":true}', b"\xff" * 10):
        st = CodexState.from_json(bad)
        assert st.prev_total is None and st.model is None and not st.skip_replay


def test_any_chunking_gives_the_entries_of_one_pass(tmp_path: Path) -> None:
    h = generate(tmp_path / "codex", sessions=12, seed=3)
    rng = random.Random(5)
    for f in h.files:
        data = f.read_bytes()
        data = data[: data.rfind(b"\n") + 1]
        sid = f.stem
        whole, _ = parse_chunk(data, 0, codex_log.start_state(data), sid)
        lines = data.split(b"\n")[:-1]
        state_blob = codex_log.start_state(data).to_json()
        got: list = []
        i, lineno = 0, 0
        while i < len(lines):
            n = rng.randint(1, 7)
            state = CodexState.from_json(state_blob)  # as if the process restarted between chunks
            res, lineno = parse_chunk(b"\n".join(lines[i:i + n]) + b"\n", lineno, state, sid)
            got.extend(res.entries)
            state_blob = state.to_json()
            i += n
        assert got == whole.entries, f


def test_pricing_follows_ccusages_codex_rule() -> None:
    table = PriceTable.from_litellm({
        "gpt-x": {"input_cost_per_token": 1e-6, "output_cost_per_token": 1e-5, "cache_read_input_token_cost": 1e-7,
                  "input_cost_per_token_above_200k_tokens": 9e-6},
        "gpt-y": {"input_cost_per_token": 2e-6, "output_cost_per_token": 1e-5},
    })
    x, y = table.lookup("gpt-x"), table.lookup("gpt-y")
    assert x is not None and y is not None and not y.cache_read_explicit
    # no 200k tier; cached at the cache-read rate, or at the input rate when none is listed
    assert codex_entry_cost(x, 300_000, 10, 0, 1000) == pytest.approx(300_000e-6 + 10e-5 + 1000e-7)
    assert codex_entry_cost(y, 100, 10, 0, 1000) == pytest.approx(100 * 2e-6 + 10e-5 + 1000 * 2e-6)
    assert codex_entry_cost(y, 0, 0, 50, 0) == pytest.approx(50 * 2e-6 * 1.25)


def test_fast_service_tier_from_codex_config() -> None:
    yes = ['service_tier = "fast"', "service_tier='priority' # faster", "  service_tier=fast", 'service_tier = "fast"\r']
    no = ['service_tier = "breakfast"', 'service_tier_override = "fast"', '# service_tier = "fast"',
          'service_tier = "standard"', "service_tier", "=fast", "", "\x00" * 100, '[x]\nmodel = "fast"']
    assert all(codex_log.fast_service_tier(t) for t in yes)
    assert not any(codex_log.fast_service_tier(t) for t in no)
    table = PriceTable.from_litellm({"gpt-5.4": {"input_cost_per_token": 2.5e-6, "output_cost_per_token": 1.5e-5},
                                     "gpt-5": {"input_cost_per_token": 1.25e-6, "output_cost_per_token": 1e-5}})
    p54, p5 = table.lookup("gpt-5.4"), table.lookup("gpt-5")
    assert p54 is not None and p5 is not None
    assert codex_entry_cost(p54, 1000, 100, 0, 0, "fast") == pytest.approx(2 * codex_entry_cost(p54, 1000, 100, 0, 0))
    assert codex_entry_cost(p5, 1000, 100, 0, 0, "fast") == codex_entry_cost(p5, 1000, 100, 0, 0)


# ---- sources -----------------------------------------------------------------------------------


def test_codex_roots_and_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    (a / "sessions" / "2026" / "03").mkdir(parents=True)
    (a / "archived_sessions" / "2026").mkdir(parents=True)
    (b).mkdir()
    (a / "sessions" / "2026" / "03" / "r1.jsonl").write_text("")
    (a / "archived_sessions" / "2026" / "r2.jsonl").write_text("")
    (a / "sessions" / "2026" / "notes.json").write_text("")
    (b / "loose.jsonl").write_text("")
    os.symlink(a / "sessions" / "2026" / "03" / "r1.jsonl", a / "sessions" / "link.jsonl")
    env = {"CODEX_HOME": f" {a} ,,{b},{tmp_path / 'missing'},{a}/", "HOME": str(tmp_path)}
    roots = codex_roots(env)
    assert roots == [a, b]
    files = [f for r in roots for f in codex_files(r)]
    assert [(f.session_id, f.provider) for f in files] == [
        ("2026/r2", "codex"), ("2026/03/r1", "codex"), ("loose", "codex")]
    assert codex_roots({"CODEX_HOME": "", "HOME": str(tmp_path)}) == []
    assert codex_roots({"CODEX_HOME": ",;," * 1000, "HOME": str(tmp_path)}) == []
    (tmp_path / ".codex").mkdir()
    assert codex_roots({"HOME": str(tmp_path)}) == [tmp_path / ".codex"]
    assert codex_roots({"HOME": str(tmp_path)}, configured=(str(b),)) == [b]


# ---- ingest on a real replica ------------------------------------------------------------------


@pytest.fixture()
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path / "home"
    home.mkdir()
    codex = tmp_path / "codex"
    (codex / "sessions").mkdir(parents=True)
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CODEX_HOME", str(codex))
    conn = connect(home / "meshd.db")
    init_schema(conn)
    replica = Replica(conn, DEV, 1, lambda e: 0.0)
    return codex, replica, Config(home=home)


def totals(replica: Replica) -> tuple[int, int, int, int]:
    return replica.conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(input), 0), COALESCE(SUM(cr), 0), COALESCE(SUM(output), 0)"
        " FROM usage WHERE winner=1 AND provider='codex'").fetchone()


def test_growing_file_resumes_with_its_running_total(world) -> None:
    codex, replica, config = world
    f = codex / "sessions" / "s.jsonl"
    f.write_text(ctx("gpt-5") + "\n" + tc("2026-03-01T10:00:00.000Z", total=(100, 0, 10, 0)) + "\n")
    assert ingest_local(replica, config).entries == 1
    # a total-only line and a partial one: the delta needs the stored running total
    with f.open("a") as fh:
        fh.write(tc("2026-03-01T10:01:00.000Z", total=(250, 50, 30, 0)) + "\n" + tc("2026-03-01T10:02:00.000Z")[:20])
    assert ingest_local(replica, config).entries == 1
    assert totals(replica) == (2, 200, 50, 30)
    with f.open("a") as fh:  # the partial line completes
        fh.write(tc("2026-03-01T10:02:00.000Z", total=(400, 50, 40, 0))[20:] + "\n")
    assert ingest_local(replica, config).entries == 1
    assert totals(replica) == (3, 350, 50, 40)
    assert ingest_local(replica, config).entries == 0


def test_replaced_file_and_archived_copy_count_nothing_twice(world) -> None:
    codex, replica, config = world
    lines = [ctx("gpt-5")] + [tc(f"2026-03-01T10:0{i}:00.000Z", total=(100 * (i + 1), 0, 10 * (i + 1), 0))
                              for i in range(5)]
    f = codex / "sessions" / "2026" / "s.jsonl"
    f.parent.mkdir(parents=True)
    f.write_text("\n".join(lines) + "\n")
    ingest_local(replica, config)
    assert totals(replica) == (5, 500, 0, 50)
    f.write_text("\n".join(lines[:3]) + "\n")  # shorter: read again from the start
    ingest_local(replica, config)
    (codex / "archived_sessions" / "2026").mkdir(parents=True)
    (codex / "archived_sessions" / "2026" / "s.jsonl").write_text("\n".join(lines) + "\n")
    ingest_local(replica, config)
    assert totals(replica) == (5, 500, 0, 50)


def test_small_chunks_and_a_crash_between_them_change_nothing(world, monkeypatch: pytest.MonkeyPatch) -> None:
    codex, replica, config = world
    h = generate(codex, sessions=8, seed=11)
    assert h.partial_files or h.garbage_lines
    ingest_local(replica, config)
    expected = totals(replica)
    conn = connect(config.home / "second.db")
    init_schema(conn)
    replica = Replica(conn, DEV, 1, lambda e: 0.0)
    monkeypatch.setattr(tailer, "CHUNK", 700)
    real = tailer._save_cursor
    calls = {"n": 0}

    def flaky(*a, **k):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] % 5 == 0:
            raise RuntimeError("crash between a chunk's writes")
        return real(*a, **k)

    monkeypatch.setattr(tailer, "_save_cursor", flaky)
    crashes = 0
    for _ in range(2000):
        try:
            ingest_local(replica, config)
            break
        except RuntimeError:  # the process died: a new one opens the same database
            crashes += 1
            replica.conn.close()
            conn = connect(config.home / "second.db")
            replica = Replica(conn, DEV, 1, lambda e: 0.0)
    monkeypatch.setattr(tailer, "_save_cursor", real)
    ingest_local(replica, config)
    assert crashes > 10
    # a crashed chunk's entries were rolled back with its cursor and state: the same totals
    got = replica.conn.execute(
        "SELECT COUNT(DISTINCT dkey) FROM usage WHERE provider='codex'").fetchone()[0]
    assert totals(replica) == expected and got == expected[0]
    skipped = replica.conn.execute("SELECT SUM(skipped) FROM files").fetchone()[0]
    assert skipped >= h.garbage_lines


# ---- meshctl reports ---------------------------------------------------------------------------


def meshctl(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "meshctl", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_fast_tier_doubles_gpt_5_4_and_keeps_its_name(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    (home / "sessions").mkdir(parents=True)
    (home / "sessions" / "s.jsonl").write_text(ctx("gpt-5.4") + "\n" + tc("2026-03-01T10:00:00.000Z", last=(1000, 0, 100, 0)) + "\n")
    env = dict(os.environ, HOME=str(tmp_path), TZ="UTC", CODEX_HOME=str(home))
    env.pop("CLAUDE_CONFIG_DIR", None)
    costs = []
    for i, cfg in enumerate(('service_tier = "standard"', 'service_tier = "fast"')):
        (home / "config.toml").write_text(cfg)
        p = meshctl(["daily", "--json"], dict(env, MESHD_HOME=str(tmp_path / f"m{i}")))
        assert p.returncode == 0, p.stderr
        d = json.loads(p.stdout)
        assert [m["modelName"] for m in d["daily"][0]["modelBreakdowns"]] == ["gpt-5.4"]
        costs.append(d["totals"]["totalCost"])
    assert costs[1] == pytest.approx(2 * costs[0]) and costs[0] == pytest.approx(1000 * 2.5e-6 + 100 * 1.5e-5)


def test_provider_filter_on_every_report_and_blocks_stay_claude(tmp_path: Path) -> None:
    from tests.histgen import generate as claude_generate

    from datetime import datetime, timezone

    t0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
    ch = claude_generate(tmp_path / "claude", folders=1, target_bytes=200_000, seed=4, start=t0, days=6)
    generate(tmp_path / "codex", sessions=10, seed=2, start=t0, days=1)
    base = dict(os.environ, HOME=str(tmp_path), TZ="UTC", CLAUDE_CONFIG_DIR=ch.claude_config_dir,
                CODEX_HOME=str(tmp_path / "codex"), MESHD_HOME=str(tmp_path / "m"))
    out: dict[tuple[str, str], dict] = {}
    for cmd in ("daily", "weekly", "monthly", "session"):
        for prov in ("all", "claude", "codex"):
            p = meshctl([cmd, "--json", "--provider", prov], base)
            assert p.returncode == 0, p.stderr
            out[cmd, prov] = json.loads(p.stdout)
    for cmd in ("daily", "weekly", "monthly", "session"):
        t = {prov: out[cmd, prov]["totals"] for prov in ("all", "claude", "codex")}
        assert t["claude"]["totalTokens"] > 0 and t["codex"]["totalTokens"] > 0
        for f in ("inputTokens", "outputTokens", "cacheReadTokens", "totalTokens"):
            assert t["all"][f] == t["claude"][f] + t["codex"][f], (cmd, f)
        assert t["all"]["totalCost"] == pytest.approx(t["claude"]["totalCost"] + t["codex"]["totalCost"])
    rows = out["daily", "all"]["daily"]
    assert all({p["provider"] for p in r["providers"]} <= {"claude", "codex"} for r in rows)
    assert any(len(r["providers"]) == 2 for r in rows)
    assert all(m["provider"] in ("claude", "codex") for r in rows for m in r["modelBreakdowns"])
    blocks = [json.loads(meshctl(["blocks", "--json", "--provider", prov], base).stdout) for prov in ("all", "claude")]
    assert blocks[0] == blocks[1] and blocks[0]["blocks"]  # codex never enters a block
    p = meshctl(["blocks", "--provider", "codex"], base)
    assert p.returncode != 0 and p.stderr.startswith("meshctl: error: blocks are Claude-only") and "hint:" in p.stderr
    bad = meshctl(["daily", "--provider", "gemini"], base)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    hostile = dict(base, CODEX_HOME="\x01," + "x" * 5000 + ",/dev/null,/proc/self")
    p = meshctl(["daily", "--json", "--provider", "codex"], dict(hostile, MESHD_HOME=str(tmp_path / "m2")))
    assert p.returncode == 0 and json.loads(p.stdout)["daily"] == [], p.stderr
