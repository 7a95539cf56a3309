"""The visit workspace page (issue 9): its doctor opens it; a doctor outside the patient's care is
refused and the refusal is audited."""
from __future__ import annotations


def _doctor_of(app, db, username: str, name: str) -> int:
    from app.models import Doctor

    user = app.appbuilder.sm.find_user(username=username)
    doctor = db.session.query(Doctor).filter_by(user_id=user.id).one_or_none()
    if doctor is None:
        doctor = Doctor(full_name=name, user_id=user.id)
        db.session.add(doctor)
        db.session.commit()
    return doctor.id


def test_the_doctor_opens_the_workspace_of_their_visit(app, db, clinic, login_as):
    from app.models import Encounter

    doctor = _doctor_of(app, db, "doctor", "Lê Văn Bác Sĩ")
    encounter = clinic.save(Encounter(patient_id=clinic.patient, doctor_id=doctor, chief_complaint="Ho"))
    page = login_as("doctor").get(f"/visit/{encounter}")
    assert page.status_code == 200
    assert "Nguyễn Văn An" in page.get_data(as_text=True)


def test_a_doctor_outside_the_care_team_is_refused(app, db, clinic, login_as):
    from app.models import AuditEvent, Encounter

    encounter = clinic.save(Encounter(patient_id=clinic.patient, doctor_id=clinic.doctor, chief_complaint="Ho"))
    _doctor_of(app, db, "doctor", "Lê Văn Bác Sĩ")
    page = login_as("doctor").get(f"/visit/{encounter}")
    assert page.status_code == 403
    assert "Nguyễn Văn An" not in page.get_data(as_text=True)
    denied = db.session.query(AuditEvent).filter_by(action="denied", entity="Encounter",
                                                     entity_id=str(encounter)).count()
    assert denied == 1
