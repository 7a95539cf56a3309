"""The database side of ``flask seed``: is there clinic data, wipe it, move PostgreSQL sequences
after bulk inserts, and link the demo logins to clinic records. The CLI only creates the logins
(through FAB's security manager) and calls these."""
from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import Integer, func, select, text
from sqlalchemy.orm import Session

from app.models import Doctor, Employee, Patient, Service
from app.models.types import utcnow
from app.services.accounts.second_factor import enrol_with_secret

# The two-step login secret of every demo login whose role needs it (README, "Demo logins"). Demo
# data only: it is published, so anyone can make the codes.
DEMO_TOTP_SECRET = "DEMOCLINICTOTPSECRETJBSWY3DPEHPK"


def database_is_empty(session: Session) -> bool:
    return not any(
        session.execute(select(func.count()).select_from(model)).scalar() for model in (Patient, Doctor, Service)
    )


# Never wiped: the audit trail outlives the data it describes (and PostgreSQL refuses to delete it).
KEPT = ("audit_event",)


def wipe_clinic_data(session: Session) -> None:
    """Delete every clinic record (FAB's ``ab_*`` tables, logins and roles, and the audit trail
    stay). Not committed: the caller removes the demo logins in the same transaction."""
    for table in reversed(Model.metadata.sorted_tables):
        if not table.name.startswith("ab_") and table.name not in KEPT:
            session.execute(table.delete())


def reset_sequences(session: Session) -> None:
    """Bulk inserts with explicit ids do not move PostgreSQL sequences; move them past max(id)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in Model.metadata.sorted_tables:
        # ``autoincrement`` is "auto" (true) on any single-column key: only integer keys have a sequence
        # (a session's id is a digest).
        if "id" in table.c and table.c.id.primary_key and isinstance(table.c.id.type, Integer) \
                and table.c.id.autoincrement:
            session.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            ))
    session.commit()


def link_demo_accounts(session: Session, doctor_user_id: int, patient_user_id: int,
                       staff: list[tuple[str, str, int, str | None]]) -> None:
    """Give the demo doctor and patient logins the first unlinked doctor and patient, and each
    staff login (full name, position, user id, e-mail) an employee record."""
    doctor = session.execute(select(Doctor).where(Doctor.user_id.is_(None)).order_by(Doctor.id)).scalars().first()
    if doctor is not None:
        doctor.user_id = doctor_user_id
    patient = session.execute(select(Patient).where(Patient.user_id.is_(None)).order_by(Patient.id)).scalars().first()
    if patient is not None:
        patient.user_id = patient_user_id
    for full_name, position, user_id, email in staff:
        session.add(Employee(full_name=full_name, position=position, user_id=user_id, email=email))
    session.commit()


def enrol_demo_logins(session: Session, user_ids: list[int]) -> None:
    """Turn two-step login on for the demo logins ``user_ids`` with ``DEMO_TOTP_SECRET``."""
    now = utcnow()
    for user_id in user_ids:
        enrol_with_secret(session, user_id, DEMO_TOTP_SECRET, now)
    session.commit()
