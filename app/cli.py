"""Commands: ``flask sync-roles`` (deploy step) and ``flask seed`` (demo data and logins)."""
from __future__ import annotations

from typing import Callable

import click
from flask import Flask, current_app
from flask_appbuilder import Model
from sqlalchemy import func, select, text
from tqdm import tqdm

from app.extensions import db
from app.models import Doctor, Employee, Patient, Service
from app.services.settings import ClinicSettings

DEMO_PASSWORD = "ClinicDemo1!"
# login -> (role, first name, last name)
DEMO_USERS = {
    "admin": ("Admin", "Quản trị", "Viên"),
    "manager": ("Manager", "Quản lý", "Phòng khám"),
    "reception": ("Receptionist", "Lễ tân", "Nguyễn"),
    "doctor": ("Doctor", "Bác sĩ", "Trần"),
    "pharmacist": ("Pharmacist", "Dược sĩ", "Lê"),
    "patient": ("Patient", "Bệnh nhân", "Phạm"),
}


def database_is_empty() -> bool:
    return not any(
        db.session.execute(select(func.count()).select_from(model)).scalar() for model in (Patient, Doctor, Service)
    )


def wipe_clinic_data() -> None:
    """Delete every clinic record and the demo logins; other logins and roles stay."""
    for table in reversed(Model.metadata.sorted_tables):
        if not table.name.startswith("ab_"):
            db.session.execute(table.delete())
    sm = current_app.appbuilder.sm
    for username in DEMO_USERS:
        user = sm.find_user(username=username)
        if user is not None:
            db.session.delete(user)
    db.session.commit()


def reset_sequences() -> None:
    """Bulk inserts with explicit ids do not move PostgreSQL sequences; move them past max(id)."""
    if db.engine.dialect.name != "postgresql":
        return
    for table in Model.metadata.sorted_tables:
        if "id" in table.c and table.c.id.primary_key and table.c.id.autoincrement:
            db.session.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            ))
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
    session = db.session
    doctor = session.execute(select(Doctor).where(Doctor.user_id.is_(None)).order_by(Doctor.id)).scalars().first()
    if doctor is not None:
        doctor.user_id = users["doctor"].id
    patient = session.execute(select(Patient).where(Patient.user_id.is_(None)).order_by(Patient.id)).scalars().first()
    if patient is not None:
        patient.user_id = users["patient"].id
    for username, position in (("reception", "receptionist"), ("pharmacist", "pharmacist"), ("manager", "manager")):
        user = users[username]
        session.add(Employee(full_name=f"{user.last_name} {user.first_name}", position=position, user_id=user.id,
                             email=user.email))
    session.commit()


def seed_demo_clinic(echo: Callable[[str], None], patients: int = 200, seed_value: int = 42) -> None:
    """Demo data and the demo logins, into an empty database (``flask seed``, ``run.py --prepare``)."""
    from app.services.demo_data import seed_demo_data

    settings = ClinicSettings.from_config(current_app.config)
    with tqdm(total=patients, unit="patient", desc="Seeding", disable=None) as bar:
        counts = seed_demo_data(
            db.session, patients=patients, seed=seed_value, timezone=settings.timezone,
            currency=settings.currency, today=settings.today(), progress=bar.update,
        )
    reset_sequences()
    create_demo_users()
    echo(", ".join(f"{name}: {count}" for name, count in counts.items()))
    echo("Demo logins: " + ", ".join(DEMO_USERS) + f" (password {DEMO_PASSWORD})")


def register(app: Flask) -> None:
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
