"""Loading the price table: a user-installed LiteLLM file in the home, else the embedded snapshot."""

from __future__ import annotations

import json
import os
import tempfile
from importlib import resources
from pathlib import Path

from meshd.config import default_home
from meshd.core.pricing import PriceTable, filter_litellm
from meshd.errors import PricingError

USER_FILE = "pricing.json"
MAX_FILE = 64 << 20

__all__ = ["default_home", "install_price_file", "load_price_table"]


def load_price_table(home: Path | None) -> PriceTable:
    """The price table in force for this home."""
    if home is not None:
        user = home / USER_FILE
        if user.exists():
            try:
                return PriceTable.from_litellm(json.loads(user.read_bytes()), source=f"{user} (installed)")
            except (OSError, ValueError) as e:
                raise PricingError(f"cannot read {user}: {e}", hint="reinstall it with meshctl pricing --load") from None
    raw = resources.files("meshd.data").joinpath("pricing.json").read_bytes()
    return PriceTable.from_litellm(json.loads(raw), source="embedded LiteLLM snapshot")


def install_price_file(home: Path, src: Path) -> PriceTable:
    """Validate a LiteLLM price file and install its Anthropic/OpenAI prices for this home."""
    try:
        size = src.stat().st_size
        if size > MAX_FILE:
            raise PricingError(f"{src} is larger than 64 MiB; not a LiteLLM price file")
        raw = src.read_bytes()
    except OSError as e:
        raise PricingError(f"cannot read {src}: {e.strerror}") from None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise PricingError(f"{src} is not JSON") from None
    table_data: dict[str, object] = dict(filter_litellm(data))
    from datetime import datetime, timezone

    table_data["_meta"] = {"source": str(src), "date": datetime.fromtimestamp(src.stat().st_mtime, timezone.utc).date().isoformat()}
    table = PriceTable.from_litellm(table_data)  # validates
    home.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=home, prefix=".pricing.")
    with os.fdopen(fd, "w") as f:
        json.dump(table_data, f, sort_keys=True, separators=(",", ":"))
    os.replace(tmp, home / USER_FILE)
    return table
