"""Pricing: rates, tiering, 1h cache, fast mode, ccusage's name matching, bad price files, `meshctl pricing`.

Parity: fixtures with 4 entries (small, >200k, 1h cache, fast) for each of the 132 Claude keys gave
bit-identical costs from `ccusage claude daily --json --offline` (20.0.24) and `entry_cost`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from meshctl.pricing_cmd import pricing
from meshd.core.pricing import ModelPrice, PriceTable, cost_for, entry_cost
from meshd.errors import PricingError
from meshd.pricing_store import MAX_FILE_BYTES, install_price_file, load_price_table


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return load_price_table(None)


def cost(table: PriceTable, model: str, i: int = 0, o: int = 0, c5: int = 0, c1: int = 0, r: int = 0,
         speed: str | None = None) -> float:
    p = table.lookup(model)
    assert p is not None, model
    return entry_cost(p, i, o, c5, c1, r, speed)


# ---- rates and the cost formula --------------------------------------------------------------


def test_embedded_table_has_meta_and_claude_models(table: PriceTable) -> None:
    assert table.date and table.source
    names = [n for n, _ in table.models()]
    assert names == sorted(names)
    assert {"claude-sonnet-4-5", "claude-opus-4-6", "claude-haiku-4-5", "gpt-5-codex"} <= set(names)
    assert len(table.fingerprint) == 16
    assert load_price_table(None).fingerprint == table.fingerprint


def test_sonnet_45_rates(table: PriceTable) -> None:
    p = table.lookup("claude-sonnet-4-5")
    assert p == ModelPrice(3e-6, 15e-6, 3.75e-6, 0.3e-6, 6e-6, 22.5e-6, 7.5e-6, 0.6e-6, 1.0)


def test_tiering_1m_input_on_sonnet_45(table: PriceTable) -> None:
    assert cost(table, "claude-sonnet-4-5", i=1_000_000) == pytest.approx(5.40)
    assert cost(table, "claude-sonnet-4-5", i=200_000) == pytest.approx(0.60)


def test_tiering_is_per_token_type(table: PriceTable) -> None:
    # 150k input + 150k cache read: neither type passes 200k, so no tier applies.
    assert cost(table, "claude-sonnet-4-5", i=150_000, r=150_000) == pytest.approx(150_000 * (3e-6 + 0.3e-6))
    assert cost(table, "claude-sonnet-4-5", o=300_000) == pytest.approx(200_000 * 15e-6 + 100_000 * 22.5e-6)


def test_no_tier_without_above_rates(table: PriceTable) -> None:
    assert table.lookup("claude-opus-4-6").input_above_200k_tokens is None  # type: ignore[union-attr]
    assert cost(table, "claude-opus-4-6", i=1_000_000) == pytest.approx(5.0)


def test_one_hour_cache_at_twice_input(table: PriceTable) -> None:
    assert cost(table, "claude-opus-4-6", c1=1_000_000) == pytest.approx(10.0)
    assert cost(table, "claude-opus-4-6", c5=1_000_000) == pytest.approx(6.25)
    # Above 200k, the 1h part uses twice the >200k input rate.
    assert cost(table, "claude-sonnet-4-5", c1=1_000_000) == pytest.approx(200_000 * 6e-6 + 800_000 * 12e-6)


def test_default_cache_rates() -> None:
    t = PriceTable.from_litellm({"claude-x-1": {"input_cost_per_token": 2e-6, "output_cost_per_token": 1e-5}})
    p = t.lookup("claude-x-1")
    assert p is not None
    assert p.cache_write == pytest.approx(2.5e-6) and p.cache_read == pytest.approx(2e-7)


def test_fast_multiplier(table: PriceTable) -> None:
    assert table.lookup("claude-opus-4-6").fast_multiplier == 6.0  # type: ignore[union-attr]
    assert table.lookup("claude-opus-4-7").fast_multiplier == 6.0  # type: ignore[union-attr]
    assert table.lookup("claude-opus-4-8").fast_multiplier == 2.0  # type: ignore[union-attr]
    assert table.lookup("claude-sonnet-4-5").fast_multiplier == 1.0  # type: ignore[union-attr]
    base = cost(table, "claude-opus-4-6", i=1000, o=1000)
    assert cost(table, "claude-opus-4-6", i=1000, o=1000, speed="fast") == pytest.approx(6 * base)
    assert cost(table, "claude-opus-4-6", i=1000, o=1000, speed="standard") == pytest.approx(base)


def test_fast_from_litellm_provider_entry() -> None:
    t = PriceTable.from_litellm({"claude-y-2": {"input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6,
                                                "provider_specific_entry": {"fast": 3}}})
    assert t.lookup("claude-y-2").fast_multiplier == 3.0  # type: ignore[union-attr]


# ---- model-name matching ---------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "claude-sonnet-4-5", "anthropic/claude-sonnet-4-5", "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "us.anthropic.claude-opus-4-1-20250805-v1:0", "claude-opus-4.6", "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5-20251001", "claude-opus-4-1-20250805", "claude-sonnet-4-20250514",
])
def test_names_resolve(table: PriceTable, name: str) -> None:
    assert table.lookup(name) is not None


def test_resolution_targets(table: PriceTable) -> None:
    assert table.lookup("anthropic/claude-sonnet-4-5") == table.lookup("claude-sonnet-4-5")
    assert table.lookup("claude-opus-4.6").input == 5e-6  # type: ignore[union-attr]
    assert table.lookup("us.anthropic.claude-opus-4-1-20250805-v1:0").input == 15e-6  # type: ignore[union-attr]
    # A date suffix may follow a key; the longest matching key wins.
    assert table.resolve("claude-opus-4-7-20990101") == "claude-opus-4-7"


def test_version_must_not_differ() -> None:
    t = PriceTable.from_litellm({
        "claude-sonnet-4-5": {"input_cost_per_token": 3e-6, "output_cost_per_token": 1.5e-5},
        "claude-opus-4-1": {"input_cost_per_token": 1.5e-5, "output_cost_per_token": 7.5e-5},
    })
    assert t.lookup("claude-sonnet-4") is None
    assert t.lookup("claude-sonnet-4-6") is None
    assert t.lookup("claude-opus-4") is None
    assert t.lookup("claude-opus-4-1-20250805") is not None   # 8-digit date
    assert t.lookup("claude-opus-4-1-2025") is None           # not a date: another version
    assert t.lookup("xclaude-opus-4-1") is None               # no boundary
    assert t.lookup("claude-opus-4.1") is not None            # `.` normalized


def test_embedded_sonnet_4_is_its_own_model(table: PriceTable) -> None:
    assert table.resolve("claude-sonnet-4") == "claude-sonnet-4"
    assert table.resolve("claude-sonnet-4") != table.resolve("claude-sonnet-4-5")


def test_bare_family_name_matches_longest_key_like_ccusage(table: PriceTable) -> None:
    assert table.resolve("claude") == "global.anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest.mark.parametrize("name", ["", "<synthetic>", "some-local-model", "codex-mini-latest", "claude-9"])
def test_unknown_models(table: PriceTable, name: str) -> None:
    assert table.lookup(name) is None
    assert cost_for(table, name, 1000, 1000, 0, 0, 0) == (0.0, False)


def test_cost_for_known(table: PriceTable) -> None:
    c, known = cost_for(table, "claude-sonnet-4-5", 1_000_000, 0, 0, 0, 0, None)
    assert known and c == pytest.approx(5.40)


def test_lookup_is_cached(table: PriceTable) -> None:
    assert table.lookup("claude-opus-4.6") is table.lookup("claude-opus-4.6")


# ---- invalid data ----------------------------------------------------------------------------

GOOD = {"claude-z-1": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}}


@pytest.mark.parametrize("data, words", [
    ([1, 2], "object"),
    ("x", "object"),
    ({}, "no claude"),
    ({"other-model": {"input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6}}, "no claude"),
    ({"claude-a": {"input_cost_per_token": "0.000003", "output_cost_per_token": 1e-6}}, "must be a number"),
    ({"claude-a": {"input_cost_per_token": True, "output_cost_per_token": 1e-6}}, "must be a number"),
    ({"claude-a": {"input_cost_per_token": -1e-6, "output_cost_per_token": 1e-6}}, "per-token"),
    ({"claude-a": {"input_cost_per_token": 3.0, "output_cost_per_token": 1e-6}}, "per-token"),
    ({"claude-a": [1]}, "json object"),
    ({"claude-a": {"input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6,
                   "provider_specific_entry": {"fast": "x"}}}, "fast"),
])
def test_bad_data_raises_pricing_error(data: object, words: str) -> None:
    with pytest.raises(PricingError) as e:
        PriceTable.from_litellm(data)
    assert words in str(e.value).lower()


def test_other_providers_and_sample_spec_ignored() -> None:
    t = PriceTable.from_litellm({**GOOD, "sample_spec": {"input_cost_per_token": "doc"},
                                 "gemini-x": {"input_cost_per_token": "bad"}})
    assert [n for n, _ in t.models()] == ["claude-z-1"]


@pytest.mark.parametrize("content, words", [
    (b"not json {", "not valid json"),
    (b"", "empty"),
    (b"[1, 2, 3]", "list"),
    (b'{"claude-a": {"input_cost_per_token": "x", "output_cost_per_token": 1}}', "must be a number"),
    (b'{"claude-a": {"input_cost_per_token": -0.1, "output_cost_per_token": 1e-6}}', "per-token"),
    (b"\xff\xfe garbage", "not valid json"),
])
def test_install_rejects_garbage(tmp_path: Path, content: bytes, words: str) -> None:
    src = tmp_path / "prices.json"
    src.write_bytes(content)
    with pytest.raises(PricingError) as e:
        install_price_file(tmp_path / "home", src)
    assert words in str(e.value).lower()
    assert not (tmp_path / "home" / "pricing.json").exists()


def test_install_rejects_huge_file(tmp_path: Path) -> None:
    src = tmp_path / "huge.json"
    with open(src, "wb") as f:
        f.truncate(70 * 1024 * 1024)  # sparse: 70 MiB without writing it
    assert src.stat().st_size > MAX_FILE_BYTES
    with pytest.raises(PricingError, match="64 MiB"):
        install_price_file(tmp_path / "home", src)


def test_install_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PricingError, match="cannot read"):
        install_price_file(tmp_path / "home", tmp_path / "nope.json")


def test_install_and_load_overlay(tmp_path: Path) -> None:
    home = tmp_path / "home"
    src = tmp_path / "litellm.json"
    src.write_text(json.dumps({
        "sample_spec": {"input_cost_per_token": 0.0},
        "claude-sonnet-4-5": {"input_cost_per_token": 4e-6, "output_cost_per_token": 16e-6,
                              "litellm_provider": "anthropic", "max_tokens": 10},
        "claude-new-9": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6},
        "gemini-pro": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6},
    }))
    before = load_price_table(home)
    t = install_price_file(home, src)
    stored = json.loads((home / "pricing.json").read_text())
    assert set(stored) == {"_meta", "claude-sonnet-4-5", "claude-new-9"}
    assert "max_tokens" not in stored["claude-sonnet-4-5"]
    assert [p for p in os.listdir(home) if p.startswith(".pricing.")] == []
    for loaded in (t, load_price_table(home)):
        assert loaded.lookup("claude-sonnet-4-5").input == 4e-6  # type: ignore[union-attr]
        assert loaded.lookup("claude-new-9") is not None
        assert loaded.lookup("claude-opus-4-6") is not None  # embedded models stay
        assert loaded.fingerprint != before.fingerprint
        assert "installed" in loaded.source


def test_damaged_installed_file(tmp_path: Path) -> None:
    (tmp_path / "pricing.json").write_text("{oops")
    with pytest.raises(PricingError) as e:
        load_price_table(tmp_path)
    assert e.value.hint and "--load" in e.value.hint


# ---- properties ------------------------------------------------------------------------------

_tokens = st.integers(min_value=0, max_value=5_000_000)
_PRICED = ["claude-sonnet-4-5", "claude-opus-4-6", "claude-haiku-4-5", "claude-sonnet-4", "gpt-5-codex"]


@settings(max_examples=300, deadline=None)
@given(model=st.sampled_from(_PRICED), counts=st.lists(_tokens, min_size=5, max_size=5),
       which=st.integers(0, 4), extra=st.integers(1, 1_000_000), speed=st.sampled_from([None, "fast", "standard"]))
def test_cost_monotone_and_non_negative(model: str, counts: list[int], which: int, extra: int,
                                        speed: str | None) -> None:
    p = load_price_table(None).lookup(model)
    assert p is not None
    c0 = entry_cost(p, *counts, speed)
    bigger = list(counts)
    bigger[which] += extra
    c1 = entry_cost(p, *bigger, speed)
    assert 0 <= c0 <= c1


# ---- meshctl pricing -------------------------------------------------------------------------


def invoke(args: list[str], home: Path) -> object:
    return CliRunner().invoke(pricing, args, obj={"home": home})


def test_cli_table(tmp_path: Path) -> None:
    r = invoke([], tmp_path)
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith("Source: ") and lines[1].startswith("Date: ")
    assert max(len(x) for x in lines) <= 80
    row = next(x for x in lines if x.startswith("claude-sonnet-4-5 "))
    assert row.split() == ["claude-sonnet-4-5", "3", "15", "3.75", "0.3", "6/22.5", "-"]
    assert next(x for x in lines if x.startswith("claude-opus-4-6 ")).split()[-1] == "6x"


def test_cli_model_filter_and_resolution(tmp_path: Path) -> None:
    r = invoke(["--model", "HAIKU-4-5"], tmp_path)
    assert r.exit_code == 0
    assert all("haiku-4-5" in x for x in r.output.splitlines()[3:] if x and not x.startswith(" "))
    r = invoke(["--model", "claude-opus-4.6"], tmp_path)
    assert r.exit_code == 0 and "is priced as" in r.output
    r = invoke(["--model", "no-such-model"], tmp_path)
    assert r.exit_code == 1 and "no price" in r.output


def test_cli_json(tmp_path: Path) -> None:
    r = invoke(["--json", "--model", "claude-sonnet-4-5"], tmp_path)
    assert r.exit_code == 0
    doc = json.loads(r.output)
    assert doc["date"] and doc["source"] and doc["unit"] == "USD per token"
    m = next(x for x in doc["models"] if x["model"] == "claude-sonnet-4-5")
    assert m["input"] == 3e-6 and m["inputAbove200k"] == 6e-6 and m["fastMultiplier"] == 1.0


def test_cli_load_good_and_bad(tmp_path: Path) -> None:
    home = tmp_path / "home"
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"claude-brand-new-7": {"input_cost_per_token": 2e-6, "output_cost_per_token": 8e-6}}))
    r = invoke(["--load", str(good), "--model", "brand-new"], home)
    assert r.exit_code == 0, r.output
    assert "claude-brand-new-7" in r.output and (home / "pricing.json").exists()
    assert "claude-brand-new-7" in invoke(["--model", "brand-new"], home).output
    bad = tmp_path / "bad.json"
    bad.write_text("<html>rate limited</html>")
    r = invoke(["--load", str(bad)], home)
    assert r.exit_code == 1
    assert "not valid JSON" in r.output and len(r.output.strip().splitlines()) == 1
    assert "claude-brand-new-7" in invoke(["--model", "brand-new"], home).output  # old file kept


def test_cli_without_obj_uses_default_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESHD_HOME", str(tmp_path / "h"))
    r = CliRunner().invoke(pricing, ["--model", "opus-4-6"])
    assert r.exit_code == 0 and "claude-opus-4-6" in r.output


@settings(max_examples=300, deadline=None)
@given(counts=st.tuples(*[st.integers(-5, 3_000_000)] * 5), speed=st.sampled_from([None, "fast", "standard"]),
       tiers=st.booleans(), fast=st.sampled_from([1.0, 2.0, 6.0]))
def test_entry_cost_is_the_sum_of_tiered_parts_bit_for_bit(counts, speed, tiers, fast) -> None:
    """entry_cost writes `_tiered` out inline (speed): the same operations in the same order."""
    from meshd.core.pricing import ONE_HOUR_CACHE_FACTOR, ModelPrice, _tiered, entry_cost

    hi = (6e-06, 2.25e-05, 7.5e-06, 6e-07) if tiers else (None,) * 4
    p = ModelPrice(input=3e-06, output=1.5e-05, cache_write=3.75e-06, cache_read=3e-07,
                   input_above_200k_tokens=hi[0], output_above_200k_tokens=hi[1],
                   cache_write_above_200k_tokens=hi[2], cache_read_above_200k_tokens=hi[3], fast_multiplier=fast)
    i, o, c5, c1, cr = counts
    want = (_tiered(i, p.input, hi[0]) + _tiered(o, p.output, hi[1]) + _tiered(c5, p.cache_write, hi[2])
            + _tiered(c1, p.input * ONE_HOUR_CACHE_FACTOR, None if hi[0] is None else hi[0] * ONE_HOUR_CACHE_FACTOR)
            + _tiered(cr, p.cache_read, hi[3]))
    if speed == "fast":
        want *= fast
    assert entry_cost(p, i, o, c5, c1, cr, speed) == want
