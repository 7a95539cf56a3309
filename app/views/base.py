"""Base classes of the generated back office. Every write goes through ``app.services.rules``;
domain errors come back as form errors on the field they name, with the typed values kept."""
from __future__ import annotations

from typing import Any, Callable

from flask import abort, current_app, flash, request
from flask_jwt_extended import get_current_user
from flask_login import current_user
from flask_appbuilder import ModelView
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.urltools import get_filter_args, get_order_args, get_page_args, get_page_size_args
from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, Enum, Time
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import RelationshipDirection
from wtforms import StringField
from wtforms.validators import DataRequired, InputRequired, Optional

from app.models.types import UTCDateTime, integer_bounds, is_money
from app.permissions import RESOURCE_BY_NAME, VIEW_METHOD_PERMISSIONS
from app.services import rules
from app.services.errors import DomainError, from_database_error
from app.services.lookup import PATIENT_OWNED, describe_record
from app.services.settings import ClinicSettings
from app.views.filters import ClinicFilterConverter
from app.views.labels import COLUMN_LABELS, page_titles
from app.views.remote import remote_name
from app.views.fields import (
    ClinicDateTimeField, RemoteSelectField, blank_if_none, choice_field, field_for_column, format_choice, format_day,
    format_local, format_money, format_phone, time_field,
)


class ClinicInterface(SQLAInterface):
    """FAB's data interface, but a database error becomes a DomainError a person can read
    (FAB 5.3's own ``add`` re-raises the raw error, which its REST API answers with a 500)."""

    filter_converter_class = ClinicFilterConverter

    def is_folded_text(self, col_name: str) -> bool:
        """Columns holding accent-folded copies of Vietnamese text (``search_text``)."""
        return col_name == "search_text"

    def is_time(self, col_name: str) -> bool:
        column = self.list_columns.get(col_name)
        return column is not None and isinstance(getattr(column, "type", None), Time)

    def get(self, id, filters=None, *args, **kwargs):
        """An id the key column cannot hold (``/show/10**20``) is simply not found (not a 500)."""
        if not pk_in_range(self.obj, id):
            return None
        return super().get(id, filters, *args, **kwargs)

    def _write(self, operation: Callable[[], None]) -> None:
        try:
            operation()
        except SQLAlchemyError as exc:
            self.session.rollback()
            raise from_database_error(exc) from exc

    def add(self, item: Any, commit: bool = True) -> None:
        def op() -> None:
            self.session.add(item)
            if commit:
                self.session.commit()
        self._write(op)

    def edit(self, item: Any, commit: bool = True) -> None:
        def op() -> None:
            self.session.merge(item)
            if commit:
                self.session.commit()
        self._write(op)

    def delete(self, item: Any, commit: bool = True) -> None:
        def op() -> None:
            self.session.delete(item)
            if commit:
                self.session.commit()
        self._write(op)


def pk_in_range(model: type, pk: Any) -> bool:
    """Whether ``pk`` could be a key of ``model`` at all (ids are positive integers here)."""
    bounds = integer_bounds(sa_inspect(model).primary_key[0].type)
    if bounds is None:
        return True
    try:
        value = int(pk)
    except (TypeError, ValueError):
        return False
    return 0 < value <= bounds[1]


def clinic_settings() -> ClinicSettings:
    return ClinicSettings.from_config(current_app.config)


def acting_user_id() -> int | None:
    """The logged-in user of this request: the JWT's for API calls, the session's for pages."""
    if request.headers.get("Authorization", "").startswith("Bearer "):
        user = get_current_user()
    else:
        user = current_user
    return getattr(user, "id", None) if getattr(user, "is_authenticated", False) else None


def validate_item(session, item: Any) -> None:
    """The one hook every generated create/edit calls (screens and REST API alike)."""
    with session.no_autoflush:
        rules.validate(session, item, clinic_settings(), acting_user_id())


def check_delete(session, item: Any) -> None:
    with session.no_autoflush:
        rules.check_delete(session, item, clinic_settings())


