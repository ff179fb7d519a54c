"""Build meshd/data/pricing.json from LiteLLM's model_prices_and_context_window.json.

Usage:
    python tools/build_pricing.py LITELLM.json [--prefer FILE ...] [--date YYYY-MM-DD]
        [--source TEXT] [--out meshd/data/pricing.json] [--no-builtin]

Keeps the cost fields (and `provider_specific_entry.fast`) of the models whose keys ccusage
embeds (claude-*, anthropic.*, gpt-*, openai/*, azure/*, ...). Each --prefer FILE (LiteLLM
format, or ccusage's compact {"i","o","cc","cr","ia","oa","cca","cra","fast"} format, e.g. the
snapshot inflated from the ccusage binary) wins over LITELLM.json: its entries replace theirs and
its key set is kept as is (name matching then resolves as in ccusage); with --add-missing, a
LITELLM.json model is added when the preferred table cannot price that name at all. ccusage 20.0.24's built-in prices
(BUILTIN below) win last. Prices are facts; stdlib only.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from meshd.core.pricing import PriceTable, filter_litellm  # noqa: E402  (pure, stdlib only)

_COMPACT = {
    "i": "input_cost_per_token", "o": "output_cost_per_token",
    "cc": "cache_creation_input_token_cost", "cr": "cache_read_input_token_cost",
    "ia": "input_cost_per_token_above_200k_tokens", "oa": "output_cost_per_token_above_200k_tokens",
    "cca": "cache_creation_input_token_cost_above_200k_tokens",
    "cra": "cache_read_input_token_cost_above_200k_tokens",
}

# ccusage 20.0.24's built-in table (per token: input, output, cache write, cache read[, >200k
# input, output, cache write, cache read]); it overrides LiteLLM's entries of the same name.
_OPUS_45 = (5e-6, 25e-6, 6.25e-6, 0.5e-6)
_SONNET = (3e-6, 15e-6, 3.75e-6, 0.3e-6)
_OPUS_4 = (15e-6, 75e-6, 18.75e-6, 1.5e-6)
_GPT_51 = (1.25e-6, 10e-6, 1.25e-6, 0.125e-6)
_GPT_52 = (1.75e-6, 14e-6, 1.75e-6, 0.175e-6)
BUILTIN: dict[str, tuple[float, ...]] = {
    "claude-opus-4-5": _OPUS_45, "claude-opus-4-6": _OPUS_45, "claude-opus-4-7": _OPUS_45,
    "claude-opus-4-8": _OPUS_45, "claude-haiku-4-5": (1e-6, 5e-6, 1.25e-6, 0.1e-6),
    "claude-opus-4": _OPUS_4, "claude-sonnet-4-6": _SONNET,
    "claude-sonnet-4": (*_SONNET, 6e-6, 22.5e-6, 7.5e-6, 0.6e-6),
    "claude-3-5-haiku": (0.8e-6, 4e-6, 1.0e-6, 0.08e-6),
    "claude-3-5-haiku-20241022": (0.8e-6, 4e-6, 1.0e-6, 0.08e-6),
    "claude-3-opus": _OPUS_4, "claude-3-sonnet": _SONNET,
    "claude-3-haiku": (0.25e-6, 1.25e-6, 0.3e-6, 0.03e-6),
    "gpt-5": _GPT_51, "gpt-5.1": _GPT_51, "gpt-5.1-codex": _GPT_51,
    "gpt-5.2": _GPT_52, "gpt-5.2-codex": _GPT_52, "gpt-5.3-codex": _GPT_52,
    "gpt-5.4": (2.5e-6, 15e-6, 2.5e-6, 0.25e-6),
    "gpt-5.4-mini": (0.75e-6, 4.5e-6, 0.75e-6, 0.075e-6),
    "gpt-5.4-nano": (0.2e-6, 1.25e-6, 0.2e-6, 0.02e-6),
    "gpt-5.5": (5e-6, 30e-6, 5e-6, 0.5e-6),
}


def expand_compact(data: object) -> object:
    """ccusage's compact entries ({"i": ..., "o": ...}) in LiteLLM field names; others unchanged."""
    if not isinstance(data, dict):
        return data
    out: dict[str, object] = {}
    for name, spec in data.items():
        if isinstance(spec, dict) and "i" in spec and "o" in spec:
            full: dict[str, object] = {_COMPACT[k]: v for k, v in spec.items() if k in _COMPACT}
            if spec.get("fast") is not None:
                full["provider_specific_entry"] = {"fast": spec["fast"]}
            spec = full
        out[name] = spec
    return out


def builtin_entries() -> dict[str, dict[str, object]]:
    """BUILTIN in LiteLLM field names."""
    fields = ("input_cost_per_token", "output_cost_per_token", "cache_creation_input_token_cost",
              "cache_read_input_token_cost", *list(_COMPACT.values())[4:])
    return {name: dict(zip(fields, rates)) for name, rates in BUILTIN.items()}


def build(litellm: Path, prefer: Sequence[Path] = (), *, builtin: bool = True,
          add_missing: bool = False) -> dict[str, dict[str, object]]:
    """The filtered table of `litellm`, with `prefer` files and the built-in prices winning."""
    base = filter_litellm(json.loads(litellm.read_bytes()))
    if not prefer:
        table = {**base, **builtin_entries()} if builtin else dict(base)
        return dict(sorted(table.items()))
    preferred: dict[str, dict[str, object]] = {}
    for src in prefer:
        preferred.update(filter_litellm(expand_compact(json.loads(src.read_bytes()))))
    if builtin:
        preferred.update(builtin_entries())
    table = dict(preferred)
    if add_missing:
        known = PriceTable.from_litellm(preferred)
        table.update({k: v for k, v in base.items() if k not in preferred and known.lookup(k) is None})
    return dict(sorted(table.items()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("litellm", type=Path, help="LiteLLM's model_prices_and_context_window.json")
    ap.add_argument("--prefer", type=Path, action="append", default=[], help="prices that win (repeatable)")
    ap.add_argument("--date", default=date.today().isoformat(), help="date of the prices")
    ap.add_argument("--source", default="LiteLLM model_prices_and_context_window.json")
    ap.add_argument("--out", type=Path, default=ROOT / "meshd" / "data" / "pricing.json")
    ap.add_argument("--add-missing", action="store_true", help="add LITELLM.json models --prefer lacks")
    ap.add_argument("--no-builtin", action="store_true", help="leave out ccusage's built-in table")
    a = ap.parse_args(argv)
    table: dict[str, object] = {"_meta": {"source": a.source, "date": a.date}}
    table.update(build(a.litellm, a.prefer, builtin=not a.no_builtin, add_missing=a.add_missing))
    text = json.dumps(table, separators=(",", ":"), indent=None)
    a.out.write_text(text.replace('},"', '},\n"') + "\n")
    print(f"{len(table) - 1} models -> {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
