"""The search box (issue 16, items 4 and 5) on both engines: whoosh files and PostgreSQL's full-text
search (the PostgreSQL one only when the suite runs on PostgreSQL). Accents, typos, phone numbers
written any way, Vietnamese text, hostile queries, who sees what, the index following writes, the
reindex command, and a missing or corrupt index."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

ENGINES = ["whoosh", pytest.param("postgres", marks=pytest.mark.needs_postgres)]


@pytest.fixture(params=ENGINES)
def engine(request, app):
    """The engine under test, chosen by ``SEARCH_ENGINE``, with an empty, complete index."""
    from app.extensions import db
    from app.services import search

    previous = app.config.get("SEARCH_ENGINE", "")
    app.config["SEARCH_ENGINE"] = request.param
    app.config["SEARCH_INDEX_ON_WRITE"] = True  # off for the rest of the suite (TestConfig)
    with app.app_context():
        chosen = search.make_engine(app.config, db.engine)
        chosen.clear()
        chosen.mark_complete()
    yield chosen
    app.config["SEARCH_ENGINE"] = previous
    app.config["SEARCH_INDEX_ON_WRITE"] = False


def found(response, kind: str | None = None) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    data = response.get_json()
    assert data["state"] == "ok", data
    return [r["title"] for g in data["groups"] if kind is None or g["kind"] == kind for r in g["results"]]


def box(browser, text: str, **args):
    return browser.get("/search/json", query_string={"q": text, **args})


@pytest.fixture
def people(engine, api):
    made = {}
    for name, phone, national_id in (("Nguyễn Văn Anh", "0903 123 456", "079123456789"),
                                     ("Nguyễn Thị Ánh", "0987 654 321", None),
                                     ("Trần Đức Thắng", "+84 912 000 111", None)):
        body = {"full_name": name, "phone": phone}
        if national_id:
            body["national_id"] = national_id
        made[name] = api.create("patient", body)
    return made


@pytest.mark.parametrize("typed", ["nguyen van anh", "Nguyễn Văn Anh", "NGUYEN", "nguy", "Nguyen Van Anhh",
                                   "nguyen vam anh"])
def test_a_patient_is_found_without_accents_with_typos_and_as_you_type(people, login_as, typed):
    titles = found(box(login_as("receptionist"), typed), "patients")
    assert any(title.startswith("Nguyễn Văn Anh (") for title in titles), titles


@pytest.mark.parametrize("typed", ["0903 123 456", "+84903123456", "090.312.3456", "0903123456", "84903123456",
                                   "079123456789", "079 123 456 789"])
def test_a_patient_is_found_by_phone_written_any_way_and_national_id(people, login_as, typed):
    assert [t.split(" (")[0] for t in found(box(login_as("receptionist"), typed), "patients")] == ["Nguyễn Văn Anh"]


def test_a_patient_is_found_by_code(people, login_as):
    titles = found(box(login_as("doctor"), "BN000003"), "patients")
    assert titles and titles[0].startswith("Trần Đức Thắng")


@pytest.mark.parametrize("typed", [
    'nguyen AND OR NOT', '"unclosed quote', "name:*", "nguyen~2", "*", "?", "(((", ")", "a" * 5000,
    "x " * 3000, "🙂🙂 nguyễn 👩‍⚕️", "\x01\x02nguyen\x7f\x1b[2J", "'; DROP TABLE patient; --", "\\", "%_%",
    "!!!&&&|||", "<script>alert(1)</script>", "nguyen:*", "'nguyen':* | 'x'", "\u202enguyen\u200b", "",
])
def test_hostile_queries_answer_200_without_error(people, login_as, typed):
    browser = login_as("admin")
    response = box(browser, typed)
    assert response.status_code == 200 and response.get_json()["state"] == "ok"
    page = browser.get("/search/", query_string={"q": typed})
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.get_data(as_text=True)


def test_emoji_and_control_characters_do_not_hide_the_name(people, login_as):
    browser = login_as("receptionist")
    assert found(box(browser, "🙂 \x01nguyễn\x07 văn\u200b anh\x7f"), "patients")
    # A NUL byte is refused before any view (app/errors.py: never part of a clinic's data): 400, not 500.
    assert box(browser, "nguyen\x00").status_code == 400


def test_medicines_by_name_and_ingredient_for_pharmacy(engine, clinic, login_as):
    from app.models import Medicine

    clinic.save(Medicine(code="AMOX500", name="Amoxicillin Stada", active_ingredient="Amoxicilin", strength="500 mg",
                         unit="viên"))
    pharmacist = login_as("pharmacist")
    assert found(box(pharmacist, "amoxi"), "medicines") == ["Amoxicillin Stada · 500 mg"]
    assert found(box(pharmacist, "amoxicilin"), "medicines")
    assert found(box(pharmacist, "amox500"), "medicines")  # the code


def test_invoices_by_number_and_patient(engine, db, clinic, login_as):
    from app.extensions import db
    from app.models import Invoice

    number = db.session.get(Invoice, clinic.invoice).number
    cashier = login_as("cashier")
    assert found(box(cashier, number), "invoices") == [number]
    assert found(box(cashier, number.replace("-", " ")), "invoices") == [number]
    assert number in found(box(cashier, "nguyen van an"), "invoices")


def _visit(clinic, complaint: str, diagnosis: str | None = None) -> int:
    from app.models import Diagnosis, Encounter

    encounter = clinic.save(Encounter(patient_id=clinic.patient, doctor_id=clinic.doctor, chief_complaint=complaint))
    if diagnosis:
        clinic.save(Diagnosis(encounter_id=encounter, icd10_code="J06.9", text=diagnosis, is_primary=True))
    return encounter


@pytest.fixture
def care_doctor(app, clinic):
    """The login of the clinic's doctor (the patient's care team)."""
    from app.extensions import db
    from app.models import Doctor
    from tests.test_access import ensure_user

    with app.app_context():
        user_id = ensure_user(app, "search_doctor", "Doctor")
    with app.app_context():
        doctor = db.session.get(Doctor, clinic.doctor)
        doctor.user_id = user_id
        db.session.commit()
    return "search_doctor"


def test_vietnamese_visit_text_for_the_care_team_only(engine, clinic, login_as, care_doctor):
    _visit(clinic, "Đau đầu, chóng mặt SECRET-TEXT", "Viêm họng cấp")
    mine = login_as(care_doctor)
    for typed in ("dau dau chong mat", "đau đầu", "viem hong", "Viêm họng cấp", "J06.9"):
        data = box(mine, typed).get_json()
        visits = [g for g in data["groups"] if g["kind"] == "visits"]
        assert visits and "SECRET-TEXT" in visits[0]["results"][0]["detail"], (typed, data)
    # Another doctor (no appointment or visit with the patient): the visit is not among the results.
    for username in ("doctor", "admin"):
        body = box(login_as(username), "chong mat").get_data(as_text=True)
        assert "SECRET-TEXT" not in body and "visits" not in json.dumps(json.loads(body)["groups"])


@pytest.mark.parametrize("username", ["receptionist", "cashier", "pharmacist", "lab", "manager"])
def test_roles_without_clinical_records_never_get_visit_text(engine, clinic, login_as, username):
    _visit(clinic, "Ho khan kéo dài SECRET-TEXT", "Viêm phế quản")
    browser = login_as(username)
    for typed in ("ho khan", "nguyen van an", "viem phe quan"):
        response = box(browser, typed)
        assert response.status_code == 200
        assert "SECRET-TEXT" not in response.get_data(as_text=True)
        assert "visits" not in {g["kind"] for g in response.get_json()["groups"]}
    assert "SECRET-TEXT" not in browser.get("/search/", query_string={"q": "ho khan"}).get_data(as_text=True)


def test_each_role_searches_the_kinds_it_reads(engine, clinic, login_as):
    from app.models import Medicine

    clinic.save(Medicine(code="NGU1", name="Nguyen Pharma", unit="viên"))
    assert clinic.appointment and clinic.invoice
    kinds = {name: {g["kind"] for g in box(login_as(name), "nguyen").get_json()["groups"]}
             for name in ("receptionist", "pharmacist", "cashier", "lab")}
    assert kinds["receptionist"] == {"patients", "appointments", "invoices", "medicines"}
    assert kinds["pharmacist"] == {"patients", "medicines"}  # no appointments, invoices or visits
    assert kinds["cashier"] == {"patients", "appointments", "invoices", "medicines"}
    assert kinds["lab"] == {"patients"}


def test_patients_are_refused_the_back_office_search(engine, people, login_as, client):
    assert box(login_as("patient"), "nguyen").status_code == 403
    assert client.get("/search/json", query_string={"q": "nguyen"}).status_code == 401
    assert client.get("/search/?q=nguyen").status_code in (302, 303)


def test_a_patient_searches_only_their_own_records(app, db, engine, clinic, login_as):
    from app.extensions import db
    from app.models import Appointment, Encounter, Invoice, Patient
    from app.models.types import utcnow
    from tests.test_access import ensure_user

    with app.app_context():
        owner_login = ensure_user(app, "search_patient", "Patient")
    db.session.get(Patient, clinic.patient).user_id = owner_login
    db.session.commit()
    other = clinic.save(Patient(full_name="Nguyễn Văn Khác", phone="0911 222 333"))
    assert clinic.appointment and clinic.invoice
    signed = clinic.save(Encounter(patient_id=clinic.patient, doctor_id=clinic.doctor, chief_complaint="Sốt cao",
                                   signed_at=utcnow()))
    clinic.save(Encounter(patient_id=clinic.patient, doctor_id=clinic.doctor, chief_complaint="Sốt nháp DRAFT"))
    clinic.save(Encounter(patient_id=other, doctor_id=clinic.doctor, chief_complaint="Sốt người khác OTHER",
                          signed_at=utcnow()))
    clinic.save(Appointment(patient_id=other, doctor_id=clinic.doctor, service_id=clinic.service,
                            start_at=db.session.get(Appointment, clinic.appointment).start_at.replace(hour=3),
                            end_at=db.session.get(Appointment, clinic.appointment).end_at.replace(hour=3)))
    browser = login_as("search_patient")
    data = browser.get("/clinic/me/search.json", query_string={"q": "sot"}).get_json()
    body = json.dumps(data, ensure_ascii=False)
    assert data["state"] == "ok" and "DRAFT" not in body and "OTHER" not in body
    assert [r["url"] for g in data["groups"] if g["kind"] == "visits" for r in g["results"]] == \
        [f"/clinic/me/visits/{signed}"]
    everything = browser.get("/clinic/me/search.json", query_string={"q": "nguyen"}).get_json()
    kinds = {g["kind"]: g["results"] for g in everything["groups"]}
    assert len(kinds.get("appointments", [])) == 1  # theirs, not the other Nguyễn's
    number = db.session.get(Invoice, clinic.invoice).number
    assert [r["title"] for r in kinds.get("invoices", [])] == [number]
    assert "Khác" not in json.dumps(everything, ensure_ascii=False)
    page = browser.get("/clinic/me/search", query_string={"q": "sot"})
    assert page.status_code == 200 and "Sốt cao" in page.get_data(as_text=True)
    assert "OTHER" not in page.get_data(as_text=True)
    assert login_as("receptionist").get("/clinic/me/search.json?q=sot").status_code == 403


def test_the_rest_api_answers_as_the_box_for_staff_and_the_portal_for_a_patient(app, db, engine, people, clinic):
    from app.models import Encounter, Patient
    from app.models.types import utcnow
    from tests.factories import token_headers
    from tests.test_access import ensure_user

    client = app.test_client()

    def ask(username, **query):
        return client.get("/api/v1/search/", query_string=query, headers=token_headers(app, username))

    staff = ask("receptionist", q="nguyen van anh")
    assert staff.status_code == 200 and staff.headers["Cache-Control"] == "private, no-store"
    assert [r["title"].split(" (")[0] for g in staff.get_json()["groups"] if g["kind"] == "patients"
            for r in g["results"]] == ["Nguyễn Văn Anh"]
    assert staff.get_json()["more_url"] == "/search/?q=nguyen+van+anh"
    assert ask("pharmacist", q="nguyen", kind="appointments").get_json()["groups"] == []  # not a kind it searches

    with app.app_context():
        owner_login = ensure_user(app, "search_api_patient", "Patient")
    db.session.get(Patient, clinic.patient).user_id = owner_login
    db.session.commit()
    clinic.save(Encounter(patient_id=clinic.patient, doctor_id=clinic.doctor, chief_complaint="Đau đầu",
                          signed_at=utcnow()))
    own = ask("search_api_patient", q="dau dau").get_json()
    assert [g["kind"] for g in own["groups"]] == ["visits"]
    other = ask("search_api_patient", q="nguyen van anh").get_json()  # other patients: never
    assert "Nguyễn Văn Anh" not in json.dumps(other, ensure_ascii=False)
    assert all(r["url"].startswith("/clinic/me/") for g in other["groups"] for r in g["results"])

    broken = ask("receptionist", q="x" * 201, limit=0, kind="secrets", extra="1")
    assert broken.status_code == 422
    assert all(f'"{name}"' in json.dumps(broken.get_json()) for name in ("q", "limit", "kind", "extra"))
    assert ask("receptionist").status_code == 422  # q is required
    assert client.get("/api/v1/search/", query_string={"q": "nguyen"}).status_code == 401


def test_the_index_follows_writes(engine, api, login_as):
    browser = login_as("receptionist")
    assert found(box(browser, "phạm quỳnh hoa"), "patients") == []
    patient = api.create("patient", {"full_name": "Phạm Quỳnh Hoa", "phone": "0933 444 555"})
    assert [t.split(" (")[0] for t in found(box(browser, "pham quynh hoa"), "patients")] == ["Phạm Quỳnh Hoa"]
    api.put("patient", patient, {"full_name": "Phạm Quỳnh Mai"})
    assert found(box(browser, "quynh hoa"), "patients") == []
    assert found(box(browser, "quynh mai"), "patients")
    api.delete("patient", patient)
    assert found(box(browser, "quynh mai"), "patients") == []


def test_a_renamed_patient_is_found_by_the_new_name_in_their_appointments(engine, api, clinic, login_as):
    assert clinic.appointment
    api.put("patient", clinic.patient, {"full_name": "Nguyễn Văn Đổi"})
    assert found(box(login_as("receptionist"), "van doi"), "appointments")


def test_reindex_command(app, engine, people, login_as):
    engine.clear()
    browser = login_as("receptionist")
    assert found(box(browser, "nguyen"), "patients") == []
    runner = app.test_cli_runner()
    result = runner.invoke(args=["search", "reindex", "--kind", "patients"])
    assert result.exit_code == 0, result.output
    assert "patients: 3" in result.output
    assert len(found(box(browser, "nguyen"), "patients")) == 2
    result = runner.invoke(args=["search", "reindex"])
    assert result.exit_code == 0 and "patients: 3" in result.output and "appointments: 0" in result.output
    status = runner.invoke(args=["search", "status"])
    assert status.exit_code == 0 and f"{engine.name}: ok" in status.output and "patients: 3" in status.output
    assert runner.invoke(args=["search", "reindex", "--kind", "nope"]).exit_code != 0


def _break_whoosh(engine, how: str) -> None:
    import shutil

    directory = Path(engine.directory)
    engine._forget()
    if how == "missing":
        shutil.rmtree(directory)
    else:
        for path in directory.iterdir():
            if path.name.endswith((".toc", ".seg")) or path.suffix in (".trm", ".pst", ".seg"):
                path.write_bytes(b"\x00garbage" * 10)


@pytest.mark.parametrize("how", ["missing", "corrupt"])
def test_a_missing_or_corrupt_whoosh_index_says_so_and_pages_still_work(app, people, login_as, how):
    from app.extensions import db
    from app.services import search

    app.config["SEARCH_ENGINE"] = "whoosh"
    try:
        with app.app_context():
            engine = search.make_engine(app.config, db.engine)
        _break_whoosh(engine, how)
        admin, receptionist = login_as("admin"), login_as("receptionist")
        data = box(admin, "nguyen").get_json()
        assert data["state"] == "unavailable" and "flask search reindex" in data["message"]
        other = box(receptionist, "nguyen").get_json()
        assert other["state"] == "unavailable" and "flask search reindex" not in other["message"]
        page = admin.get("/search/?q=nguyen")
        assert page.status_code == 200 and "flask search reindex" in page.get_data(as_text=True)
        assert admin.get("/patientview/list/").status_code == 200
        runner = app.test_cli_runner()
        assert runner.invoke(args=["search", "status"]).exit_code == 1
        result = runner.invoke(args=["search", "reindex"])
        assert result.exit_code == 0, result.output
        assert len(found(box(admin, "nguyen"), "patients")) == 2
    finally:
        app.config["SEARCH_ENGINE"] = ""


@pytest.mark.needs_postgres
def test_a_missing_postgres_table_says_so(app, people, login_as):
    from sqlalchemy import text

    from app.extensions import db

    app.config["SEARCH_ENGINE"] = "postgres"
    try:
        with app.app_context():
            db.session.execute(text("ALTER TABLE search_document RENAME TO search_document_away"))
            db.session.commit()
        try:
            data = box(login_as("admin"), "nguyen").get_json()
            assert data["state"] == "unavailable" and "flask search reindex" in data["message"]
        finally:
            with app.app_context():
                db.session.execute(text("ALTER TABLE search_document_away RENAME TO search_document"))
                db.session.commit()
    finally:
        app.config["SEARCH_ENGINE"] = ""


def test_whoosh_queries_are_built_from_terms_never_parsed():
    from app.services.search.base import Query
    from app.services.search.query import query_keys, terms
    from app.services.search.whoosh_engine import build_query

    typed = 'name:x OR (y AND "z") NOT w* ~2 ^3'
    assert terms(typed) == ("name", "x", "or", "y", "and", "z", "not", "w")
    built = build_query(Query(terms=terms(typed), keys=query_keys(typed), kinds=("patients",)))
    assert built is not None and "name:x" not in repr(built)
    assert terms("\x00" * 10 + "🙂") == () and len(terms("a" * 5000)[0]) <= 40


def test_postgres_tsquery_is_quoted_words_only():
    from app.services.search.postgres_engine import tsquery
    from app.services.search.query import terms

    assert tsquery(terms("Nguyễn 'x' & | ! :* (")) == "'nguyen' & 'x':*"  # the last word typed: a prefix
    assert tsquery(("le", "anhh"), {"anhh": ["anh", "a'b"]}) == "'le' & ('anhh':* | 'anh')"


def test_the_search_box_is_on_staff_pages_only(login_as):
    page = login_as("receptionist").get("/patientview/list/").get_data(as_text=True)
    assert 'data-search-box' in page and 'js/search.js' in page
    assert "<script>" not in page.split("data-search-box")[1].split("</form>")[0]
    portal = login_as("patient").get("/clinic/me/appointments")
    assert "/clinic/me/search" in portal.get_data(as_text=True) or portal.status_code == 403


def test_typos_are_a_second_round_for_kinds_the_words_found_nothing_in(engine, api, login_as):
    """An exact name lists no one-letter neighbours (they come only when nothing matched as typed),
    and only the last word is taken as the start of a word (search as you type)."""
    for name in ("Lê Văn Anh", "Lê Văn Ánh", "Lê Văn An", "Lê Văn Anhtuan"):
        api.create("patient", {"full_name": name})
    browser = login_as("receptionist")

    def names(typed: str) -> list[str]:
        return sorted(title.split(" (")[0] for title in found(box(browser, typed), "patients"))

    assert names("le van an") == ["Lê Văn An", "Lê Văn Anh", "Lê Văn Anhtuan", "Lê Văn Ánh"]  # "an" still typed
    assert names("le van anh") == ["Lê Văn Anh", "Lê Văn Anhtuan", "Lê Văn Ánh"]  # no "An": an exact match exists
    assert names("le van anhh") == ["Lê Văn Anh", "Lê Văn Ánh"]  # nothing as typed: one typo
    # Nothing as typed again; in that round every word of 3 letters or more may be one letter off.
    assert names("le vam anh") == ["Lê Văn An", "Lê Văn Anh", "Lê Văn Anhtuan", "Lê Văn Ánh"]
    assert names("le va anh") == []  # a word before the last is a whole word (or one typo, from 3 letters)


def test_an_index_from_an_older_version_asks_for_a_reindex(app, tmp_path):
    from whoosh import index as whoosh_index
    from whoosh.fields import ID, STORED, TEXT, Schema

    from app.services.search.base import Query, SearchUnavailable
    from app.services.search.whoosh_engine import WhooshEngine

    whoosh_index.create_in(str(tmp_path), Schema(key=ID(unique=True), kind=ID(stored=True), ref_id=STORED(),
                                                 names=TEXT()))
    engine = WhooshEngine(tmp_path)
    assert engine.health().state == "corrupt"
    with pytest.raises(SearchUnavailable):
        engine.search(Query(terms=("nguyen",), kinds=("patients",)))
    engine.clear()
    assert engine.health().state == "ok"


def test_whoosh_searches_see_every_write_on_one_searcher(tmp_path):
    """The process keeps one searcher and opens a new one when a writer committed: replaced and
    deleted documents are gone from the next search."""
    from app.services.search.base import Document, Query
    from app.services.search.whoosh_engine import WhooshEngine

    engine = WhooshEngine(tmp_path)
    engine.clear()

    def ids(text: str) -> list[int]:
        return [hit.ref_id for hit in engine.search(Query(terms=tuple(text.split()), kinds=("patients",)))["patients"]]

    assert ids("pham") == []
    engine.index([Document("patients", 1, names="pham quynh hoa")])
    assert ids("quynh hoa") == [1]
    engine.index([Document("patients", 1, names="pham quynh mai"), Document("patients", 2, names="pham thi hoa")])
    assert ids("quynh hoa") == [] and ids("quynh mai") == [1]
    engine.delete("patients", [1])
    assert ids("pham") == [2]


def test_the_box_reads_the_same_few_statements_however_many_hits(app, engine, clinic, api, login_as):
    """One statement per kind shown (a hit's patient, doctor and service joined into it), not one
    per hit nor one per relation: more hits, the same statements."""
    from sqlalchemy import event

    from app.extensions import db

    browser = login_as("receptionist")

    def statements(typed: str) -> tuple[int, int]:
        seen: list[str] = []

        def listener(*args):
            seen.append(args[2])

        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", listener)
        try:
            data = box(browser, typed).get_json()
        finally:
            with app.app_context():
                event.remove(db.engine, "before_cursor_execute", listener)
        hits = sum(len(group["results"]) for group in data["groups"])
        return len([s for s in seen if s.lstrip().upper().startswith("SELECT")]), hits

    api.create("patient", {"full_name": "Nguyễn Văn Lâm 0"})
    few, first_hits = statements("nguyen van lam")
    for n in range(1, 6):
        api.create("patient", {"full_name": f"Nguyễn Văn Lâm {n}"})
    many, more_hits = statements("nguyen van lam")
    assert first_hits == 1 and more_hits == 5 and many == few, (few, many, first_hits, more_hits)


def test_every_kind_of_the_registry_has_its_own_postgres_index():
    """A kind without its partial index would be read whole on every search (app/models/search.py)."""
    from app.models.search import SEARCH_KINDS, SearchDocument
    from app.services.search import KINDS

    assert set(KINDS) == set(SEARCH_KINDS)
    names = {index.name for index in SearchDocument.__table__.indexes}
    assert {f"ix_search_document_tsv_{kind}" for kind in SEARCH_KINDS} <= names


@pytest.mark.needs_postgres  # the cap is the PostgreSQL engine's (whoosh has none); run where PostgreSQL is
def test_a_kind_with_more_matches_than_postgres_reads_still_answers_a_full_page(app, monkeypatch):
    """More matches than ``CAP`` (the matches of a kind read and ranked): a full page of them, and
    a further word narrows it to the documents that have it."""
    from app.extensions import db
    from app.services import search
    from app.services.search import Document, Query, postgres_engine

    monkeypatch.setitem(app.config, "SEARCH_ENGINE", "postgres")
    monkeypatch.setattr(postgres_engine, "CAP", 20)
    postgres_engine._search_statement.cache_clear()  # statements made with the real CAP
    with app.app_context():
        engine = search.make_engine(app.config, db.engine)
    engine.clear()
    try:
        engine.index([Document("patients", n, names=f"nguyen van {'an' if n % 2 else 'binh'}") for n in range(1, 201)])
        hits = engine.search(Query(terms=("nguyen", "van"), kinds=("patients",), limit=15))["patients"]
        assert len(hits) == 15
        exact = engine.search(Query(terms=("nguyen", "van", "binh"), kinds=("patients",), limit=15))["patients"]
        assert len(exact) == 15 and all(hit.ref_id % 2 == 0 for hit in exact)
    finally:
        engine.clear()
        postgres_engine._search_statement.cache_clear()
