"""Billing commands: ``flask billing retry-emails`` (send again the invoices whose e-mail failed,
fewer than five tries so far; for cron, or by hand once the mail server is back)."""
from __future__ import annotations

import click
from flask import Flask

from app.extensions import db, mail


def register(app: Flask) -> None:
    @app.cli.group("billing")
    def billing_group() -> None:
        """Invoices and payments."""

    @billing_group.command("retry-emails")
    @click.option("--max-attempts", default=5, show_default=True, help="Leave invoices tried this often alone.")
    def retry_emails(max_attempts: int) -> None:
        """Send again every invoice e-mail that failed (fewer than --max-attempts tries)."""
        from app.models.types import utcnow
        from app.services.invoice_mail import retry_failed_invoice_emails

        results = retry_failed_invoice_emails(db.session, utcnow(), app.config, mail, max_attempts)
        sent = [invoice_id for invoice_id, outcome in results if outcome.status == "sent"]
        for invoice_id, outcome in results:
            if outcome.status != "sent":
                click.echo(f"invoice {invoice_id}: still failing: {outcome.error}", err=True)
        click.echo(f"Invoice e-mails sent again: {len(sent)} of {len(results)}.")
