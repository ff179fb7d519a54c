"""Model prices (a LiteLLM snapshot) and the per-entry cost formula ccusage uses. Pure.

Cost of one entry: input x input rate + output x output rate + 5-minute cache creation x cache
write rate (default input x 1.25) + 1-hour cache creation x input rate x 2 + cache read x cache
read rate (default input x 0.1). Tiering is per entry and per token type: the first 200,000
tokens of a type at the base rate, the rest at the `*_above_200k_tokens` rate when one exists.
Times the fast multiplier for `speed == "fast"`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from meshd.errors import PricingError

TIER = 200_000
_FIELDS = (
    "input_cost_per_token", "output_cost_per_token", "cache_creation_input_token_cost",
    "cache_read_input_token_cost", "input_cost_per_token_above_200k_tokens",
    "output_cost_per_token_above_200k_tokens", "cache_creation_input_token_cost_above_200k_tokens",
    "cache_read_input_token_cost_above_200k_tokens",
)
# Fast-mode multipliers LiteLLM lacks (as ccusage embeds them).
_FAST = {"claude-opus-4-6": 6.0, "claude-opus-4-7": 6.0}
_PROVIDERS = ("anthropic", "openai")


@dataclass(frozen=True, slots=True)
class ModelPrice:
    input: float
    output: float
    cache_write: float
    cache_read: float
    input_above: float | None = None
    output_above: float | None = None
    cache_write_above: float | None = None
    cache_read_above: float | None = None
    fast_multiplier: float = 1.0


def _tiered(tokens: int, base: float, above: float | None) -> float:
    if tokens <= 0:
        return 0.0
    if above is None or tokens <= TIER:
        return tokens * base
    return TIER * base + (tokens - TIER) * above


def entry_cost(p: ModelPrice, input_tokens: int, output_tokens: int, cache_write_5m: int,
               cache_write_1h: int, cache_read: int, speed: str | None) -> float:
    """Cost in USD of one usage entry."""
    cost = (
        _tiered(input_tokens, p.input, p.input_above)
        + _tiered(output_tokens, p.output, p.output_above)
        + _tiered(cache_write_5m, p.cache_write, p.cache_write_above)
        + _tiered(cache_write_1h, p.input * 2, None if p.input_above is None else p.input_above * 2)
        + _tiered(cache_read, p.cache_read, p.cache_read_above)
    )
    return cost * p.fast_multiplier if speed == "fast" else cost


def filter_litellm(data: object) -> dict[str, dict[str, object]]:
    """The cost fields of Anthropic/OpenAI chat models of a LiteLLM price file."""
    if not isinstance(data, dict):
        raise PricingError("a LiteLLM price file is a JSON object of models")
    out: dict[str, dict[str, object]] = {}
    for name, spec in data.items():
        if not isinstance(name, str) or not isinstance(spec, dict) or name == "sample_spec":
            continue
        if spec.get("litellm_provider") not in _PROVIDERS or "input_cost_per_token" not in spec:
            continue
        kept: dict[str, object] = {k: spec[k] for k in _FIELDS if k in spec}
        fast = (spec.get("provider_specific_entry") or {}).get("fast") if isinstance(
            spec.get("provider_specific_entry"), dict) else None
        if fast is not None:
            kept["fast"] = fast
        out[name] = kept
    return out


def _rate(spec: dict[str, object], key: str, name: str) -> float | None:
    v = spec.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
        raise PricingError(f"model {name!r}: {key} must be a per-token price, not {v!r}")
    return float(v)


_NORM = re.compile(r"[.@]")
_DATE = re.compile(r"-\d{8}$")
_TRAIL_VER = re.compile(r"-(\d+)$")


def _norm(s: str) -> str:
    return _NORM.sub("-", s.lower())


def _strip_vendor(name: str) -> str:
    n = name.lower()
    for sep in ("/",):
        if sep in n:
            n = n.rsplit(sep, 1)[1]
    # bedrock/vertex style: us.anthropic.claude-...-v1:0, anthropic.claude-...
    m = re.search(r"(?:^|\.)(?:anthropic|openai)\.(.+)$", n)
    if m:
        n = m.group(1)
    n = re.sub(r"-v\d+(:\d+)?$", "", n)
    return n.replace("@", "-")


class PriceTable:
    """Prices by model name, with ccusage's name matching."""

    def __init__(self, models: dict[str, ModelPrice], *, source: str, date: str, fingerprint: str) -> None:
        self._models = models
        self._norm = {_norm(k): k for k in models}
        self._cache: dict[str, ModelPrice | None] = {}
        self.source = source
        self.date = date
        self.fingerprint = fingerprint

    @classmethod
    def from_litellm(cls, data: object, *, source: str = "", date: str = "") -> PriceTable:
        """Build from a LiteLLM-format dict (or an already filtered one); PricingError when invalid."""
        if not isinstance(data, dict):
            raise PricingError("price data must be a JSON object")
        meta = data.get("_meta") if isinstance(data.get("_meta"), dict) else {}
        models: dict[str, ModelPrice] = {}
        for name, spec in data.items():
            if name in ("_meta", "sample_spec") or not isinstance(spec, dict):
                continue
            if "litellm_provider" in spec and spec.get("litellm_provider") not in _PROVIDERS:
                continue
            inp = _rate(spec, "input_cost_per_token", name)
            out = _rate(spec, "output_cost_per_token", name)
            if inp is None or out is None:
                continue
            cw = _rate(spec, "cache_creation_input_token_cost", name)
            cr = _rate(spec, "cache_read_input_token_cost", name)
            fast = spec.get("fast")
            if fast is None and isinstance(spec.get("provider_specific_entry"), dict):
                fast = spec["provider_specific_entry"].get("fast")
            if fast is not None and (isinstance(fast, bool) or not isinstance(fast, (int, float)) or not 0 < fast <= 100):
                raise PricingError(f"model {name!r}: bad fast multiplier {fast!r}")
            models[name] = ModelPrice(
                input=inp, output=out,
                cache_write=inp * 1.25 if cw is None else cw,
                cache_read=inp * 0.1 if cr is None else cr,
                input_above=_rate(spec, "input_cost_per_token_above_200k_tokens", name),
                output_above=_rate(spec, "output_cost_per_token_above_200k_tokens", name),
                cache_write_above=_rate(spec, "cache_creation_input_token_cost_above_200k_tokens", name),
                cache_read_above=_rate(spec, "cache_read_input_token_cost_above_200k_tokens", name),
                fast_multiplier=float(fast) if fast is not None else _FAST.get(name, 1.0),
            )
        if not models:
            raise PricingError("no model prices found (is this LiteLLM's model_prices_and_context_window.json?)")
        fp = hashlib.sha256(
            json.dumps({k: list(v.__getattribute__(f) for f in ModelPrice.__slots__) for k, v in sorted(models.items())}).encode()
        ).hexdigest()[:16]
        return cls(models, source=source or str(meta.get("source", "")), date=date or str(meta.get("date", "")),
                   fingerprint=fp)

    def models(self) -> list[tuple[str, ModelPrice]]:
        return sorted(self._models.items())

    def lookup(self, model: str) -> ModelPrice | None:
        """Price for a model name as logged, or None (unknown, empty, `<synthetic>`)."""
        try:
            return self._cache[model]
        except KeyError:
            pass
        p = self._find(model)
        if len(self._cache) < 10_000:
            self._cache[model] = p
        return p

    def _find(self, model: str) -> ModelPrice | None:
        if not model or model == "<synthetic>" or len(model) > 200:
            return None
        if model in self._models:
            return self._models[model]
        n = _norm(_strip_vendor(model))
        if n in self._norm:
            return self._models[self._norm[n]]
        nd = _DATE.sub("", n)
        if nd in self._norm:
            return self._models[self._norm[nd]]
        best: str | None = None
        for key_n, key in self._norm.items():
            if _fuzzy(nd, _DATE.sub("", key_n)) and (best is None or len(key) > len(best)):
                best = key
        return None if best is None else self._models[best]


def _fuzzy(a: str, b: str) -> bool:
    """One name contains the other at non-alphanumeric boundaries and trailing versions agree."""
    if not a or not b:
        return False
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    i = long_.find(short)
    while i >= 0:
        before = long_[i - 1] if i > 0 else "-"
        after = long_[i + len(short)] if i + len(short) < len(long_) else "-"
        if not before.isalnum() and not after.isalnum():
            va, vb = _TRAIL_VER.search(a), _TRAIL_VER.search(b)
            tail = long_[i + len(short):]
            # "claude-sonnet-4" must not match "claude-sonnet-4-5": a longer name may not add a version.
            if re.match(r"^-\d", tail):
                return False
            if va and vb and va.group(1) != vb.group(1):
                return False
            return True
        i = long_.find(short, i + 1)
    return False


def cost_for(table: PriceTable, model: str, input_tokens: int, output_tokens: int, cache_write_5m: int,
             cache_write_1h: int, cache_read: int, speed: str | None) -> tuple[float, bool]:
    """(cost, known): unknown models cost 0."""
    p = table.lookup(model)
    if p is None:
        return 0.0, False
    return entry_cost(p, input_tokens, output_tokens, cache_write_5m, cache_write_1h, cache_read, speed), True
