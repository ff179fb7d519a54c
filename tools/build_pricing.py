"""Build meshd/data/pricing.json from LiteLLM's model_prices_and_context_window.json.

Usage: python tools/build_pricing.py LITELLM.json [--date YYYY-MM-DD] [--out meshd/data/pricing.json]
Keeps only the cost fields of Anthropic and OpenAI chat models (facts, not code).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from meshd.core.pricing import filter_litellm  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("source", type=Path)
    ap.add_argument("--date", default=date.today().isoformat())
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "meshd/data/pricing.json")
    a = ap.parse_args()
    data = json.loads(a.source.read_text())
    table = filter_litellm(data)
    table["_meta"] = {"source": "LiteLLM model_prices_and_context_window.json", "date": a.date}
    a.out.write_text(json.dumps(table, sort_keys=True, separators=(",", ":")) + "\n")
    print(f"{len(table) - 1} models -> {a.out}")


if __name__ == "__main__":
    main()
