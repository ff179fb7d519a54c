"""Loading the price table: the embedded snapshot, overlaid with a LiteLLM file the user installed."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

from meshd.config import default_home  # re-exported for callers that only need the home
from meshd.core.pricing import PriceTable, filter_litellm
from meshd.errors import PricingError

USER_FILE = "pricing.json"
MAX_FILE_BYTES = 64 * 1024 * 1024
EMBEDDED_SOURCE = "embedded snapshot"

__all__ = ["default_home", "embedded_data", "install_price_file", "load_price_table"]


def embedded_data() -> dict[str, object]:
    """The embedded snapshot as a LiteLLM-format dict (with `_meta`)."""
    raw = resources.files("meshd.data").joinpath("pricing.json").read_bytes()
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise PricingError("the embedded price snapshot is damaged", hint="reinstall meshd")
    return data


def _meta(data: dict[str, object]) -> dict[str, object]:
    meta = data.get("_meta")
    return meta if isinstance(meta, dict) else {}


def load_price_table(home: Path | None) -> PriceTable:
    """The table in force: the embedded snapshot, with `<home>/pricing.json` winning per model."""
    data = embedded_data()
    meta = _meta(data)
    source, date = f"{meta.get('source', EMBEDDED_SOURCE)}", str(meta.get("date", ""))
    user = None if home is None else home / USER_FILE
    if user is not None and user.is_file():
        installed = _read_json(user, hint="reinstall it with `meshctl pricing --load FILE`")
        umeta = _meta(installed)
        data = {**data, **filter_litellm(installed)}
        source = f"{umeta.get('source', user)} (installed) over {source}"
        date = str(umeta.get("date", date))
    return PriceTable.from_litellm(data, source=source, date=date)


def _read_json(path: Path, *, hint: str | None = None) -> dict[str, object]:
    """A JSON object from a file of at most 64 MiB; PricingError otherwise."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise PricingError(f"{path} is {size / 2**20:.0f} MiB, over the 64 MiB limit for a price file", hint=hint)
        raw = path.read_bytes()
    except OSError as e:
        raise PricingError(f"cannot read {path}: {e.strerror or e}", hint=hint) from None
    if not raw.strip():
        raise PricingError(f"{path} is empty", hint=hint)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise PricingError(f"{path} is not valid JSON ({e})", hint=hint) from None
    if not isinstance(data, dict):
        raise PricingError(f"{path} holds a JSON {type(data).__name__}, not an object of models", hint=hint)
    return data


def install_price_file(home: Path, src: Path) -> PriceTable:
    """Validate a LiteLLM price file, store its filtered prices at `<home>/pricing.json` atomically."""
    data = _read_json(src)
    try:
        models = filter_litellm(data)
    except PricingError as e:
        raise PricingError(f"{src}: {e}") from None
    mtime = datetime.fromtimestamp(src.stat().st_mtime, timezone.utc).date().isoformat()
    meta = _meta(data)
    stored: dict[str, object] = {
        "_meta": {"source": str(meta.get("source", src.name)), "date": str(meta.get("date", mtime))}
    }
    stored.update(models)
    PriceTable.from_litellm(stored)  # every kept entry must build
    _write_atomic(home / USER_FILE, json.dumps(stored, separators=(",", ":")) + "\n")
    return load_price_table(home)


def _write_atomic(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".pricing.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
