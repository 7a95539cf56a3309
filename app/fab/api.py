"""REST pieces that adapt FAB's ``ModelRestApi`` and ``BaseApi`` to the clinic: related ids that
must exist, the range of every column in the schemas (and a valid OpenAPI document), and domain
errors answered by the app's one error mapping instead of FAB's ``@safe`` 500."""
from __future__ import annotations

import logging
import re
import sys
from decimal import Decimal
from typing import Any, Callable, Mapping

import sqlalchemy as sa
from flask import Response, current_app, request
from flask_appbuilder.api import BaseApi
from flask_appbuilder.api.convert import Model2SchemaConverter
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, missing, validate
from marshmallow_sqlalchemy import SQLAlchemyAutoSchema, field_for
from marshmallow_sqlalchemy.fields import Related

from app.fab.interface import MAX_ID, numeric_bound, pk_in_range
from app.models.types import UTCDateTime, integer_bounds
from app.services.errors import DomainError

# Errors that are the client's: the app's error handlers answer them (404/409/422 JSON).
CLIENT_ERRORS = (DomainError, ValidationError)
ERROR_CODES = {400: "bad request", 401: "not logged in", 403: "no permission", 404: "no such record",
               409: "clashes with the current state", 422: "a field is missing or wrong (each one named)"}
_URL_ARG = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def openapi(*, responses: Mapping[int, tuple[str, type[Schema] | None]], body: type[Schema] | None = None,
            query: type[Schema] | None = None, errors: tuple[int, ...] = (400, 404, 409, 422)) -> Callable:
    """Document a hand-written endpoint from its schemas (``ClinicBaseApi.operation_helper``
    writes the OpenAPI operation): no YAML copied into docstrings. The first line of the
    docstring is the summary."""

    def mark(func: Callable) -> Callable:
        func._openapi = {"responses": responses, "body": body, "query": query, "errors": errors}  # type: ignore[attr-defined]
        return func

    return mark


def json_body() -> dict[str, Any]:
    """The request's JSON object; no body at all counts as ``{}`` (every field then missing).
    A body that is JSON but not an object is refused like a broken field."""
    data = request.get_json(silent=True)
    if data is None and not request.get_data(cache=True).strip():
        return {}
    if not isinstance(data, dict):
        raise ValidationError(_("Send a JSON object."), "_schema")
    return data


def correct_fab_documentation(paths: dict[str, dict[str, Any]]) -> None:
    """FAB 5.3 documents some of its own answers wrongly (from the YAML in its docstrings), so
    those answers fail "response matches schema": a created record's ``id`` is documented as a
    string (our keys are integers), and so are the ``ids`` of a list; ``_info``'s
    ``add_columns``/``edit_columns`` as objects (they are lists of field descriptions); the menu
    API's ``childs`` as objects (separators are the string ``"-"``). Corrected in place; running
    it twice changes nothing."""
    for path, operations in paths.items():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for code, response in operation.get("responses", {}).items():
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                properties = schema.get("properties", {})
                if code == "201" and properties.get("id") == {"type": "string"}:
                    properties["id"] = {"type": "integer"}
                if properties.get("ids", {}).get("items") == {"type": "string"}:  # a list's keys
                    properties["ids"]["items"] = {"type": "integer"}
                if path.endswith("/_info"):
                    for key in ("add_columns", "edit_columns"):
                        if properties.get(key) == {"type": "object"}:
                            properties[key] = {"type": "array", "items": {"type": "object"}}
                items = properties.get("result", {}).get("items", {})
                childs = items.get("properties", {}).get("childs", {})
                if path.endswith("/menu/") and childs.get("items") == {"type": "object"}:
                    childs["items"] = {"oneOf": [{"type": "object"}, {"type": "string"}]}


