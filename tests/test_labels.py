"""The generated back-office screens name their columns and show stored codes (choice values) in the
reader's language: labels from app/views/labels.py, codes through app.i18n.choice_label."""
from __future__ import annotations

import json
import re
from html import unescape

import pytest
import sqlalchemy as sa
from babel.messages.pofile import read_po
from flask_babel import LazyString

from app.views.base import ClinicModelView
from tests.test_i18n import CATALOGUES, VI


def registered_model_views(app) -> list[ClinicModelView]:
    views = [view for view in app.appbuilder.baseviews if isinstance(view, ClinicModelView)]
    assert len(views) >= 28
    return views


def shown_columns(view: ClinicModelView) -> set[str]:
    names = set()
    for columns in (view.list_columns, view.show_columns, view.add_columns, view.edit_columns, view.search_columns):
        names.update(columns or ())
    for fieldsets in (view.show_fieldsets, view.add_fieldsets, view.edit_fieldsets):
        for _title, fieldset in fieldsets or ():
            names.update(fieldset["fields"])
    return names


def choice_columns(view: ClinicModelView) -> list[sa.Column]:
    return [column for column in view.datamodel.obj.__table__.columns if isinstance(column.type, sa.Enum)]


def cells(html: str) -> list[str]:
    cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", html, re.S)
    return [unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells]


def test_every_column_of_every_screen_has_an_explicit_label(app):
    """FAB makes a label from the code name ("Date Of Birth", never translated) for a column without
    one: give every column shown on a screen a label in app/views/labels.py (or the view's own)."""
    missing = sorted(
        f"{type(view).__name__}.{column}"
        for view in registered_model_views(app)
        for column in shown_columns(view)
        if not isinstance(view.label_columns.get(column), LazyString)
    )
    assert not missing, f"Columns without a label (add them to app/views/labels.py): {missing}"


def test_every_choice_value_has_a_vietnamese_translation(app):
    """The codes of every choice column are msgids (marked N_() in app/models) with a translation."""
    with CATALOGUES["clinic"][1].open("rb") as handle:
        translated = {message.id for message in read_po(handle) if message.id and message.string}
    codes = {value for view in registered_model_views(app) for column in choice_columns(view)
             for value in column.type.enums}
    assert {"male", "checked_in", "walk_in", "draft", "leave"} <= codes
    assert not sorted(codes - translated), "Mark the values with N_() in the model and translate them"


def test_patient_screens_in_vietnamese(login_as, clinic):
    browser = login_as("receptionist")
    clinic.patient  # noqa: B018 - one patient, so the list has a row
    listing = browser.get("/patientview/list/", headers=VI).get_data(as_text=True)
    assert "Ngày sinh" in listing and "Giới tính" in listing and "Số điện thoại" in listing
    assert "Date Of Birth" not in listing and "Date of birth" not in listing
    form = browser.get("/patientview/add", headers=VI).get_data(as_text=True)
    for label in ("Ngày sinh", "Giới tính", "Địa chỉ", "Số CCCD", "Nhóm máu", "Người liên hệ khẩn cấp"):
        assert label in form, label
    assert "Date Of Birth" not in form and "National Id" not in form
    # The gender drop-down: translated labels, the stored codes as values.
    assert re.search(r'<option[^>]*value="male"[^>]*>Nam</option>', form)
    assert re.search(r'<option[^>]*value="female"[^>]*>Nữ</option>', form)


def test_patient_screens_in_english_have_readable_labels(login_as, clinic):
    browser = login_as("receptionist")
    patient = clinic.patient
    form = browser.get("/patientview/add").get_data(as_text=True)
    for label in ("Date of birth", "Gender", "National ID", "Blood type", "Emergency contact phone"):
        assert label in form, label
    assert "Date Of Birth" not in form and "Emergency Contact Phone" not in form
    assert re.search(r'<option[^>]*value="male"[^>]*>Male</option>', form)
    response = browser.post(f"/patientview/edit/{patient}", data={
        "full_name": "Nguyễn Văn An", "phone": "0912 345 678", "sex": "female", "blood_type": "O+"})
    assert response.status_code == 302, response.get_data(as_text=True)
    show = browser.get(f"/patientview/show/{patient}").get_data(as_text=True)
    assert "Female" in cells(show)
    assert "Nữ" in cells(browser.get(f"/patientview/show/{patient}", headers=VI).get_data(as_text=True))


