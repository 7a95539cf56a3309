"""Commands: ``flask sync-roles`` (deploy step), ``flask seed`` (demo data and logins), ``flask
unlock-account`` (an account locked after too many failed logins), ``flask audit verify`` (the
audit trail's hash chain), ``flask prune-sessions`` (old login sessions, run daily), ``flask
interactions load`` (the drug interaction table) and ``flask icd10 load FILE`` (the ICD-10 code table)."""
from __future__ import annotations

from typing import Callable

import click
from flask import Flask, current_app
from tqdm import tqdm

from app.extensions import db
from app.services.demo_data import maintenance
from app.services.settings import ClinicSettings

DEMO_PASSWORD = "ClinicDemo1!"
# login -> (role, first name, last name)
DEMO_USERS = {
    "admin": ("Admin", "Quản trị", "Viên"),
    "manager": ("Manager", "Quản lý", "Phòng khám"),
    "reception": ("Receptionist", "Lễ tân", "Nguyễn"),
    "doctor": ("Doctor", "Bác sĩ", "Trần"),
    "pharmacist": ("Pharmacist", "Dược sĩ", "Lê"),
    "lab": ("Lab", "Kỹ thuật viên", "Võ"),
    "cashier": ("Cashier", "Thu ngân", "Đặng"),
    "patient": ("Patient", "Bệnh nhân", "Phạm"),
}


def database_is_empty() -> bool:
    return maintenance.database_is_empty(db.session)


def wipe_clinic_data() -> None:
    """Delete every clinic record and the demo logins; other logins and roles stay."""
    maintenance.wipe_clinic_data(db.session)
    sm = current_app.appbuilder.sm
    for username in DEMO_USERS:
        user = sm.find_user(username=username)
        if user is not None:
            db.session.delete(user)
    db.session.commit()


def create_demo_users() -> None:
    """The demo logins of the README, linked to a doctor, a patient and staff records."""
    sm = current_app.appbuilder.sm
    users = {}
    for username, (role_name, first, last) in DEMO_USERS.items():
        role = sm.find_role(role_name)
        if role is None:
            raise click.ClickException(f"Role {role_name} is missing: run `flask sync-roles` first.")
        user = sm.find_user(username=username) or sm.add_user(
            username, first, last, f"{username}@clinic.example", role, password=DEMO_PASSWORD
        )
        if not user:
            raise click.ClickException(f"Could not create the demo user {username}.")
        users[username] = user
    positions = (("reception", "receptionist"), ("pharmacist", "pharmacist"), ("manager", "manager"),
                 ("lab", "technician"), ("cashier", "cashier"))
    staff = [(f"{users[name].last_name} {users[name].first_name}", position, users[name].id, users[name].email)
             for name, position in positions]
    maintenance.link_demo_accounts(db.session, users["doctor"].id, users["patient"].id, staff)
    settings = ClinicSettings.from_config(current_app.config)
    maintenance.staff_the_demo_cash_desk(db.session, users["cashier"].id, users["reception"].id, settings.timezone,
                                         settings.today())
    from app.services.accounts.second_factor import is_required

    maintenance.enrol_demo_logins(db.session, [user.id for user in users.values() if is_required(user)])


def seed_demo_clinic(echo: Callable[[str], None], patients: int = 200, seed_value: int = 42) -> None:
    """Demo data and the demo logins, into an empty database (``flask seed``, ``run.py --prepare``)."""
    from app.services.demo_data import seed_demo_data

    settings = ClinicSettings.from_config(current_app.config)
    with tqdm(total=patients, unit="patient", desc="Seeding", disable=None) as bar:
        counts = seed_demo_data(
            db.session, patients=patients, seed=seed_value, timezone=settings.timezone,
            currency=settings.currency, today=settings.today(), progress=bar.update,
        )
    maintenance.reset_sequences(db.session)
    # Today played up to now through the desk's own services: done, in consultation, waiting, a no-show.
    from app.services.demo_data.front_desk_day import seed_front_desk_day

    desk = seed_front_desk_day(db.session, settings, settings.now(), seed=seed_value)
    create_demo_users()
    echo(", ".join(f"{name}: {count}" for name, count in counts.items()))
    day = ", ".join(f"{state} {n}" for state, n in sorted(desk.items()))
    echo(f"Today at the front desk: {day or 'no bookings'}")
    echo("Demo logins: " + ", ".join(DEMO_USERS) + f" (password {DEMO_PASSWORD}; two-step login secret of "
         f"the roles that need it: {maintenance.DEMO_TOTP_SECRET})")


