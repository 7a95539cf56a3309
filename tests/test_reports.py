"""The printed reports (issue 14, item 2): the PDFs' text, the CLI, the monthly send's exactly-once."""
from __future__ import annotations

import io
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from app.services import reports
from app.services.errors import FieldErrors
from tests.dashboard_data import build
from tests.outbox import empty_outbox, mails_to, outbox  # noqa: F401  (empty_outbox: autouse fixture)

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
NOV = date(2026, 11, 1)


@pytest.fixture
def ids(db):
    return build(db.session)


def text_of(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_monthly_report_in_english_has_the_figures_and_the_previous_month(app, db, ids):
    with app.app_context():
        report = reports.build(db.session, "monthly", NOV, date(2026, 11, 30), ZONE, "en")
        text = text_of(reports.monthly_report(db.session, NOV, ZONE, "en", clinic_name="Phòng khám An Bình"))
    summary = {row[0]: row[1:] for row in report.tables[0].rows}
    assert summary["Visits"] == ("3", "1", "+200.0%")  # three in November, one in October
    assert "Phòng khám An Bình" in text and "Monthly report" in text and "2026-11" in text
    assert "Revenue by doctor" in text and "Ratings per doctor and criterion" in text


def test_monthly_report_in_vietnamese_writes_numbers_and_dates_the_vietnamese_way(app, db, ids):
    with app.app_context():
        text = text_of(reports.monthly_report(db.session, NOV, ZONE, "vi", clinic_name="Phòng khám"))
        takings = text_of(reports.takings_report(db.session, date(2026, 11, 1), date(2026, 11, 30), ZONE, "vi",
                                                 clinic_name="Phòng khám"))
    assert "Báo cáo tháng" in text and "11/2026" in text
    assert "₫" in text and "Lượt khám 3 1 +200,0%" in text and "So với kỳ trước" in text
    assert "330.000 ₫" in text  # revenue billed in November, Vietnamese thousands
    assert "01/11/2026 – 30/11/2026" in takings


def test_periods_are_parsed_and_checked():
    assert reports.parse_month("2026-11") == NOV
    assert reports.parse_quarter("2026-q4") == date(2026, 10, 1)
    for bad in ("2026-13", "nov", ""):
        with pytest.raises(FieldErrors):
            reports.parse_month(bad)
    with pytest.raises(FieldErrors):
        reports.parse_quarter("2026-Q5")
    with pytest.raises(FieldErrors) as future:
        reports.check_range(date(2027, 1, 1), date(2027, 1, 31), today=date(2026, 12, 2))
    assert "start" in future.value.errors
    with pytest.raises(FieldErrors) as reversed_range:
        reports.check_range(date(2026, 11, 5), date(2026, 11, 1), today=date(2026, 12, 2))
    assert "end" in reversed_range.value.errors


def test_medicine_usage_report_lists_each_medicine_with_quantity_and_value(app, db, ids):
    with app.app_context():
        report = reports.build(db.session, "medicines", date(2026, 10, 1), date(2026, 12, 31), ZONE, "en")
        text = text_of(reports.medicine_usage_report(db.session, date(2026, 10, 1), date(2026, 12, 31), ZONE, "en",
                                                     clinic_name="Clinic"))
    rows = report.tables[0].rows
    assert rows and rows[-1][0] == "Total"
    assert rows[0][0] in text and rows[-1][3] in text


def test_cli_writes_the_monthly_pdf_to_a_file(app, db, ids, tmp_path):
    path = tmp_path / "nov.pdf"
    result = app.test_cli_runner().invoke(args=["report", "monthly", "--month", "2026-11", "--output", str(path),
                                                "--language", "en"])
    assert result.exit_code == 0, result.output
    assert "Monthly report" in text_of(path.read_bytes())


def test_cli_emails_the_quarterly_pdf_as_an_attachment(app, db, ids):
    result = app.test_cli_runner().invoke(args=["report", "quarterly", "--quarter", "2026-Q4",
                                                "--to", "boss@example.com"])
    assert result.exit_code == 0, result.output
    [mail] = mails_to(app, "boss@example.com")
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "report-2026-Q4.pdf"
    assert "Báo cáo quý" in text_of(attachment.get_content())


def test_cli_refuses_a_bad_or_future_month(app, db):
    bad = app.test_cli_runner().invoke(args=["report", "monthly", "--month", "2026-13"])
    assert bad.exit_code != 0 and "11/2026" in bad.output
    future = app.test_cli_runner().invoke(args=["report", "monthly", "--month", "2999-01"])
    assert future.exit_code != 0 and "not begun" in future.output


def test_monthly_send_goes_once_per_address_on_the_first(app, db, ids, monkeypatch):
    monkeypatch.setitem(app.config, "REPORT_RECIPIENTS", "a@example.com, b@example.com")
    first = datetime(2026, 11, 30, 18, 0, tzinfo=timezone.utc)  # 1 Dec 01:00 in the clinic
    with app.app_context():
        sent = reports.send_monthly_if_due(db.session, config=app.config, mail=None, now=first)
        again = reports.send_monthly_if_due(db.session, config=app.config, mail=None, now=first)
    assert sent == ["a@example.com", "b@example.com"] and again == []
    [mail] = mails_to(app, "a@example.com")
    assert "11/2026" in mail["Subject"]
    assert len(outbox(app)) == 2


def test_monthly_send_waits_for_the_first_and_for_recipients(app, db, ids, monkeypatch):
    second = datetime(2026, 12, 1, 18, 0, tzinfo=timezone.utc)  # 2 Dec in the clinic
    first = datetime(2026, 11, 30, 18, 0, tzinfo=timezone.utc)
    with app.app_context():
        monkeypatch.setitem(app.config, "REPORT_RECIPIENTS", "")
        assert reports.send_monthly_if_due(db.session, config=app.config, mail=None, now=first) == []
        monkeypatch.setitem(app.config, "REPORT_RECIPIENTS", "a@example.com")
        assert reports.send_monthly_if_due(db.session, config=app.config, mail=None, now=second) == []
    assert outbox(app) == []


def test_two_schedulers_at_once_send_the_monthly_report_once(app, db, ids, monkeypatch):
    import threading

    from app.extensions import db as database

    monkeypatch.setitem(app.config, "REPORT_RECIPIENTS", "a@example.com")
    first = datetime(2026, 11, 30, 18, 0, tzinfo=timezone.utc)
    db.session.commit()
    results: list[list[str]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run() -> None:
        with app.app_context():
            session = database.session.session_factory()
            try:
                start.wait()
                results.append(reports.send_monthly_if_due(session, config=app.config, mail=None, now=first))
            except BaseException as error:  # noqa: BLE001  (reported below)
                errors.append(error)
            finally:
                session.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert sorted(len(sent) for sent in results) == [0, 1]
    assert len(mails_to(app, "a@example.com")) == 1


def test_a_table_title_never_ends_a_page_without_its_rows(app):
    """The walk of issue 14 saw a section title alone at the foot of page 1, its table on page 2:
    with the filler table one row longer each time, the title lands at every height of page 1's foot."""
    late = reports.Table("Late section", ("Method", "Amount"), [("Cash", "1"), ("Card", "2"), ("Total", "3")])
    for n in range(36, 52):
        filler = reports.Table("Filler", ("A", "B"), [(str(i), str(i)) for i in range(n)])
        with app.app_context():
            pdf = reports.render(reports.Report("Monthly report", "11/2026", [filler, late]), "Clinic", "en")
        pages = [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]
        on = [i for i, text in enumerate(pages) if "Late section" in text]
        assert on and "Cash" in pages[on[0]], (n, pages)
