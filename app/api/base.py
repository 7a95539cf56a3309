"""Base of the generated REST API. Writes go through ``app.services.rules`` like the screens;
domain errors answer 404/409/422 JSON naming the field, never a 500."""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, Iterable

import sqlalchemy as sa
from flask import Response, current_app
from flask_appbuilder import ModelRestApi
from flask_appbuilder.api.convert import Model2SchemaConverter
from flask_appbuilder.exceptions import ApplyFilterException
from flask_babel import gettext as _
from marshmallow import ValidationError, validate
from marshmallow_sqlalchemy import SQLAlchemyAutoSchema, field_for
from marshmallow_sqlalchemy.fields import Related
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DataError, ProgrammingError
from sqlalchemy.orm import RelationshipDirection

from app.permissions import API_METHOD_PERMISSIONS
from app.services.errors import DomainError
from app.models.types import integer_bounds
from app.views.base import ClinicInterface, check_delete, pk_in_range, validate_item

# Never accepted from a client: keys, audit stamps and values the services derive.
SERVER_SET = {"id", "created_at", "updated_at", "search_text"}


def scalar_columns(model: type) -> list[str]:
    return [c.key for c in sa_inspect(model).column_attrs]


def writable_columns(model: type, derived: Iterable[str] = ()) -> list[str]:
    """Scalar columns (not foreign keys: those are set through their relationship by id) plus
    many-to-one and many-to-many relationships (by ids), minus what the server sets."""
    mapper = sa_inspect(model)
    fks = {col.key for col in mapper.columns if col.foreign_keys}
    skip = SERVER_SET | set(derived)
    relations = [r.key for r in sa_inspect(model).relationships
                 if r.direction in (RelationshipDirection.MANYTOONE, RelationshipDirection.MANYTOMANY)]
    return [c for c in scalar_columns(model) if c not in fks and c not in skip] + [
        r for r in relations if r not in skip
    ]


def numeric_bound(column_type: sa.types.TypeEngine) -> Decimal | None:
    """Largest value of a NUMERIC(p, s) column (PostgreSQL refuses more; SQLite stores it anyway)."""
    if isinstance(column_type, sa.Numeric) and not isinstance(column_type, sa.Float):
        if column_type.precision is not None:
            scale = column_type.scale or 0
            return Decimal(10) ** (column_type.precision - scale) - Decimal(1).scaleb(-scale)
    return None


class ExistingRelated(Related):
    """A many-to-one given by id that must name an existing record.

    marshmallow-sqlalchemy's ``Related`` turns an unknown id into a *new* related object, which
    the session then tries to insert with the parent (``{"patient": 999999}`` answered with an
    error about the patient's ``code``, or could even create a half-empty record). Here an
    unknown or malformed id is a 422 naming the relationship."""

    def _deserialize(self, value, *args, **kwargs):
        keys = self.related_keys
        if len(keys) != 1:  # pragma: no cover - every model here has a one-column key
            return super()._deserialize(value, *args, **kwargs)
        if isinstance(value, dict):  # {"id": 3} is accepted like 3
            if set(value) != {keys[0].key}:
                raise ValidationError(_("Give the id of an existing record."))
            value = value[keys[0].key]
        column = keys[0].columns[0]
        try:
            python_type = column.type.python_type
        except NotImplementedError:  # pragma: no cover - every key here is an integer
            python_type = None
        if python_type is int:
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                raise ValidationError(_("Give the id of an existing record."))
            try:
                value = int(value)
            except ValueError:
                raise ValidationError(_("Give the id of an existing record.")) from None
            if not pk_in_range(self.related_model, value):
                raise ValidationError(_("There is no record with id %(id)s.", id=value))
        result = self.session.get(self.related_model, value)
        if result is None:
            raise ValidationError(_("There is no record with id %(id)s.", id=value))
        return result


