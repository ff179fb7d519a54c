"""`meshctl pricing`: the price table in force, and installing a newer LiteLLM file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from meshd.core.pricing import ModelPrice, PriceTable
from meshd.errors import MeshError

_HEAD = ("Model", "Input", "Output", "CacheW", "CacheR", ">200k in/out", "Fast")
_WIDTHS = (28, 7, 7, 7, 7, 12, 4)  # 78 columns with the separating spaces


def _mtok(rate: float | None) -> str:
    """A per-token rate as $ per million tokens, without trailing zeros."""
    if rate is None:
        return "-"
    return f"{rate * 1e6:.4f}".rstrip("0").rstrip(".")


def _row(name: str, p: ModelPrice) -> list[str]:
    above = "-" if p.input_above_200k_tokens is None and p.output_above_200k_tokens is None else (
        f"{_mtok(p.input_above_200k_tokens)}/{_mtok(p.output_above_200k_tokens)}")
    fast = "-" if p.fast_multiplier == 1.0 else f"{p.fast_multiplier:g}x"
    return [name, _mtok(p.input), _mtok(p.output), _mtok(p.cache_write), _mtok(p.cache_read), above, fast]


def render_table(rows: list[tuple[str, ModelPrice]]) -> str:
    """Plain aligned columns within 80 terminal columns; a long name gets a line of its own."""
    lines = []
    for cells in [list(_HEAD), *(_row(n, p) for n, p in rows)]:
        name, nums = cells[0], " ".join(c.rjust(w) for c, w in zip(cells[1:], _WIDTHS[1:]))
        if len(name) > _WIDTHS[0]:
            lines.append(name)
            name = ""
        lines.append(f"{name.ljust(_WIDTHS[0])} {nums}".rstrip())
    return "\n".join(lines)


def _as_json(table: PriceTable, rows: list[tuple[str, ModelPrice]]) -> str:
    models = [
        {"model": n, "input": p.input, "output": p.output, "cacheWrite": p.cache_write,
         "cacheRead": p.cache_read, "inputAbove200k": p.input_above_200k_tokens,
         "outputAbove200k": p.output_above_200k_tokens, "cacheWriteAbove200k": p.cache_write_above_200k_tokens,
         "cacheReadAbove200k": p.cache_read_above_200k_tokens, "fastMultiplier": p.fast_multiplier}
        for n, p in rows
    ]
    doc = {"source": table.source, "date": table.date, "fingerprint": table.fingerprint,
           "unit": "USD per token", "models": models}
    return json.dumps(doc, indent=2)


def _home(ctx: click.Context) -> Path:
    from meshd.pricing_store import default_home

    obj = ctx.find_root().obj
    home = obj.get("home") if isinstance(obj, dict) else None
    return Path(home) if home else default_home()


@click.command("pricing")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (rates in USD per token).")
@click.option("--model", "model", metavar="SUBSTRING", help="Only models whose name contains SUBSTRING.")
@click.option("--load", "load", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path),
              help="Install a newer LiteLLM model_prices_and_context_window.json.")
@click.pass_context
def pricing(ctx: click.Context, as_json: bool, model: str | None, load: Path | None) -> None:
    """Model prices in $ per million tokens, with the table's date and source."""
    from meshd.pricing_store import install_price_file, load_price_table

    home = _home(ctx)
    try:
        table = install_price_file(home, load) if load else load_price_table(home)
    except MeshError as e:
        hint = f" (hint: {e.hint})" if e.hint else ""
        raise click.ClickException(f"{e}{hint}") from None
    if load:
        click.echo(f"Installed prices for {len(table)} models from {load}; costs are recomputed on the next report.",
                   err=True)
    rows = [(n, p) for n, p in table.models() if not model or model.lower() in n.lower()]
    note = None
    if model and not rows:
        key = table.resolve(model)
        if key is None:
            raise click.ClickException(f"no price for model {model!r}: it costs $0")
        note = f"{model} is priced as {key}"
        rows = [(n, p) for n, p in table.models() if n == key]
    if as_json:
        click.echo(_as_json(table, rows))
        return
    click.echo(f"Source: {table.source}")
    click.echo(f"Date:   {table.date or 'unknown'}   (rates in $ per million tokens)")
    if note:
        click.echo(note)
    click.echo(render_table(rows))