class ClinicBaseApi(BaseApi):
    """What every REST class of ours shares: client errors answered by the app's one mapping, and
    operations documented from marshmallow schemas."""

    def add_api_spec(self, api_spec: Any) -> None:
        super().add_api_spec(api_spec)
        correct_fab_documentation(api_spec._paths)
        _document_error_messages(api_spec.components.responses)

    def response_500(self, message: str | None = None) -> Response:
        """FAB's ``@safe`` (around every ``ModelRestApi`` route) catches *every* exception and
        answers 500 "Fatal error": a domain error raised in ``pre_add`` or a filter value the
        data cannot hold becomes a 500. ``@safe`` calls this method from inside its ``except``
        block, so the exception is at hand: a client error is raised again, on to the app's error
        handlers (``app.errors``), which answer it as every other entry point does. Endpoints of
        our own do not use ``@safe``."""
        if isinstance(sys.exc_info()[1], CLIENT_ERRORS):
            raise  # noqa: PLE0704 - re-raises the exception @safe is handling
        return super().response_500(message=message)

    def operation_helper(self, path: str | None = None, operations: dict | None = None,
                         methods: list[str] | None = None, func: Callable | None = None, **kwargs: Any) -> None:
        spec = getattr(func, "_openapi", None)
        if spec is None or operations is None or func is None:
            return super().operation_helper(path=path, operations=operations, methods=methods, func=func, **kwargs)
        for method in methods or ():
            operation: dict[str, Any] = {
                "summary": (func.__doc__ or "").strip().split("\n", 1)[0],
                "parameters": _path_parameters(func),
                "responses": {str(code): _response(description, schema)
                              for code, (description, schema) in spec["responses"].items()},
            }
            for code in (401, 403, *spec["errors"]):
                operation["responses"].setdefault(str(code), _response(ERROR_CODES[code], "ErrorOut"))
            if spec["query"] is not None:
                operation["parameters"].append({"in": "query", "schema": spec["query"]})
            if spec["body"] is not None:
                operation["requestBody"] = {"required": True,
                                            "content": {"application/json": {"schema": spec["body"]}}}
            if self.get_method_permission(func.__name__):
                operation["security"] = [{"jwt": []}, {"api_key": []}]
            operations[method.lower()] = operation


