"""Each workaround in ``app/fab`` exists because plain Flask-AppBuilder 5.3 (or a library it builds
on) behaves as shown here. Every test shows the behaviour in plain FAB: the day one fails, FAB has
fixed it and the matching workaround can go (its docstring names the same behaviour)."""
from __future__ import annotations

import inspect
from datetime import datetime
from decimal import Decimal

import prison
import pytest
import yaml
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask_appbuilder.api import BaseApi, ModelRestApi, rison, safe
from flask_appbuilder.api.convert import Model2SchemaConverter
from flask_appbuilder.menu import MenuApi
from flask_appbuilder.models.sqla.filters import set_value_to_type
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.schemas import login_post
from flask_appbuilder.urltools import get_page_args, get_page_size_args
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.routing import IntegerConverter

from app.models import Appointment, Department, Invoice
from app.services.errors import Conflict


def _plain_schema(model: type, columns: list[str], nested: bool = True) -> Schema:
    """The schema plain FAB builds (``nested=False``: as for its add and edit schemas)."""
    from app.extensions import db

    return Model2SchemaConverter(SQLAInterface(model, db.session), {}).convert(columns, nested=nested)


def test_plain_interface_add_reraises_the_database_error(db):
    """app.fab.interface.ClinicInterface._write: FAB's ``add`` re-raises the raw error (500)."""
    interface = SQLAInterface(Department, db.session)
    interface.add(Department(code="NOI", name="Khoa Nội"))
    with pytest.raises(SQLAlchemyError):
        interface.add(Department(code="NOI", name="Khoa Nội 2"))
    db.session.rollback()


def test_plain_safe_answers_a_domain_error_with_500(app):
    """app.fab.api.ClinicBaseApi.response_500: ``@safe`` turns every exception into 500."""

    class Plain(BaseApi):
        @safe
        def refuse(self):
            raise Conflict("taken", "start_at")

    with app.test_request_context("/"):
        assert Plain().refuse().status_code == 500


def test_plain_interface_gets_an_id_past_64_bits_from_the_database(db):
    """app.fab.interface.ClinicInterface.get (and IdConverter): FAB passes any id to the database."""
    with pytest.raises((OverflowError, SQLAlchemyError)):
        SQLAInterface(Department, db.session).get(2**70)
    db.session.rollback()


def test_werkzeug_int_converter_takes_any_number_of_digits():
    """app.fab.input.IdConverter: ``<int:pk>`` matches ids no table can hold."""
    assert IntegerConverter(None).max is None  # type: ignore[arg-type]


def test_plain_filters_pass_values_the_column_cannot_hold(app, db):
    """app.fab.interface.ClinicInterface.query: FAB's filter values reach the database as typed by
    ``set_value_to_type``: a naive instant (the aware UTC column refuses it), an unknown choice."""
    interface = SQLAInterface(Appointment, db.session)
    value = set_value_to_type(interface, "start_at", "0001-01-01 00:00:00")
    assert isinstance(value, datetime) and value.tzinfo is None
    assert set_value_to_type(interface, "status", "no-such-status") == "no-such-status"


def test_plain_interface_orders_by_an_unknown_column_as_sql_text(db):
    """app.fab.interface.ClinicInterface._check_order: an unknown order column reaches the SQL."""
    with pytest.raises(SQLAlchemyError):
        SQLAInterface(Department, db.session).query(order_column="no_such_column", order_direction="asc")
    db.session.rollback()


def test_plain_urltools_read_page_arguments_with_a_bare_int(app):
    """app.fab.input.check_list_arguments: ``page_<View>=abc`` is a ValueError (500)."""
    with app.test_request_context("/x?page_PatientView=abc"):
        with pytest.raises(ValueError):
            get_page_args()
    with app.test_request_context("/x?psize_PatientView=abc"):
        with pytest.raises(ValueError):
            get_page_size_args()


