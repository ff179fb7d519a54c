"""`meshctl pricing`: the price table in force, and loading a newer LiteLLM file."""

from __future__ import annotations

from pathlib import Path

import click

from meshctl.render import emit_json, table


def _mtok(x: float | None) -> str:
    return "-" if x is None else f"{x * 1e6:,.2f}"


@click.command("pricing")
@click.option("--json", "-j", "as_json", is_flag=True, help="Print JSON.")
@click.option("--model", metavar="TEXT", help="Only models whose name contains TEXT.")
@click.option("--load", "load", type=click.Path(dir_okay=False, path_type=Path),
              help="Install a newer LiteLLM model_prices_and_context_window.json.")
@click.pass_context
def pricing(ctx: click.Context, as_json: bool, model: str | None, load: Path | None) -> None:
    """Model prices in $ per million tokens, and the date of the table."""
    from meshd.pricing_store import install_price_file, load_price_table

    from meshctl.common import get_config

    home = get_config(ctx).home
    t = install_price_file(home, load) if load else load_price_table(home)
    if load:
        click.echo(f"Installed {len(t.models())} model prices from {load}; costs are recomputed on the next report.", err=True)
    rows = [(n, p) for n, p in t.models() if not model or model.lower() in n.lower()]
    if as_json:
        emit_json({"source": t.source, "date": t.date, "models": [
            {"model": n, "input": p.input, "output": p.output, "cacheWrite": p.cache_write, "cacheRead": p.cache_read,
             "inputAbove200k": p.input_above, "outputAbove200k": p.output_above, "fastMultiplier": p.fast_multiplier}
            for n, p in rows]})
        return
    click.echo(f"Prices from {t.source}, dated {t.date or 'unknown'} ($ per million tokens)")
    body = [[n[:34], _mtok(p.input), _mtok(p.output), _mtok(p.cache_write), _mtok(p.cache_read), _mtok(p.input_above)]
            for n, p in rows]
    click.echo(table(["Model", "Input", "Output", "Cache W", "Cache R", "In>200k"], body))