def test_appointment_list_shows_translated_status_and_channel(login_as, clinic):
    clinic.appointment  # noqa: B018 - a walk-in appointment, "requested"
    browser = login_as("receptionist")
    vi = cells(browser.get("/appointmentview/list/", headers=VI).get_data(as_text=True))
    assert "Trạng thái" in vi and "Kênh đặt lịch" in vi and "Bắt đầu" in vi and "Bệnh nhân" in vi
    assert "Chờ xác nhận" in vi and "Đến trực tiếp" in vi
    assert "requested" not in vi and "walk_in" not in vi
    en = cells(browser.get("/appointmentview/list/").get_data(as_text=True))
    assert "Status" in en and "Channel" in en and "Start" in en
    assert "Requested" in en and "Walk in" in en and "walk_in" not in en


def test_choice_drop_downs_keep_the_stored_codes(login_as, clinic):
    """Add, edit and search forms offer translated labels; what is posted and stored is the code."""
    browser = login_as("receptionist")
    form = browser.get("/appointmentview/add", headers=VI).get_data(as_text=True)
    assert re.search(r'<option[^>]*value="checked_in"[^>]*>Đã tiếp nhận</option>', form)
    assert re.search(r'<option[^>]*value="walk_in"[^>]*>Đến trực tiếp</option>', form)
    listing = browser.get("/appointmentview/list/", headers=VI).get_data(as_text=True)
    # The search form (in the page as JSON, FAB's search widget adds a field per filter).
    search_option = re.search(r'value=\\"no_show\\"\\u003e(.*?)\\u003c/option', listing)
    assert search_option and json.loads(f'"{search_option.group(1)}"') == "Không đến"
    clinic.appointment  # noqa: B018 - "requested"
    found = browser.get("/appointmentview/list/?_flt_0_status=requested").get_data(as_text=True)
    assert "Requested" in cells(found)
    none = browser.get("/appointmentview/list/?_flt_0_status=no_show").get_data(as_text=True)
    assert "Requested" not in cells(none)


@pytest.mark.parametrize("path", ["/encounterview/add", "/doctorview/add", "/supplierview/add", "/labresultview/add"])
def test_other_forms_have_no_code_derived_labels_in_vietnamese(login_as, path):
    page = login_as("admin").get(path, headers=VI).get_data(as_text=True)
    labels = re.findall(r'<label[^>]*for="(\w+)"[^>]*>\s*([^<]+?)\s*<', page)
    assert labels
    same_in_vietnamese = {"Email"}
    derived = [(name, text) for name, text in labels
               if text == name.replace("_", " ").title() and text not in same_in_vietnamese]
    assert not derived, derived


@pytest.mark.parametrize("language, add, edit, show", [
    ("vi", "Thêm bệnh nhân", "Sửa bệnh nhân", "Chi tiết bệnh nhân"),
    ("en", "Add patient", "Edit patient", "Patient details"),
])
def test_add_edit_and_show_titles_are_in_the_readers_language(login_as, clinic, language, add, edit, show):
    browser = login_as("receptionist")
    headers = {"Accept-Language": language}
    assert add in browser.get("/patientview/add", headers=headers).get_data(as_text=True)
    assert edit in browser.get(f"/patientview/edit/{clinic.patient}", headers=headers).get_data(as_text=True)
    assert show in browser.get(f"/patientview/show/{clinic.patient}", headers=headers).get_data(as_text=True)


def test_every_screen_has_translated_titles():
    from app.permissions import RESOURCES
    from app.views.labels import RECORD_NAMES

    assert {r.name for r in RESOURCES} <= set(RECORD_NAMES)
