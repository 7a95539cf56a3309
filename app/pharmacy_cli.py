"""Pharmacy commands: ``flask stock verify`` (every batch's quantity equals the sum of its ledger
rows) and ``flask medicines load FILE`` (the medicine catalogue from a CSV file)."""
from __future__ import annotations

import click
from flask import Flask

from app.extensions import db


def register(app: Flask) -> None:
    @app.cli.group("stock")
    def stock_group() -> None:
        """The pharmacy's stock."""

    @stock_group.command("verify")
    def stock_verify() -> None:
        """Check that every batch's quantity equals the sum of its ledger rows; list the batches
        where it does not (exit code 1)."""
        from sqlalchemy import func, select

        from app.models import StockBatch
        from app.services.stock import verify_ledger

        mismatches = verify_ledger(db.session)
        batches = db.session.execute(select(func.count()).select_from(StockBatch)).scalar_one()
        if not mismatches:
            click.echo(f"Stock ledger adds up: {batches} batches checked.")
            return
        for m in mismatches:
            click.echo(f"batch {m.batch_id} (medicine {m.medicine_id}, lot {m.lot_number}): quantity {m.quantity}, "
                       f"ledger {m.ledger}, difference {m.quantity - m.ledger:+d}", err=True)
        click.echo(f"Stock ledger does NOT add up: {len(mismatches)} of {batches} batches.", err=True)
        raise SystemExit(1)

    @stock_group.command("rebuild-usage")
    def stock_rebuild_usage() -> None:
        """Make the daily-use rollup (days of cover, usage charts) again from the stock ledger."""
        from app.services.settings import ClinicSettings
        from app.services.stock_usage import rebuild_daily_use

        rows = rebuild_daily_use(db.session, ClinicSettings.from_config(app.config).timezone)
        db.session.commit()
        click.echo(f"Daily use rebuilt: {rows} rows.")

    @app.cli.group("medicines")
    def medicines_group() -> None:
        """The medicine catalogue."""

    @medicines_group.command("load")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    def medicines_load(file: str) -> None:
        """Add or update medicines from a CSV file (UTF-8, header row: code, name, active_ingredient,
        strength, dosage_form, unit, price, reorder_level). Every broken row is listed and nothing
        is saved; otherwise rows with a known code update that medicine."""
        from app.services.medicine_import import ImportRefused, load_medicines

        with open(file, encoding="utf-8-sig", newline="") as handle:
            try:
                added, updated = load_medicines(db.session, handle)
            except ImportRefused as refused:
                for line, problem in refused.problems:
                    click.echo(f"line {line}: {problem}", err=True)
                click.echo(f"Nothing loaded: {len(refused.problems)} problems.", err=True)
                raise SystemExit(1) from None
        click.echo(f"Medicines loaded: {added} added, {updated} updated.")
