"""Model prices (a LiteLLM-format table) and ccusage 20.0.24's per-entry cost rules. Pure.

Cost of one entry: input x input rate + output x output rate + 5-minute cache creation x cache
write rate (default input x 1.25) + 1-hour cache creation x input rate x 2 + cache read x cache
read rate (default input x 0.1). Tiering is per entry and per token type separately: the first
200,000 tokens of a type at the base rate, the rest at its `*_above_200k_tokens` rate when one
exists; the 1-hour part uses 2 x the input rate above 200k. All of it times the fast multiplier
when `speed == "fast"`: LiteLLM's `provider_specific_entry.fast`, else ccusage's built-in
overrides (claude-opus-4-6/4-7: 6, claude-opus-4-8: 2, gpt-5.5: 2.5, gpt-5.4 and others: 2).

Model names resolve as in ccusage: exact key, then the longest key that one name contains at
non-alphanumeric boundaries (raw, or with `.`/`@` as `-`), where a key ending in a digit may not
be followed by another numeric version (`claude-sonnet-4` is not `claude-sonnet-4-5`) unless it
is an 8-digit date; ties go to the lexicographically smaller key; then a small alias table.

The embedded snapshot (meshd/data/pricing.json, built by tools/build_pricing.py) holds exactly
the models and prices ccusage 20.0.24 embeds (its LiteLLM snapshot plus its built-in table),
not the LiteLLM 1.109.1 wheel's, because they differ: the wheel lacks claude-opus-4-1,
claude-sonnet-4-20250514, claude-3-7-sonnet and others, lacks claude-sonnet-4-5's >200k rates,
has other azure/eu bedrock prices and a priced claude-mythos-preview, and adds models ccusage
does not know (claude-opus-5-5, claude-sonnet-5-5, claude-haiku-5-5, gpt-6-sol...); those cost
0 in ccusage and here too until a newer file is loaded. The built-in table wins over LiteLLM
(claude-opus-4-6/4-7 have no >200k rates, claude-sonnet-4 has them). Quirk kept for parity:
`o3` has no key of its own, so it resolves to the longest matching key (an o3-mini price).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import astuple, dataclass

from meshd.errors import PricingError

TIER = 200_000
ONE_HOUR_CACHE_FACTOR = 2.0

# Key prefixes ccusage keeps in its embedded snapshot; the key set shapes fuzzy matching.
EMBED_PREFIXES = (
    "claude-", "anthropic.", "anthropic/", "us.anthropic.", "eu.anthropic.", "global.anthropic.",
    "jp.anthropic.", "au.anthropic.", "gpt-", "openai/", "azure/", "zai/", "openrouter/openai/",
)
COST_FIELDS = (
    "input_cost_per_token", "output_cost_per_token", "cache_creation_input_token_cost",
    "cache_read_input_token_cost", "input_cost_per_token_above_200k_tokens",
    "output_cost_per_token_above_200k_tokens", "cache_creation_input_token_cost_above_200k_tokens",
    "cache_read_input_token_cost_above_200k_tokens",
)
# ccusage's fast-mode multipliers for models whose LiteLLM entry has none.
_FAST_EXACT = {
    "gpt-5.6-sol": 2.0, "gpt-5.6-terra": 2.0, "gpt-5.6-luna": 2.0, "gpt-5.5": 2.5,
    "gpt-5.4": 2.0, "gpt-5.3-codex": 2.0, "gpt-6-astra": 2.0,
}
_FAST_SUFFIX = {"claude-opus-4-6": 6.0, "claude-opus-4-7": 6.0, "claude-opus-4-8": 2.0}
# Log labels that no price source publishes, mapped to a priced name.
_ALIASES = {"gpt-5.3-spark": "gpt-5.3-codex-spark"}
_UNPRICED = frozenset({"", "<synthetic>"})
_CACHE_MAX = 4096


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """Per-token USD rates of one model."""

    input: float
    output: float
    cache_write: float
    cache_read: float
    input_above_200k_tokens: float | None = None
    output_above_200k_tokens: float | None = None
    cache_write_above_200k_tokens: float | None = None
    cache_read_above_200k_tokens: float | None = None
    fast_multiplier: float = 1.0
    cache_read_explicit: bool = True  # False when the source gave no cache-read rate (default used)


def _tiered(tokens: int, base: float, above: float | None) -> float:
    """Cost of `tokens` at `base`, tokens past 200k at `above` when given."""
    if tokens <= 0:
        return 0.0
    if above is not None and tokens > TIER:
        return TIER * base + (tokens - TIER) * above
    return tokens * base


def entry_cost(price: ModelPrice, input_tokens: int, output_tokens: int, cache_write_5m: int,
               cache_write_1h: int, cache_read: int, speed: str | None) -> float:
    """Cost in USD of one usage entry, exactly as ccusage computes it.

    Each count is priced as `_tiered` prices it, written out (an ingest prices every entry):
    the same operations in the same order, so the same bits (tests/test_pricing.py).
    """
    p = price
    t = TIER
    hi = p.input_above_200k_tokens
    n = input_tokens
    cost = 0.0 if n <= 0 else (t * p.input + (n - t) * hi if hi is not None and n > t else n * p.input)
    n, b, a = output_tokens, p.output, p.output_above_200k_tokens
    cost += 0.0 if n <= 0 else (t * b + (n - t) * a if a is not None and n > t else n * b)
    n, b, a = cache_write_5m, p.cache_write, p.cache_write_above_200k_tokens
    cost += 0.0 if n <= 0 else (t * b + (n - t) * a if a is not None and n > t else n * b)
    n, b = cache_write_1h, p.input * ONE_HOUR_CACHE_FACTOR
    cost += 0.0 if n <= 0 else (t * b + (n - t) * (hi * ONE_HOUR_CACHE_FACTOR) if hi is not None and n > t
                                else n * b)
    n, b, a = cache_read, p.cache_read, p.cache_read_above_200k_tokens
    cost += 0.0 if n <= 0 else (t * b + (n - t) * a if a is not None and n > t else n * b)
    return cost * p.fast_multiplier if speed == "fast" else cost


def codex_entry_cost(price: ModelPrice, input_tokens: int, output_tokens: int, cache_write: int,
                     cache_read: int, speed: str | None = None) -> float:
    """Cost in USD of one Codex entry, as ccusage 20.0.24's `codex` reports compute it.

    `input_tokens` is the non-cached input. No 200k tiers; cached input at the cache-read rate
    when the price source has one, else at the input rate (not input x 0.1 as for Claude);
    cache writes (`cache_write_input_tokens`) at 1.25 x input (measured: gpt-5, whose listed
    cache-creation rate equals its input rate); reasoning tokens are inside the output already.
    `speed == "fast"` (Codex's fast service tier) multiplies by the model's fast multiplier
    (1 for models without one: measured, gpt-5 stays at its price, gpt-5.4 doubles).
    """
    p = price
    cost = (input_tokens * p.input + cache_read * (p.cache_read if p.cache_read_explicit else p.input)
            + cache_write * p.input * 1.25 + output_tokens * p.output)
    return cost * p.fast_multiplier if speed == "fast" else cost


# ---- reading LiteLLM data -------------------------------------------------------------------


def is_embedded_name(name: str) -> bool:
    """Whether a LiteLLM key belongs in our table (the prefixes ccusage embeds)."""
    return name.startswith(EMBED_PREFIXES)


def _rate(spec: dict[str, object], key: str, name: str) -> float | None:
    """One per-token price of an entry, validated; None when absent."""
    v = spec.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise PricingError(f"model {name!r}: {key} must be a number, not {v!r}")
    if not 0 <= v < 1:
        raise PricingError(f"model {name!r}: {key} = {v!r} is not a per-token price in USD")
    return float(v)


def _fast(spec: dict[str, object], name: str) -> float | None:
    """`provider_specific_entry.fast` of an entry, validated; None when absent."""
    pse = spec.get("provider_specific_entry")
    if pse is None:
        return None
    if not isinstance(pse, dict):
        raise PricingError(f"model {name!r}: provider_specific_entry must be an object")
    v = pse.get("fast")
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 100:
        raise PricingError(f"model {name!r}: bad fast multiplier {v!r}")
    return float(v)


def _checked_spec(name: object, spec: object) -> dict[str, object] | None:
    """The compact entry (cost fields and fast) of one kept model, None when it has no price."""
    if not isinstance(name, str) or not is_embedded_name(name):
        return None
    if not isinstance(spec, dict):
        raise PricingError(f"model {name!r}: entry must be a JSON object, not {type(spec).__name__}")
    kept: dict[str, object] = {}
    for key in COST_FIELDS:
        if _rate(spec, key, name) is not None:
            kept[key] = spec[key]
    if "input_cost_per_token" not in kept or "output_cost_per_token" not in kept:
        return None
    fast = _fast(spec, name)
    if fast is not None:
        kept["provider_specific_entry"] = {"fast": spec["provider_specific_entry"]["fast"]}  # type: ignore[index]
    return kept


def filter_litellm(data: object) -> dict[str, dict[str, object]]:
    """The validated cost fields of the models we keep from a LiteLLM price file."""
    if not isinstance(data, dict):
        raise PricingError(
            f"price data must be a JSON object of models, not {type(data).__name__} "
            "(expected LiteLLM's model_prices_and_context_window.json)"
        )
    out: dict[str, dict[str, object]] = {}
    for name, spec in data.items():
        kept = _checked_spec(name, spec)
        if kept is not None:
            out[name] = kept
    if not out:
        raise PricingError(
            "no Claude or OpenAI model prices found (expected LiteLLM's model_prices_and_context_window.json)"
        )
    return out


def _fast_override(name: str) -> float | None:
    """ccusage's fast multiplier for a model LiteLLM gives none."""
    if name in _FAST_EXACT:
        return _FAST_EXACT[name]
    for part in name.replace(".", "-").replace("@", "-").replace(":", "/").split("/"):
        for base, mult in _FAST_SUFFIX.items():
            i = part.rfind(base)
            if i >= 0 and (len(part) == i + len(base) or part[i + len(base)] == "-"):
                return mult
    return None


def _opt(spec: dict[str, object], key: str) -> float | None:
    v = spec.get(key)
    return None if v is None else float(v)  # type: ignore[arg-type]


def _price(name: str, spec: dict[str, object]) -> ModelPrice:
    """A ModelPrice from one compact, validated entry."""
    inp = float(spec["input_cost_per_token"])  # type: ignore[arg-type]
    cw = _opt(spec, "cache_creation_input_token_cost")
    cr = _opt(spec, "cache_read_input_token_cost")
    fast = _fast(spec, name)
    if fast is None:
        fast = _fast_override(name)
    return ModelPrice(
        input=inp,
        output=float(spec["output_cost_per_token"]),  # type: ignore[arg-type]
        cache_write=inp * 1.25 if cw is None else cw,
        cache_read=inp * 0.1 if cr is None else cr,
        input_above_200k_tokens=_opt(spec, "input_cost_per_token_above_200k_tokens"),
        output_above_200k_tokens=_opt(spec, "output_cost_per_token_above_200k_tokens"),
        cache_write_above_200k_tokens=_opt(spec, "cache_creation_input_token_cost_above_200k_tokens"),
        cache_read_above_200k_tokens=_opt(spec, "cache_read_input_token_cost_above_200k_tokens"),
        fast_multiplier=1.0 if fast is None else fast,
        cache_read_explicit=cr is not None,
    )


# ---- model-name matching (ccusage's rules) --------------------------------------------------


def _alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


def _adds_version(key: str, suffix: str) -> bool:
    """Whether `suffix` after a key ending in a digit starts another numeric version (not a date)."""
    if not key[-1:].isdigit() or suffix[:1] not in ("-", "."):
        return False
    rest = suffix[1:]
    n = 0
    while n < len(rest) and rest[n].isascii() and rest[n].isdigit():
        n += 1
    if n == 0:
        return False
    return not (n == 8 and (n == len(rest) or not _alnum(rest[n])))


def _contains(value: str, key: str) -> bool:
    """`key` occurs in `value` between non-alphanumeric boundaries, adding no version."""
    if not key:
        return False
    i = value.find(key)
    while i >= 0:
        end = i + len(key)
        suffix = value[end:]
        if (i == 0 or not _alnum(value[i - 1])) and (
            not suffix or (not _alnum(suffix[0]) and not _adds_version(key, suffix))
        ):
            return True
        i = value.find(key, end)
    return False


def _norm(name: str) -> str:
    return name.replace(".", "-").replace("@", "-")


class PriceTable:
    """Prices by model name, with ccusage's name matching."""

    def __init__(self, models: dict[str, ModelPrice], *, source: str = "", date: str = "") -> None:
        self._models = dict(models)
        self._keys = [(k, _norm(k)) for k in sorted(self._models)]
        self._cache: dict[str, str | None] = {}
        self.source = source
        self.date = date
        self.fingerprint = _fingerprint(self._models)

    @classmethod
    def from_litellm(cls, data: object, *, source: str | None = None, date: str | None = None) -> PriceTable:
        """Build from a LiteLLM-format dict (full or filtered); PricingError when invalid."""
        meta = data.get("_meta") if isinstance(data, dict) else None
        meta = meta if isinstance(meta, dict) else {}
        compact = filter_litellm(data)
        models = {name: _price(name, spec) for name, spec in compact.items()}
        return cls(
            models,
            source=str(meta.get("source", "")) if source is None else source,
            date=str(meta.get("date", "")) if date is None else date,
        )

    def __len__(self) -> int:
        return len(self._models)

    def models(self) -> list[tuple[str, ModelPrice]]:
        """(name, price) of every model, sorted by name."""
        return sorted(self._models.items())

    def lookup(self, model: str) -> ModelPrice | None:
        """Price for a model name as logged, or None (unknown, empty, `<synthetic>`)."""
        key = self.resolve(model)
        return None if key is None else self._models[key]

    def resolve(self, model: str) -> str | None:
        """The table key a logged model name is priced as, or None."""
        try:
            return self._cache[model]
        except KeyError:
            pass
        key = self._find(model)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[model] = key
        return key

    def _find(self, model: str) -> str | None:
        if not isinstance(model, str) or model in _UNPRICED:
            return None
        key = self._find_key(model)
        if key is None and model in _ALIASES:
            key = self._find_key(_ALIASES[model])
        return key

    def _find_key(self, model: str) -> str | None:
        """Exact key, else the longest (then smallest) key matching at boundaries."""
        if model in self._models:
            return model
        norm = _norm(model)
        best: str | None = None
        for key, key_norm in self._keys:
            if best is not None and len(key) <= len(best):
                continue  # keys are sorted: an equal-length later key is never smaller
            if (_contains(model, key) or _contains(key, model)
                    or _contains(norm, key_norm) or _contains(key_norm, norm)):
                best = key
        return best


def _fingerprint(models: dict[str, ModelPrice]) -> str:
    """A stable short hash of the price data."""
    rows = [[name, *astuple(p)] for name, p in sorted(models.items())]
    blob = json.dumps([_ALIASES, rows], separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cost_for(table: PriceTable, model: str, input_tokens: int, output_tokens: int, cache_write_5m: int,
             cache_write_1h: int, cache_read: int, speed: str | None = None) -> tuple[float, bool]:
    """(cost, known) of one entry; an unknown model costs 0."""
    price = table.lookup(model)
    if price is None:
        return 0.0, False
    return entry_cost(price, input_tokens, output_tokens, cache_write_5m, cache_write_1h, cache_read, speed), True