class ClinicModelView(ModelView):
    """A generated screen whose permission name is shared with the REST API of the same resource."""

    method_permission_name = VIEW_METHOD_PERMISSIONS
    # No file columns and no bulk actions: FAB's download and action routes would only fail.
    exclude_route_methods = {"download", "action", "action_post"}
    page_size = 25

    def __init__(self, **kwargs: Any) -> None:
        # Every column's label from app.views.labels; the view's own label_columns win. A new dict
        # per instance: FAB adds its made-up labels to it.
        self.label_columns = {**COLUMN_LABELS, **(type(self).label_columns or {})}
        self._add_custom_fields()
        resource = RESOURCE_BY_NAME.get(self.class_permission_name)
        if resource is not None and not self.list_title:
            self.list_title = _l(resource.menu)
        if resource is not None:
            for key, title in page_titles(resource.name).items():
                setattr(self, key, getattr(self, key) or title)
        super().__init__(**kwargs)

    def _add_custom_fields(self) -> None:
        """Instants are shown and typed in the clinic's zone; TIME columns get a time input;
        choices (``app.models.base.choice``) are shown and offered by their translated label, the
        optional ones with an empty entry (FAB's enum field cannot be left empty)."""
        model = self.datamodel.obj
        add_extra = dict(self.add_form_extra_fields or {})
        edit_extra = dict(self.edit_form_extra_fields or {})
        formatters = dict(self.formatters_columns or {})
        search_extra = dict(self.search_form_extra_fields or {})
        optional = rules.FILLED_BY_SERVICES.get(model, ())
        for column in model.__table__.columns:
            label = (self.label_columns or {}).get(column.key, column.key.replace("_", " ").capitalize())
            validators = [Optional()] if column.key in optional else _required(column)
            description = (self.description_columns or {}).get(column.key)
            if isinstance(column.type, UTCDateTime):
                formatters.setdefault(column.key, format_local)
                for extra in (add_extra, edit_extra):
                    extra.setdefault(column.key, ClinicDateTimeField(label, validators=validators, description=(
                        _l("%(description)s (clinic local time)", description=description) if description
                        else _l("Clinic local time"))))
            elif column.key in optional:
                field = StringField(label, validators=validators, widget=BS3TextFieldWidget(),
                                    filters=[lambda value: value or None])
                add_extra.setdefault(column.key, field)
                edit_extra.setdefault(column.key, field)
            elif isinstance(column.type, Time):
                field = time_field(label)
                field.kwargs["validators"] = _required(column)
                add_extra.setdefault(column.key, field)
                edit_extra.setdefault(column.key, field)
            elif isinstance(column.type, Enum):
                default = column.default.arg if column.default is not None and column.default.is_scalar else None
                field = choice_field(label, column.type.enums, validators, optional=column.nullable, default=default)
                add_extra.setdefault(column.key, field)
                edit_extra.setdefault(column.key, field)
                search_extra.setdefault(column.key, choice_field(label, column.type.enums, [Optional()]))
            elif (field := field_for_column(column, label, description)) is not None:
                add_extra.setdefault(column.key, field)
                edit_extra.setdefault(column.key, field)
            if isinstance(column.type, Enum):
                formatters.setdefault(column.key, format_choice)
            if column.key.endswith("phone"):
                formatters.setdefault(column.key, format_phone)
            if is_money(column.type):
                formatters.setdefault(column.key, format_money)
            if isinstance(column.type, Date):
                formatters.setdefault(column.key, format_day)
            formatters.setdefault(column.key, blank_if_none)
        for relationship in sa_inspect(model).relationships:
            formatters.setdefault(relationship.key, guard_reference)
            target = relationship.mapper.class_
            name = remote_name(target)
            if name is None or relationship.direction is not RelationshipDirection.MANYTOONE:
                continue
            label = (self.label_columns or {}).get(relationship.key, relationship.key.replace("_", " ").capitalize())
            local = next(iter(relationship.local_columns))
            # InputRequired, not DataRequired: an unknown id keeps its own message.
            validators = [Optional()] if local.nullable else [InputRequired()]
            url = f"/lookup/{name}"
            # A record of the patient's own (an encounter's appointment) is picked among that patient's.
            scope = "patient" if target in PATIENT_OWNED and hasattr(model, "patient_id") else None
            for extra in (add_extra, edit_extra):
                extra.setdefault(relationship.key, RemoteSelectField(label, validators, model=target, url=url,
                                                                     describe=describe, scope=scope))
            search_extra.setdefault(relationship.key, RemoteSelectField(label, [Optional()], model=target, url=url,
                                                                        describe=describe))
        self.search_form_extra_fields = search_extra
        self.add_form_extra_fields, self.edit_form_extra_fields = add_extra, edit_extra
        self.formatters_columns = formatters

    def pre_add(self, item: Any) -> None:
        validate_item(self.datamodel.session, item)

    def pre_update(self, item: Any) -> None:
        validate_item(self.datamodel.session, item)

    def pre_delete(self, item: Any) -> None:
        check_delete(self.datamodel.session, item)

    def _save(self, form, item: Any, before: Callable, write: Callable, after: Callable) -> bool:
        try:
            before(item)
            write(item)
            after(item)
            return True
        except DomainError as exc:
            self.datamodel.session.rollback()
            if exc.field and exc.field in form:
                form[exc.field].errors = list(form[exc.field].errors) + [exc.message]
            elif exc.field and exc.field.removesuffix("_id") in form:
                form[exc.field.removesuffix("_id")].errors = [exc.message]
            else:
                flash(exc.message, "danger")
            return False

    def _fill_form_exclude_cols(self, exclude_cols, form) -> None:
        """The parent of a record added from its own tab ("+" under a patient's invoices) is a hidden
        field filled from the URL's filter. FAB sets only its ``data``; the required check reads
        ``raw_data`` and refused the form with a message nobody could see. Fill both."""
        super()._fill_form_exclude_cols(exclude_cols, form)
        for key in exclude_cols:
            field = getattr(form, key, None)
            if field is not None and field.data is not None:
                field.raw_data = [str(getattr(field.data, "id", field.data))]

    def _flash_hidden_errors(self, form, exclude_cols) -> None:
        """Errors on fields the page does not show (the parent given by the URL) as a message."""
        for key in exclude_cols:
            field = getattr(form, key, None)
            for error in getattr(field, "errors", ()):
                flash(f"{field.label.text}: {error}", "danger")

    def _add(self):
        is_valid_form = True
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        form = self.add_form.refresh()
        if request.method == "POST":
            self._fill_form_exclude_cols(exclude_cols, form)
            if form.validate():
                self.process_form(form, True)
                item = self.datamodel.obj()
                form.populate_obj(item)
                if self._save(form, item, self.pre_add, self.datamodel.add, self.post_add):
                    flash(self.add_row_message, "success")
                    return None
            self._flash_hidden_errors(form, exclude_cols)
            is_valid_form = False
        else:
            self.prefill_add(form)
        if is_valid_form:
            self.update_redirect()
        return self._get_add_widget(form=form, exclude_cols=exclude_cols)

    def prefill_add(self, form) -> None:
        """Values an empty add form starts with (a view may override)."""

    def _edit(self, pk):
        is_valid_form = True
        pages, page_sizes, orders = get_page_args(), get_page_size_args(), get_order_args()
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            abort(404)
        pk = self.datamodel.get_pk_value(item)
        if request.method == "POST":
            form = self.edit_form.refresh(request.form)
            self._fill_form_exclude_cols(exclude_cols, form)
            form._id = pk
            if form.validate():
                self.process_form(form, False)
                form.populate_obj(item)
                if self._save(form, item, self.pre_update, self.datamodel.edit, self.post_update):
                    flash(self.edit_row_message, "success")
                    return None
                item = self.datamodel.get(pk, self._base_filters)
            is_valid_form = False
        else:
            form = self.edit_form.refresh(obj=item)
            self.prefill_form(form, pk)
        widgets = self._get_edit_widget(form=form, exclude_cols=exclude_cols)
        widgets = self._get_related_views_widgets(
            item, filters={}, orders=orders, pages=pages, page_sizes=page_sizes, widgets=widgets
        )
        if is_valid_form:
            self.update_redirect()
        return widgets

    def _delete(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            abort(404)
        try:
            self.pre_delete(item)
            self.datamodel.delete(item)
            self.post_delete(item)
            flash(self.delete_row_message, "success")
        except DomainError as exc:
            flash(exc.message, "danger")
        self.update_redirect()

    def _readable_related_views(self) -> list:
        return [view for view in self._related_views
                if self.appbuilder.sm.has_access("can_read", view.class_permission_name)]

    def render_template(self, template, **kwargs):
        """FAB's show and edit templates pair each related view with its widget by position: pass
        them the same filtered list as the widgets, or the tabs shift and the page fails (500)."""
        if kwargs.get("related_views") is not None:
            kwargs["related_views"] = self._readable_related_views()
        return super().render_template(template, **kwargs)

    def _get_related_views_widgets(self, item, orders=None, pages=None, page_sizes=None, widgets=None, **args):
        """FAB shows every related view; show only those the user may read (a receptionist never
        sees the encounters on a patient's page). Same loop as FAB's, plus the permission check."""
        widgets = widgets or {}
        widgets["related_views"] = []
        for view in self._readable_related_views():
            order_column, order_direction = (orders or {}).get(view.__class__.__name__, ("", ""))
            widgets["related_views"].append(self._get_related_view_widget(
                item, view, order_column, order_direction,
                page=(pages or {}).get(view.__class__.__name__),
                page_size=(page_sizes or {}).get(view.__class__.__name__),
            ))
        return widgets


def prefill_own_doctor(session, form) -> None:
    """A new encounter, prescription or lab order written by a doctor starts with that doctor."""
    from app.services.calendar import doctor_for_user

    if "doctor" in form and form.doctor.data is None:
        form.doctor.data = doctor_for_user(session, acting_user_id())


def describe(item: Any) -> str:
    """How a related record reads on a page: instants in the clinic's zone, not the UTC repr."""
    return describe_record(item, clinic_settings().timezone)


def guard_reference(value: Any) -> Any:
    """A related record on a list or show page is described only to users who may read its
    resource; others see its number (a pharmacist reading a prescription sees encounter "#12",
    not the encounter's chief complaint)."""
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    items = [item for item in items if item is not None]
    if not items:
        return ""
    resource = type(items[0]).__name__  # permission names are the model names
    if resource not in RESOURCE_BY_NAME or current_app.appbuilder.sm.has_access("can_read", resource):
        return "; ".join(describe(item) for item in items)
    return ", ".join(f"#{item.id}" for item in items)


class ReadOnlyModelView(ClinicModelView):
    """Ledgers and logs: written by services only, never edited by hand."""

    base_permissions = ["can_read"]


def _required(column) -> list:
    return [Optional()] if column.nullable else [DataRequired()]


def labels(**names: str) -> dict[str, Any]:
    return {key: _l(value) for key, value in names.items()}