def register(app: Flask) -> None:
    from app import billing_cli, events_cli, jobs_cli, pharmacy_cli, reminders_cli, reports_cli, search_cli

    pharmacy_cli.register(app)  # flask stock verify, flask medicines load
    billing_cli.register(app)  # flask billing retry-emails
    reminders_cli.register(app)  # flask reminders run [--at]
    jobs_cli.register(app)  # flask worker, flask scheduler
    reports_cli.register(app)  # flask report monthly|quarterly
    search_cli.register(app)  # flask search reindex [--kind], flask search status
    events_cli.register(app)  # flask events relay [--once], flask events consume NAME

    @app.cli.group("dashboards")
    def dashboards_group() -> None:
        """The managers' dashboards."""

    @dashboards_group.command("rebuild")
    def dashboards_rebuild() -> None:
        """Make the dashboards' rollups again from the appointments (after a bulk import, or after
        changing CLINIC_TIMEZONE), and drop the cached figures."""
        from app.services import cache
        from app.services.dashboards import rollups

        settings = ClinicSettings.from_config(current_app.config)
        counts = rollups.rebuild(db.session, settings.timezone)
        db.session.commit()
        cache.invalidate(cache.DASHBOARDS)
        click.echo(", ".join(f"{name}: {count}" for name, count in counts.items()))

    @app.cli.command("sync-roles")
    def sync_roles() -> None:
        """Create all permissions and the built-in roles (run after `flask db upgrade`)."""
        current_app.appbuilder.sm.sync_roles()
        click.echo("Roles and permissions are in sync.")

    @app.cli.command("seed")
    @click.option("--patients", default=200, show_default=True, type=click.IntRange(1, 1_000_000))
    @click.option("--seed", "seed_value", default=42, show_default=True, help="Random seed (same seed, same data).")
    @click.option("--force", is_flag=True, help="Delete existing clinic data first.")
    @click.option("--if-empty", is_flag=True, help="Do nothing (and succeed) when there is data already.")
    def seed(patients: int, seed_value: int, force: bool, if_empty: bool) -> None:
        """Fill an empty database with realistic demo data and the demo logins."""
        if not database_is_empty():
            if if_empty:
                click.echo("The database has data already; not seeding.")
                return
            if not force:
                raise click.ClickException("The database is not empty. Use --force to replace its clinic data.")
            wipe_clinic_data()
        seed_demo_clinic(click.echo, patients=patients, seed_value=seed_value)

    @app.cli.command("unlock-account")
    @click.argument("username")
    def unlock_account(username: str) -> None:
        """End the lock of an account locked after too many failed logins (e.g. the only admin's)."""
        from app.models.types import utcnow
        from app.services.accounts import lockout
        from app.services.errors import DomainError

        user = current_app.appbuilder.sm.find_user(username=username)  # type: ignore[attr-defined]
        if user is None:
            raise click.ClickException(f"No login named {username}.")
        try:
            lockout.unlock_account(db.session, user_id=user.id, now=utcnow(), actor_id=None)
        except DomainError as exc:
            raise click.ClickException(f"{username}: {exc.message}") from None
        click.echo(f"{username} is unlocked.")

    @app.cli.group("audit")
    def audit_group() -> None:
        """The audit trail."""

    @audit_group.command("verify")
    def audit_verify() -> None:
        """Walk the audit trail's hash chain; name the first broken link (exit code 1) or count the rows."""
        from app.services.audit_chain import verify_audit_trail

        report = verify_audit_trail(db.session)
        if report.broken is None:
            waiting = f" {report.waiting} newer rows are waiting for their link." if report.waiting else ""
            click.echo(f"Audit trail intact: {report.rows} rows checked.{waiting}")
            return
        broken = report.broken
        position = f" (chain position {broken.seq})" if broken.seq is not None else ""
        click.echo(f"Audit trail BROKEN at row id {broken.row_id}{position}: {broken.problem}. "
                   f"{report.rows} rows before it are intact.", err=True)
        raise SystemExit(1)

    @app.cli.group("icd10")
    def icd10_group() -> None:
        """The ICD-10 code table."""

    @icd10_group.command("load")
    @click.argument("file", type=click.File("rb"))
    def icd10_load(file) -> None:
        """Add or update ICD-10 codes from a CSV file (header code,title_en,title_vi; UTF-8). A file
        with any broken row loads nothing: every broken row is listed with its line number."""
        from app.services import icd10

        report = icd10.load_codes(db.session, file)
        if not report.ok:
            for line, message in report.errors:
                click.echo(f"{file.name}:{line}: {message}", err=True)
            click.echo(f"Nothing loaded: {len(report.errors)} broken rows.", err=True)
            raise SystemExit(1)
        click.echo(f"ICD-10 codes: {report.added} added, {report.updated} updated, {report.unchanged} unchanged.")

    @app.cli.command("mfa-reset")
    @click.argument("username")
    def mfa_reset(username: str) -> None:
        """Turn two-step login off for USERNAME (lost phone and recovery codes); a user whose role
        needs it enrols again at their next login."""
        from app.services.accounts.second_factor import reset_second_factor

        user = current_app.appbuilder.sm.find_user(username=username)
        if user is None:
            raise click.ClickException(f"No login {username}.")
        reset_second_factor(db.session, user.id)
        click.echo(f"Two-step login of {username} is off; they enrol again at their next login if their role needs it.")
    @app.cli.command("prune-sessions")
    @click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3650),
                  help="Keep sessions ended or expired within this many days (the sessions page and audit need "
                       "no older ones).")
    def prune_sessions(days: int) -> None:
        """Delete login sessions (and their refresh tokens) that ended or expired long ago."""
        from datetime import timedelta

        from app.models.types import utcnow
        from app.services.accounts.sessions import prune_sessions as prune

        deleted = prune(db.session, utcnow(), keep=timedelta(days=days))
        db.session.commit()
        click.echo(f"Deleted {deleted} old sessions.")

    @app.cli.group("interactions")
    def interactions_group() -> None:
        """The drug interaction table (pairs of active ingredients) the prescription is checked against."""

    @interactions_group.command("load")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    def interactions_load(file: str) -> None:
        """Load FILE, a CSV with the columns ingredient_a, ingredient_b, severity (minor, moderate,
        severe), description_en, description_vi. One transaction: a bad row (reported with its line
        number) loads nothing; a pair already there is updated."""
        from app.services.prescribing import InteractionFileRefused, load_interactions

        try:
            with open(file, encoding="utf-8-sig", newline="") as handle:
                text = handle.read()
        except UnicodeDecodeError:
            raise click.ClickException(f"{file} is not UTF-8 text.") from None
        try:
            result = load_interactions(db.session, text)
        except InteractionFileRefused as exc:
            for problem in exc.problems:
                click.echo(problem, err=True)
            raise click.ClickException(f"Nothing loaded: {len(exc.problems)} bad rows in {file}.") from None
        click.echo(f"Interactions loaded: {result.added} added, {result.updated} updated.")
