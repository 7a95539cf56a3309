"""Report commands: ``flask report monthly --month 2026-11`` and ``flask report quarterly --quarter
2026-Q4``: the PDF (``app.services.reports``) written to ``--output`` or e-mailed (``--to``, as an
attachment through the mail service: the outbox folder without a mail server)."""
from __future__ import annotations

from datetime import date

import click
from flask import Flask

from app.extensions import db, mail
from app.services.errors import FieldErrors


def _run(app: Flask, kind: str, first: date, output: str | None, to: tuple[str, ...], language: str) -> None:
    from app.services import reports
    from app.services.settings import ClinicSettings

    clinic = ClinicSettings.from_config(app.config)
    grain = "month" if kind == "monthly" else "quarter"
    end = reports.period_end(first, grain)
    try:
        reports.check_range(first, end, clinic.today(), field="month" if kind == "monthly" else "quarter")
    except FieldErrors as error:
        raise click.BadParameter(" ".join(error.errors.values())) from None
    report = reports.build(db.session, kind, first, end, clinic.timezone, language, clinic.currency)
    pdf = reports.render(report, clinic.name, language)
    name = reports.file_name(kind, first, end)
    if not to:
        path = output or name
        with open(path, "wb") as fh:
            fh.write(pdf)
        click.echo(f"Written: {path}")
        return
    if output:
        with open(output, "wb") as fh:
            fh.write(pdf)
    where = reports.email_report(app.config, mail, to=list(to), title=report.title, period=report.period,
                                 clinic_name=clinic.name, pdf=pdf, filename=name, language=language)
    click.echo(f"Sent to {', '.join(to)}: {where}")


def register(app: Flask) -> None:
    @app.cli.group("report")
    def report_group() -> None:
        """Reports as PDFs, to a file or by e-mail."""

    language_option = click.option("--language", type=click.Choice(["en", "vi"]), default="vi", show_default=True)
    output_option = click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
                                 help="Write the PDF here (default: report-<period>.pdf in this folder).")
    to_option = click.option("--to", multiple=True, help="E-mail it to this address (repeat for more).")

    @report_group.command("monthly")
    @click.option("--month", required=True, help="YYYY-MM, e.g. 2026-11.")
    @output_option
    @to_option
    @language_option
    def monthly(month: str, output: str | None, to: tuple[str, ...], language: str) -> None:
        """The monthly report of --month."""
        from app.services.reports import parse_month

        try:
            first = parse_month(month)
        except FieldErrors as error:
            raise click.BadParameter(error.errors["month"], param_hint="--month") from None
        _run(app, "monthly", first, output, to, language)

    @report_group.command("quarterly")
    @click.option("--quarter", required=True, help="YYYY-Qn, e.g. 2026-Q4.")
    @output_option
    @to_option
    @language_option
    def quarterly(quarter: str, output: str | None, to: tuple[str, ...], language: str) -> None:
        """The quarterly report of --quarter."""
        from app.services.reports import parse_quarter

        try:
            first = parse_quarter(quarter)
        except FieldErrors as error:
            raise click.BadParameter(error.errors["quarter"], param_hint="--quarter") from None
        _run(app, "quarterly", first, output, to, language)