def _response(description: str, schema: type[Schema] | str | None) -> dict[str, Any]:
    if schema is None:
        return {"description": description}
    if isinstance(schema, str):
        return {"description": description,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _path_parameters(func: Callable) -> list[dict[str, Any]]:
    """``<int:pk>`` becomes an integer parameter within the range of the ids (the app's ``int``
    URL converter refuses more)."""
    parameters = []
    for url, _methods in getattr(func, "_urls", ()):
        for converter, name in _URL_ARG.findall(url):
            schema = ({"type": "integer", "minimum": 1, "maximum": MAX_ID} if converter == "int"
                      else {"type": "string"})
            parameters.append({"in": "path", "name": name, "required": True, "schema": schema})
        break
    return parameters


# A message is a text, or an object naming each broken field with its reasons.
ERROR_MESSAGE = {"oneOf": [{"type": "string"}, {"type": "object"}]}


def _document_error_messages(responses: dict[str, dict[str, Any]]) -> None:
    """FAB's shared error responses (``BaseApi.responses``: 400, 401, 403, 404, 422, 500) say
    ``message`` is a string, but FAB itself answers a refused body with an object naming the
    fields (``{"message": {"name": ["Missing data for required field."]}}``): every such answer
    breaks its own OpenAPI document. Corrected in the document (FAB's class is left alone)."""
    for response in responses.values():
        schema = response.get("content", {}).get("application/json", {}).get("schema", {})
        if "message" in schema.get("properties", {}):
            schema["properties"]["message"] = ERROR_MESSAGE


class _NotClientErrors(logging.Filter):
    """``@safe`` logs the exception before calling ``response_500``: keep the log for real faults."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], CLIENT_ERRORS))


logging.getLogger("flask_appbuilder.api").addFilter(_NotClientErrors())


class NumberRange(validate.Validator):
    """The range of a NUMERIC column, checked exactly on Decimals. Not a ``validate.Range``:
    apispec writes a Range's bounds through the field itself, and a Decimal field that answers
    strings (FAB's money) gives ``"maximum": "999999999999.99"``, a string where OpenAPI wants a
    number: the whole document is then invalid and fuzzers skip the operation."""

    def __init__(self, low: Decimal, high: Decimal, error: str) -> None:
        self.low, self.high = low, high
        self.error: str = error

    def __call__(self, value: Any) -> Any:
        if not self.low <= value <= self.high:
            raise ValidationError(self.error.format(input=value, min=self.low, max=self.high))
        return value


class ExistingRelated(Related):
    """A many-to-one given by id that must name an existing record.

    marshmallow-sqlalchemy's ``Related`` (FAB's choice for relationships) turns an unknown id into
    a *new* related object, which the session then tries to insert with the parent
    (``{"patient": 999999}`` answered with an error about the patient's ``code``, or could even
    create a half-empty record). Here an unknown or malformed id is a 422 naming the relationship."""

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


def _typed_field(field: fields.Field, column_type: Any) -> fields.Field:
    """Fields that say what the column holds and what the JSON carries.

    A choice column becomes a ``Raw`` field in FAB 5.3 (through marshmallow-sqlalchemy) with a
    ``Length`` validator that calls ``len()`` on whatever came: ``{"status": true}`` raised
    TypeError (500). Here it is a string among the choices. An instant column (aware UTC) becomes
    a plain ``DateTime`` field that accepts naive times, which the column then refuses (500): here
    it needs its UTC offset."""
    common: dict[str, Any] = {"required": field.required, "allow_none": field.allow_none, "metadata": field.metadata}
    if field.load_default is not None and field.load_default is not missing:
        common["load_default"] = field.load_default
    if isinstance(column_type, sa.Enum) and type(field) is fields.Raw:
        return fields.String(validate=validate.OneOf(column_type.enums), **common)
    if isinstance(column_type, UTCDateTime) and type(field) is fields.DateTime:
        return fields.AwareDateTime(**common)
    if isinstance(field, fields.Decimal):
        # FAB's JSON writes a Decimal as a string ("150000.00") while its schema says "number":
        # every answer with money broke the document. Documented as what it is: a decimal string.
        field.as_string = True
        whole = (column_type.precision or 28) - (column_type.scale or 0)
        fraction = column_type.scale or 0
        pattern = rf"^-?[0-9]{{1,{whole}}}" + (rf"(\.[0-9]{{1,{fraction}}})?$" if fraction else "$")
        field.metadata = {**field.metadata, "type": "string", "format": "decimal", "pattern": pattern}
    return field


class ClinicSchemaConverter(Model2SchemaConverter):
    """FAB's converter, but foreign-key columns (``patient_id``) may be listed: clients read
    the ids of related records without nested objects; a related id must exist; and every
    number field carries the range its column can hold."""

    def _column2field(self, datamodel, column, nested=True, parent_schema_name=None):
        """FAB's field, plus the range its column can hold: an out-of-range number is a 422
        naming the field, not a database error (FAB adds no range at all)."""
        field = super()._column2field(datamodel, column, nested, parent_schema_name)
        sqla_column = datamodel.list_columns.get(column.name)
        column_type = getattr(sqla_column, "type", None)
        if field is None or column_type is None or getattr(sqla_column, "primary_key", False):
            return field
        field = _typed_field(field, column_type)
        bounds, bound = integer_bounds(column_type), numeric_bound(column_type)
        message = _("Must be between %(low)s and %(high)s.", low="{min}", high="{max}")
        if bounds is not None:
            field.validators.append(validate.Range(min=bounds[0], max=bounds[1], error=message))
        elif bound is not None:
            field.validators.append(NumberRange(-bound, bound, error=message))
        return field

    def _column2relation(self, datamodel, column, nested=False, parent_schema_name=None):
        many_to_many = datamodel.is_relation_many_to_many(column.name)
        if nested or not (datamodel.is_relation_many_to_one(column.name) or many_to_many):
            return super()._column2relation(datamodel, column, nested, parent_schema_name)
        field = field_for(datamodel.obj, column.name, field_class=ExistingRelated)  # a list of them for M2M
        field.required = False if many_to_many else not datamodel.is_nullable(column.name)
        field.unique = datamodel.is_unique(column.name)  # type: ignore[attr-defined]  # FAB reads it
        return field

    def _meta_schema_factory(self, columns, model, class_mixin, parent_schema_name=None):
        """FAB's schemas leave foreign-key columns out (``include_fk`` is False); ours list them."""
        if not columns:
            return super()._meta_schema_factory(columns, model, class_mixin, parent_schema_name)
        _model, _columns, _parent = model, columns, parent_schema_name

        class MetaSchema(SQLAlchemyAutoSchema, class_mixin):  # type: ignore[misc, valid-type]
            class Meta:
                model = _model
                fields = _columns
                include_fk = True
                load_instance = True
                sqla_session = current_app.appbuilder.session  # type: ignore[attr-defined]
                parent_schema_name = _parent

        return MetaSchema