class ClinicSchemaConverter(Model2SchemaConverter):
    """FAB's converter, but foreign-key columns (``patient_id``) may be listed: clients read
    the ids of related records without nested objects; and a related id must exist."""

    def _column2field(self, datamodel, column, nested=True, parent_schema_name=None):
        """FAB's field, plus the range its column can hold: an out-of-range number is a 422
        naming the field, not a database error."""
        field = super()._column2field(datamodel, column, nested, parent_schema_name)
        sqla_column = datamodel.list_columns.get(column.name)
        column_type = getattr(sqla_column, "type", None)
        if field is None or column_type is None or getattr(sqla_column, "primary_key", False):
            return field
        bounds, bound = integer_bounds(column_type), numeric_bound(column_type)
        message = _("Must be between %(low)s and %(high)s.", low="{min}", high="{max}")
        if bounds is not None:
            field.validators.append(validate.Range(min=bounds[0], max=bounds[1], error=message))
        elif bound is not None:
            field.validators.append(validate.Range(min=-bound, max=bound, error=message))
        return field

    def _column2relation(self, datamodel, column, nested=False, parent_schema_name=None):
        many_to_many = datamodel.is_relation_many_to_many(column.name)
        if nested or not (datamodel.is_relation_many_to_one(column.name) or many_to_many):
            return super()._column2relation(datamodel, column, nested, parent_schema_name)
        field = field_for(datamodel.obj, column.name, field_class=ExistingRelated)  # a list of them for M2M
        field.required = False if many_to_many else not datamodel.is_nullable(column.name)
        field.unique = datamodel.is_unique(column.name)
        return field

    def _meta_schema_factory(self, columns, model, class_mixin, parent_schema_name=None):
        if not columns:
            return super()._meta_schema_factory(columns, model, class_mixin, parent_schema_name)
        _model, _columns, _parent = model, columns, parent_schema_name

        class MetaSchema(SQLAlchemyAutoSchema, class_mixin):  # type: ignore[misc, valid-type]
            class Meta:
                model = _model
                fields = _columns
                include_fk = True
                load_instance = True
                sqla_session = current_app.appbuilder.session
                parent_schema_name = _parent

        return MetaSchema


class ClinicModelApi(ModelRestApi):
    model2schemaconverter = ClinicSchemaConverter
    method_permission_name = API_METHOD_PERMISSIONS
    allow_browser_login = True
    page_size = 25
    max_page_size = 100

    # Columns the services fill in when the client leaves them out (a patient's code, say).
    optional_on_add: tuple[str, ...] = ()

    def _init_model_schemas(self) -> None:
        super()._init_model_schemas()
        for name in self.optional_on_add:
            if name in self.add_model_schema.fields:
                self.add_model_schema.fields[name].required = False
                self.add_model_schema.load_fields[name].required = False

    def pre_add(self, item: Any) -> None:
        validate_item(self.datamodel.session, item)

    def pre_update(self, item: Any) -> None:
        validate_item(self.datamodel.session, item)

    def pre_delete(self, item: Any) -> None:
        check_delete(self.datamodel.session, item)

    def _answer_domain_errors(self, call: Callable[[], Response]) -> Response:
        try:
            return call()
        except DomainError as exc:
            self.datamodel.session.rollback()
            return self.response(exc.status, **exc.as_dict())

    def get_list_headless(self, **kwargs) -> Response:
        """A filter value the column cannot hold ("abc" or 10**20 for a number, a NUL byte) is the
        client's mistake: 400, not the 500 FAB answers when the database refuses the query."""
        try:
            return super().get_list_headless(**kwargs)
        except (DataError, ApplyFilterException, OverflowError, ProgrammingError) as exc:
            if isinstance(exc, ProgrammingError) and getattr(exc.orig, "sqlstate", None) != "42883":
                raise  # only "operator does not exist" (numeric > text) is a bad filter value
            self.datamodel.session.rollback()
            return self.response_400(message=_("A filter value does not fit its column."))

    # Bind the parent method here: a zero-argument ``super()`` inside a lambda raises
    # "RuntimeError: super(): no arguments" (every PUT and DELETE answered 500).
    def post_headless(self) -> Response:
        return self._answer_domain_errors(super().post_headless)

    def put_headless(self, pk) -> Response:
        parent = super().put_headless
        return self._answer_domain_errors(lambda: parent(pk))

    def delete_headless(self, pk) -> Response:
        parent = super().delete_headless
        return self._answer_domain_errors(lambda: parent(pk))


def make_api(model: type, resource: str, permission: str, *, read_only: bool = False,
             derived: Iterable[str] = (), hidden: Iterable[str] = (), optional: Iterable[str] = (),
             search: Iterable[str] | None = None,
             order: tuple[str, str] = ("id", "desc")) -> type[ClinicModelApi]:
    """One REST resource per model: reads show every column but ``hidden``; writes take
    ``writable_columns``. Read-only resources (ledgers, logs) expose only GET."""
    hidden = set(hidden)
    shown = [c for c in scalar_columns(model) if c not in hidden]
    attrs: dict[str, Any] = {
        "datamodel": ClinicInterface(model),
        "resource_name": resource,
        "class_permission_name": permission,
        "list_columns": shown,
        "show_columns": shown,
        "order_columns": [c for c in shown],
        "base_order": order,
        "optional_on_add": tuple(optional),
    }
    if search is not None:
        attrs["search_columns"] = list(search)
    if read_only:
        attrs["include_route_methods"] = {"get", "get_list"}
    else:
        columns = [c for c in writable_columns(model, derived) if c not in hidden]
        attrs["add_columns"] = attrs["edit_columns"] = columns
    return type(f"{model.__name__}Api", (ClinicModelApi,), attrs)
