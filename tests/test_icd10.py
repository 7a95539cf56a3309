"""The ICD-10 code table (issue 9, item 3): the shipped sample, the search (accents and case
ignored, by code and by English or Vietnamese words, best first), ``flask icd10 load`` (a broken
file loads nothing and names its lines) and the search endpoint."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import delete, func, inspect, select


@pytest.fixture
def restore_sample(app):
    """For a test that changes the code table (kept between tests, tests/conftest.py): the sample
    again afterwards, exactly."""
    yield
    from app.extensions import db
    from app.models import Icd10Code
    from app.services import icd10

    with app.app_context():
        db.session.rollback()
        db.session.execute(delete(Icd10Code))
        icd10.load_sample(db.session)
        db.session.commit()


def _codes(found) -> list[str]:
    return [entry.code for entry in found]


def test_the_sample_has_a_few_hundred_real_codes_with_both_titles_and_every_demo_code(db):
    from app.models import Icd10Code
    from app.services.demo_data.diagnoses import DIAGNOSES
    from app.services.icd10 import SAMPLE_CSV, LoadReport, read_rows

    report = LoadReport()
    rows = read_rows(SAMPLE_CSV.read_bytes(), report)
    assert report.ok, report.errors
    assert 250 <= len(rows) <= 400
    codes = {row.code for row in rows}
    assert set(DIAGNOSES) <= codes
    assert all(re.fullmatch(r"[A-Z][0-9]{2}(\.[0-9])?", code) for code in codes)
    # Vietnamese titles are Vietnamese (diacritics), and not copies of the English ones.
    assert sum(1 for row in rows if re.search(r"[àáảãạăâđèéêìíòóôơùúưỳý]", row.title_vi.lower())) > 0.9 * len(rows)
    assert all(row.title_vi != row.title_en for row in rows if row.code not in {"G43.9"})  # "Migraine"
    # The test database holds it (loaded once per session, like the seed does).
    assert db.session.execute(select(func.count()).select_from(Icd10Code)).scalar() == len(rows)


def test_search_ignores_accents_and_case(db):
    from app.services import icd10

    plain = _codes(icd10.search(db.session, "viem hong", 20))
    accented = _codes(icd10.search(db.session, "Viêm Họng", 20))
    assert plain == accented
    assert "J02.9" in plain[:5] and "J31.2" in plain and "J02.0" in plain
    for entry in icd10.search(db.session, "viem hong", 20):  # "hong" is not found inside every "không"
        assert " viem" in entry.search_text and " hong" in entry.search_text, entry.code
    assert "A09" not in plain
    assert _codes(icd10.search(db.session, "PHARYNGITIS", 5)) == _codes(icd10.search(db.session, "pharyngitis", 5))


def test_search_by_code_exact_first_then_prefix(db):
    from app.services import icd10

    j06 = _codes(icd10.search(db.session, "J06", 20))
    assert j06 and all(code.startswith("J06") for code in j06[:3])
    assert {"J06.0", "J06.9"} <= set(j06)
    assert _codes(icd10.search(db.session, "j06.9", 5))[0] == "J06.9"
    assert _codes(icd10.search(db.session, "J069", 5))[0] == "J06.9"  # typed without the dot
    assert _codes(icd10.search(db.session, "i10", 5))[0] == "I10"


def test_search_by_english_and_vietnamese_words_ranks_word_starts_first(db):
    from app.services import icd10

    pharyngitis = _codes(icd10.search(db.session, "pharyngitis", 20))
    assert "J02.9" in pharyngitis
    # "Acute pharyngitis" (a word starting with it) before "nasopharyngitis" (inside a word).
    assert pharyngitis.index("J02.9") < pharyngitis.index("J00")
    assert _codes(icd10.search(db.session, "upper respiratory", 5))[0] == "J06.9"
    assert _codes(icd10.search(db.session, "tang huyet ap", 5))[0] == "I10"
    assert "E11.9" in _codes(icd10.search(db.session, "đái tháo đường không biến chứng", 10))
    assert icd10.search(db.session, "   ", 10) == [] and icd10.search(db.session, "%_", 10) == []
    assert icd10.search(db.session, "zzzz qqqq", 10) == []
    assert len(icd10.search(db.session, "khong dac hieu", 500)) == icd10.LIMIT_MAX
    assert {entry.code[0] for entry in icd10.search(db.session, "k", 50)} == {"K"}  # one letter: a chapter


def test_get_reads_one_code(db):
    from app.services import icd10

    assert icd10.get(db.session, " j02.9 ").title_vi == "Viêm họng cấp, không đặc hiệu"
    assert icd10.get(db.session, "X99.9") is None and icd10.get(db.session, "") is None


def test_the_search_has_indexes(db):
    indexes = {index["name"] for index in inspect(db.engine).get_indexes("icd10_code")}
    assert {"ix_icd10_code_prefix", "ix_icd10_code_search"} <= indexes
    uniques = {tuple(u["column_names"]) for u in inspect(db.engine).get_unique_constraints("icd10_code")}
    assert ("code",) in uniques


# --- flask icd10 load --------------------------------------------------------------------------


def _load(app, path):
    """``flask icd10 load PATH``; the result's ``output`` holds what it printed (stdout and stderr)."""
    return app.test_cli_runner().invoke(args=["icd10", "load", str(path)])


