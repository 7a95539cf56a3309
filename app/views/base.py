"""Base classes of the generated back office. Every write goes through ``app.services.rules``;
domain errors come back as form errors on the field they name, with the typed values kept."""
from __future__ import annotations

from typing import Any

from flask import current_app
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, Enum, Integer, Time, inspect as sa_inspect
from sqlalchemy.orm import RelationshipDirection
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, Optional

# The FAB glue lives in app.fab; these names stay importable from here for the screens.
from app.fab.actor import acting_user_id
from app.fab.hooks import clinic_settings
from app.fab.interface import ClinicInterface, pk_in_range  # noqa: F401
from app.fab.views import FabModelView
from app.models.types import UTCDateTime, is_money
from app.permissions import RESOURCE_BY_NAME, VIEW_METHOD_PERMISSIONS
from app.services import rules
from app.services.lookup import PATIENT_OWNED, describe_record
from app.views.fields import (
    ClinicDateTimeField,
    RemoteSelectField,
    blank_if_none,
    choice_field,
    field_for_column,
    format_choice,
    format_day,
    format_local,
    format_money,
    format_phone,
    time_field,
)
from app.views.labels import COLUMN_LABELS, page_titles
from app.views.remote import remote_name


class ClinicModelView(FabModelView):
    """A generated screen whose permission name is shared with the REST API of the same resource."""

    method_permission_name = VIEW_METHOD_PERMISSIONS
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
            elif column.key in optional and isinstance(column.type, Integer):  # e.g. a computed quantity
                field = IntegerField(label, validators=validators, widget=BS3TextFieldWidget())
                add_extra.setdefault(column.key, field)
                edit_extra.setdefault(column.key, field)
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
                field.kwargs["description"] = description or ""
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
