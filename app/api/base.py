"""Base of the generated REST API. Writes go through ``app.services.rules`` like the screens;
domain errors answer 404/409/422 JSON naming the field, never a 500."""
from __future__ import annotations

from typing import Any, Callable, Iterable

from flask import Response, current_app
from flask_appbuilder.api.convert import Model2SchemaConverter
from marshmallow_sqlalchemy import SQLAlchemyAutoSchema
from flask_appbuilder import ModelRestApi
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import RelationshipDirection

from app.permissions import API_METHOD_PERMISSIONS
from app.services.errors import DomainError
from app.views.base import ClinicInterface, validate_item

# Never accepted from a client: keys, audit stamps and values the services derive.
SERVER_SET = {"id", "created_at", "updated_at", "search_text"}


def scalar_columns(model: type) -> list[str]:
    return [c.key for c in sa_inspect(model).column_attrs]


def many_to_one(model: type) -> list[str]:
    return [r.key for r in sa_inspect(model).relationships if r.direction is RelationshipDirection.MANYTOONE]


def writable_columns(model: type, derived: Iterable[str] = ()) -> list[str]:
    """Scalar columns (not foreign keys: those are set through their relationship by id) plus
    many-to-one relationships, minus what the server sets."""
    mapper = sa_inspect(model)
    fks = {col.key for col in mapper.columns if col.foreign_keys}
    skip = SERVER_SET | set(derived)
    return [c for c in scalar_columns(model) if c not in fks and c not in skip] + [
        r for r in many_to_one(model) if r not in skip
    ]


class ClinicSchemaConverter(Model2SchemaConverter):
    """FAB's converter, but foreign-key columns (``patient_id``) may be listed: clients read
    the ids of related records without nested objects."""

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

    def _answer_domain_errors(self, call: Callable[[], Response]) -> Response:
        try:
            return call()
        except DomainError as exc:
            self.datamodel.session.rollback()
            return self.response(exc.status, **exc.as_dict())

    def post_headless(self) -> Response:
        return self._answer_domain_errors(super().post_headless)

    def put_headless(self, pk) -> Response:
        return self._answer_domain_errors(lambda: super().put_headless(pk))

    def delete_headless(self, pk) -> Response:
        return self._answer_domain_errors(lambda: super().delete_headless(pk))


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
        attrs["include_route_methods"] = {"get", "get_list", "info"}
    else:
        columns = [c for c in writable_columns(model, derived) if c not in hidden]
        attrs["add_columns"] = attrs["edit_columns"] = columns
    return type(f"{model.__name__}Api", (ClinicModelApi,), attrs)