def test_plain_rison_decorator_lets_other_parser_errors_escape(app):
    """app.fab.input.check_rison: ``@rison`` catches only prison's ParserException."""
    with pytest.raises(Exception) as raised:
        prison.loads("(" * 2000)
    assert not isinstance(raised.value, prison.decoder.ParserException)

    class Plain(BaseApi):
        @rison()
        def listing(self, **kwargs):
            return self.response(200)

    with app.test_request_context("/x?q=" + "(" * 2000):
        with pytest.raises(type(raised.value)):
            Plain().listing()


def test_plain_login_schema_leaves_the_provider_out(app):
    """app.fab.input.default_login_provider: FAB's login reads ``payload["provider"]``, which its
    own schema does not require (a KeyError, 500)."""
    with app.app_context():
        payload = login_post.load({"username": "admin", "password": "x"})
    assert "provider" not in payload
    assert 'login_payload["provider"]' in inspect.getsource(
        __import__("flask_appbuilder.security.api", fromlist=["SecurityApi"]).SecurityApi.login)


def test_plain_choice_field_calls_len_on_a_boolean(app):
    """app.fab.api._typed_field: a choice column is a Raw field whose Length validator fails with
    TypeError on ``true`` (500), not a ValidationError."""
    with app.app_context():
        schema = _plain_schema(Appointment, ["status"])
        field = schema.fields["status"]
        assert type(field) is fields.Raw
        with pytest.raises(TypeError):
            schema.load({"status": True})


def test_plain_instant_field_accepts_a_naive_time(app):
    """app.fab.api._typed_field: an aware UTC column gets a DateTime field that takes naive times."""
    with app.app_context():
        schema = _plain_schema(Appointment, ["start_at"])
        assert type(schema.fields["start_at"]) is fields.DateTime


def test_plain_money_is_a_number_in_the_schema_and_a_string_in_the_json(app):
    """app.fab.api._typed_field and NumberRange: FAB's Decimal field is documented as a number,
    its JSON writes a string, and a Range on it writes its bounds as strings too."""
    with app.app_context():
        field = _plain_schema(Invoice, ["total"]).fields["total"]
        assert isinstance(field, fields.Decimal) and not field.as_string
        assert app.json.dumps({"total": Decimal("1.50")}) == '{"total": "1.50"}'

    class Money(Schema):
        amount = fields.Decimal(validate=validate.Range(Decimal("-9.99"), Decimal("9.99")))

    spec = APISpec("t", "1", "3.0.2", plugins=[MarshmallowPlugin()])
    spec.components.schema("Money", schema=Money)
    maximum = spec.to_dict()["components"]["schemas"]["Money"]["properties"]["amount"]["maximum"]
    assert app.json.dumps(maximum) == '"9.99"'


def test_plain_related_field_makes_a_new_record_for_an_unknown_id(app, db):
    """app.fab.api.ExistingRelated: marshmallow-sqlalchemy's Related (FAB's choice) turns an
    unknown id into a new, empty related record instead of refusing it."""
    with app.app_context():
        field = _plain_schema(Appointment, ["patient"], nested=False).fields["patient"]
        try:
            made = field.deserialize(424242)
        except ValidationError:  # pragma: no cover - the day it refuses, ExistingRelated can go
            pytest.fail("Related now refuses unknown ids")
        assert made is not None and made.id in (None, 424242)


def _doc(func) -> dict:
    return yaml.safe_load(func.__doc__.split("---", 1)[1])


