"""Base of the generated REST API. Writes go through ``app.services.rules`` like the screens;
domain errors answer 404/409/422 JSON naming the field (``app.errors``), never a 500."""
from __future__ import annotations

from typing import Any, Iterable

from flask import Response
from flask_appbuilder import ModelRestApi
from flask_appbuilder.const import API_RESULT_RES_KEY, API_SELECT_COLUMNS_RIS_KEY, API_SELECT_KEYS_RIS_KEY
from flask_appbuilder.exceptions import ApplyFilterException
from flask_babel import get_locale, gettext as _
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DataError, ProgrammingError
from sqlalchemy.orm import RelationshipDirection

from app.fab.api import ClinicBaseApi, ClinicSchemaConverter
from app.fab.hooks import RulesHooks
from app.fab.interface import ClinicInterface, check_page
from app.permissions import API_METHOD_PERMISSIONS

# Never accepted from a client, on any resource, from any role: keys, the audit stamps (when a
# record was made, changed or uploaded; who did it: every ``*_by``) and folded search copies. A
# request that sends one is refused 422 naming the field ("Unknown field."), nothing stored. Also
# the stamps of signing and discarding a record (set by their services) and the optimistic-lock version.
SERVER_SET = {"id", "created_at", "updated_at", "uploaded_at", "search_text", "version", "discarded_at",
              "signed_at"}


def server_set(name: str) -> bool:
    return name in SERVER_SET or name.endswith("_by") or name.endswith("_by_id")


def scalar_columns(model: type) -> list[str]:
    return [c.key for c in sa_inspect(model).column_attrs]


def writable_columns(model: type, derived: Iterable[str] = ()) -> list[str]:
    """Scalar columns (not foreign keys: those are set through their relationship by id) plus
    many-to-one and many-to-many relationships (by ids), minus what the server sets."""
    mapper = sa_inspect(model)
    fks = {col.key for col in mapper.columns if col.foreign_keys}
    skip = set(derived)
    relations = [r.key for r in sa_inspect(model).relationships
                 if r.direction in (RelationshipDirection.MANYTOONE, RelationshipDirection.MANYTOMANY)]
    return [c for c in scalar_columns(model) + relations if c not in fks and c not in skip and not server_set(c)]


class ClinicModelApi(RulesHooks, ClinicBaseApi, ModelRestApi):
    model2schemaconverter = ClinicSchemaConverter
    method_permission_name = API_METHOD_PERMISSIONS
    allow_browser_login = True
    page_size = 25
    max_page_size = 100

    # Columns the services fill in when the client leaves them out (a patient's code, say).
    optional_on_add: tuple[str, ...] = ()

    def __init__(self) -> None:
        # (language, keys asked for) -> FAB's extra keys of a single-record answer
        self._show_keys_cache: dict[tuple[str, tuple[str, ...] | None], dict[str, Any]] = {}
        super().__init__()

    def _init_model_schemas(self) -> None:
        super()._init_model_schemas()
        for name in self.optional_on_add:
            if name in self.add_model_schema.fields:
                self.add_model_schema.fields[name].required = False
                self.add_model_schema.load_fields[name].required = False

    def _handle_page_args(self, rison_args: dict[str, Any]) -> tuple[int | None, int | None]:
        """FAB quietly replaces a page size below 1 by its maximum and passes a negative page on:
        both are refused here, naming the argument (400)."""
        check_page(rison_args.get("page"), rison_args.get("page_size"))
        return super()._handle_page_args(rison_args)

    def get_headless(self, pk: Any, **kwargs: Any) -> Response:
        """One record, the lean way: the permission is already checked (``@protect`` on ``get``),
        so one ``SELECT`` by key and the resource's show schema. FAB's own path builds filter
        objects and a ``load_only`` per column and translates every label on every request, about
        as much CPU time again as the rest of the request. The answer is FAB's, key for key: its
        label/column/description/title keys are computed by FAB's own merge functions once per
        language and ``keys`` choice. FAB's path is kept for what the lean one does not cover:
        a resource with base filters (which rows a user may see) and a ``columns`` selection."""
        args = kwargs.get("rison", {})
        if self.base_filters or args.get(API_SELECT_COLUMNS_RIS_KEY):
            return super().get_headless(pk, **kwargs)
        item = self.datamodel.get_one(pk)
        if item is None:
            return self.response_404()
        response = dict(self._show_keys(args.get(API_SELECT_KEYS_RIS_KEY)))
        response["id"] = pk
        response[API_RESULT_RES_KEY] = self.show_model_schema.dump(item, many=False)
        self.pre_get(response)
        return self.response(200, **response)

    def _show_keys(self, keys: list[str] | None) -> dict[str, Any]:
        """FAB's extra keys of a single-record answer (``label_columns``, ``show_columns``,
        ``description_columns``, ``show_title``, or those named in ``keys``), made by FAB's merge
        functions once per language and choice of keys; they depend on nothing else."""
        key = (str(get_locale()), tuple(sorted(set(keys))) if keys else None)
        found = self._show_keys_cache.get(key)
        if found is None:
            found = {}
            self.set_response_key_mappings(found, self.get, {API_SELECT_KEYS_RIS_KEY: keys},
                                           **{API_SELECT_COLUMNS_RIS_KEY: []})
            self._show_keys_cache[key] = found
        return found

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


def make_api(model: type, resource: str, permission: str, *, read_only: bool = False,
             derived: Iterable[str] = (), hidden: Iterable[str] = (), optional: Iterable[str] = (),
             search: Iterable[str] | None = None, fixed: Iterable[str] = (),
             order: tuple[str, str] = ("id", "desc")) -> type[ClinicModelApi]:
    """One REST resource per model: reads show every column but ``hidden``; writes take
    ``writable_columns`` (``fixed`` ones on creation only). Read-only resources (ledgers, logs) expose only GET."""
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
        attrs["add_columns"] = columns
        attrs["edit_columns"] = [c for c in columns if c not in set(fixed)]
    return type(f"{model.__name__}Api", (ClinicModelApi,), attrs)
