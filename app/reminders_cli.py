"""``flask reminders run [--at ISO-TIME]``: queue the appointment reminders due at that moment
(default now) and their deliveries; for tests, cron-only installs and operators."""
from __future__ import annotations

import click
from flask import Flask


def register(app: Flask) -> None:
    @app.cli.group("reminders")
    def reminders_group() -> None:
        """Appointment reminders."""

    @reminders_group.command("run")
    @click.option("--at", "at", default=None, metavar="ISO-TIME",
                  help="The moment to run as (ISO 8601; without an offset, clinic time). Default: now.")
    def run(at: str | None) -> None:
        """Queue the reminders due at --at and one delivery job per message."""
        from app.jobs.reminders import parse_moment, run_due

        try:
            moment = parse_moment(at, app.config.get("CLINIC_TIMEZONE", "Asia/Ho_Chi_Minh"))
        except ValueError as exc:
            raise click.BadParameter(f"not an ISO 8601 time: {at!r}", param_hint="--at") from exc
        count = run_due(moment.isoformat() if moment else None)
        click.echo(f"Reminders queued: {count}.")