def test_plain_docs_disagree_with_plain_answers():
    """app.fab.api.correct_fab_documentation and _document_error_messages: FAB documents a new
    record's id as a string, ``_info``'s column lists as objects, menu separators as objects and
    every error ``message`` as a string."""
    created = _doc(ModelRestApi.post)["post"]["responses"][201]["content"]["application/json"]["schema"]
    assert created["properties"]["id"] == {"type": "string"}
    info = _doc(ModelRestApi.info)["get"]["responses"][200]["content"]["application/json"]["schema"]
    assert info["properties"]["add_columns"] == {"type": "object"}
    menu = _doc(MenuApi.get_menu_data)["get"]["responses"][200]["content"]["application/json"]["schema"]
    assert menu["properties"]["result"]["items"]["properties"]["childs"]["items"] == {"type": "object"}
    assert BaseApi.responses["422"]["content"]["application/json"]["schema"]["properties"]["message"] == {
        "type": "string"}
    assert "response_422(message=err.messages)" in inspect.getsource(ModelRestApi.post_headless)


def test_plain_api_replaces_a_negative_page_size(app):
    """ClinicModelApi._handle_page_args: FAB replaces ``page_size: -5`` by its maximum."""

    class Plain(ModelRestApi):
        max_page_size = 100

    with app.app_context():
        assert Plain._sanitize_page_args(Plain, 0, -5) == (0, 100)


def test_plain_add_loses_the_form_when_pre_add_refuses():
    """app.fab.views.FabModelView._add: FAB flashes the error and redirects (the typed form is
    lost)."""
    from flask_appbuilder import ModelView

    source = inspect.getsource(ModelView._add)
    assert "self.pre_add(item)" in source and "flash(str(e)" in source and "return None" in source


def test_plain_schemas_cannot_list_foreign_key_columns(app):
    """app.fab.api.ClinicSchemaConverter._meta_schema_factory: FAB's schemas cannot hold
    ``patient_id`` (its auto schema leaves foreign keys out), so clients could not read a
    record's related ids."""
    with app.app_context(), pytest.raises(KeyError):
        _plain_schema(Appointment, ["patient_id", "status"])


def test_plain_related_views_are_shown_without_a_permission_check():
    """app.fab.views.FabModelView._get_related_views_widgets and render_template: FAB lists every
    related view on a record's page, readable by the user or not."""
    from flask_appbuilder.baseviews import BaseCRUDView

    source = inspect.getsource(BaseCRUDView._get_related_views_widgets)
    assert "for view in self._related_views" in source and "has_access" not in source


def test_fab_still_lets_backslashes_through_its_own_redirect_check(app):
    """Why app/fab/login.py replaces FAB's check of the login's ``next``: FAB accepts ``/\\host``
    and ``\\\\host``, which browsers read as ``//host`` (another site). When this fails, FAB has
    fixed it."""
    from flask_appbuilder.utils.base import is_safe_redirect_url

    with app.test_request_context():
        assert is_safe_redirect_url("/\\evil.example") and is_safe_redirect_url("\\\\evil.example")


def test_fab_still_exempts_its_rest_api_from_csrfprotect():
    """Why app/csrf.py turns WTF_CSRF_CHECK_DEFAULT off and checks every request itself: FAB's
    BaseApi exempts its blueprints, so cookie-authenticated API writes would pass without a token.
    When this fails, FAB no longer does that."""
    assert BaseApi.csrf_exempt is True


def test_plain_security_screens_download_from_an_upload_folder_the_app_never_sets(app):
    """Why app/fab/security_views.py drops the ``download`` route of FAB's user, role and group
    screens: plain FAB keeps it and reads ``UPLOAD_FOLDER``, which this app has no use for (a
    ``KeyError``, answered 500). When this fails, FAB no longer reads that setting there."""
    from flask_appbuilder.security.views import UserDBModelView

    assert "download" not in UserDBModelView.exclude_route_methods
    assert "UPLOAD_FOLDER" in inspect.getsource(UserDBModelView.download)
    assert "UPLOAD_FOLDER" not in app.config


@pytest.mark.parametrize("screen", ["users", "roles", "groups"])
def test_security_screens_have_no_download_route(login_as, screen):
    """As admin, a download URL under FAB's security screens is a plain 404, not a 500."""
    response = login_as("admin").get(f"/{screen}/download/anything.txt")
    assert response.status_code == 404