def test_cli_loads_a_good_file_with_a_bom_adding_and_updating(app, db, tmp_path, restore_sample):
    from app.models import Icd10Code

    before = db.session.execute(select(func.count()).select_from(Icd10Code)).scalar()
    csv_file = tmp_path / "codes.csv"
    csv_file.write_bytes("\ufeffcode,title_en,title_vi\n"
                         'J02.9,"Acute pharyngitis, unspecified","Viêm họng cấp, không đặc hiệu"\n'
                         'K35.2,"Acute appendicitis with generalized peritonitis",'
                         '"Viêm ruột thừa cấp có viêm phúc mạc toàn thể"\n'
                         'j06.9,"Acute upper respiratory infection, unspecified","Nhiễm trùng hô hấp trên cấp"\n'
                         "\n".encode("utf-8"))
    result = _load(app, csv_file)
    assert result.exit_code == 0, result.output
    assert "1 added, 1 updated, 1 unchanged" in result.output
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(Icd10Code)).scalar() == before + 1
    from app.services import icd10

    assert icd10.get(db.session, "J06.9").title_vi == "Nhiễm trùng hô hấp trên cấp"
    assert "K35.2" in _codes(icd10.search(db.session, "viem phuc mac", 5))  # searchable at once


def test_cli_loads_nothing_from_a_file_with_broken_rows_and_names_their_lines(app, db, tmp_path, restore_sample):
    from app.models import Icd10Code

    snapshot = db.session.execute(select(Icd10Code.code, Icd10Code.title_vi).order_by(Icd10Code.code)).all()
    csv_file = tmp_path / "broken.csv"
    csv_file.write_text("code,title_en,title_vi\n"
                        "K35.2,Acute appendicitis with generalized peritonitis,Viêm ruột thừa cấp\n"  # line 2: good
                        "J06.9,Acute upper respiratory infection,Đổi tên\n"  # line 3: good
                        "XYZ,Not a code,Không phải mã\n"  # line 4
                        "K59.0,,Táo bón\n"  # line 5: no English title
                        "K35.2,Again,Lặp lại\n"  # line 6: twice in the file
                        "R05,Cough\n",  # line 7: a column missing
                        encoding="utf-8")
    result = _load(app, csv_file)
    assert result.exit_code == 1
    output = result.output
    for line in (4, 5, 6, 7):
        assert f"broken.csv:{line}:" in output
    assert "broken.csv:2:" not in output and "broken.csv:3:" not in output
    assert "Nothing loaded" in output
    db.session.rollback()
    assert db.session.execute(select(Icd10Code.code, Icd10Code.title_vi).order_by(Icd10Code.code)).all() == snapshot


def test_cli_refuses_a_file_without_the_header_or_not_utf8(app, tmp_path, restore_sample):
    no_header = tmp_path / "no_header.csv"
    no_header.write_text("J02.9,Acute pharyngitis,Viêm họng cấp\n", encoding="utf-8")
    result = _load(app, no_header)
    assert result.exit_code == 1 and "no_header.csv:1:" in result.output
    latin = tmp_path / "latin.csv"
    latin.write_bytes("code,title_en,title_vi\nJ02.9,Pharyngitis,Viêm họng\n".encode("cp1258", errors="replace")
                      .replace(b"Vi", b"Vi\xe9\xff"))
    result = _load(app, latin)
    assert result.exit_code == 1 and "latin.csv:2:" in result.output


# --- GET /api/v1/icd10/ ------------------------------------------------------------------------


def test_the_search_endpoint_answers_in_the_users_language(app, login_as, api_token):
    doctor = login_as("doctor")
    english = doctor.get("/api/v1/icd10/?q=viem%20hong&limit=5")
    assert english.status_code == 200
    first = english.get_json()["result"][0]
    assert set(first) == {"code", "title", "title_en", "title_vi"}
    codes = [entry["code"] for entry in english.get_json()["result"]]
    assert "J02.9" in codes
    j029 = next(entry for entry in english.get_json()["result"] if entry["code"] == "J02.9")
    assert j029["title"] == "Acute pharyngitis, unspecified"
    vietnamese = doctor.get("/api/v1/icd10/?q=pharyngitis&_l_=vi")
    j029 = next(entry for entry in vietnamese.get_json()["result"] if entry["code"] == "J02.9")
    assert j029["title"] == "Viêm họng cấp, không đặc hiệu"
    # JWT too.
    assert app.test_client().get("/api/v1/icd10/?q=J06", headers=api_token("doctor")).status_code == 200


def test_the_search_endpoint_is_for_those_who_read_encounters(app, login_as):
    assert login_as("receptionist").get("/api/v1/icd10/?q=J06").status_code == 403
    assert app.test_client().get("/api/v1/icd10/?q=J06").status_code == 401
    doctor = login_as("doctor")
    missing = doctor.get("/api/v1/icd10/")
    assert missing.status_code == 422 and "q" in missing.get_json()["message"]
    assert doctor.get("/api/v1/icd10/?q=J06&limit=0").status_code == 422
    assert doctor.get("/api/v1/icd10/?q=" + "x" * 101).status_code == 422
