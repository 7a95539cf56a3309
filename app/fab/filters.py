"""Search filters: accent-insensitive search on folded text columns."""
from __future__ import annotations

from flask import current_app
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import (
    FilterEqual,
    FilterGreater,
    FilterNotEqual,
    FilterSmaller,
    SQLAFilterConverter,
    get_field_setup_query,
)
from flask_babel import lazy_gettext as _l

from app.models import Patient
from app.services.lookup import patient_condition
from app.services.text import fold


class FilterFoldedContains(BaseFilter):
    """"nguyen van an", "Nguyễn Văn An" and "NGUYEN" all find "Nguyễn Văn An"."""

    name = _l("Contains")
    arg_name = "fct"

    def apply(self, query, value):
        if self.model is Patient:
            # The pickers' patient search: name, code, or a phone number typed any way ("0903 123 456").
            region = current_app.config.get("CLINIC_PHONE_REGION", "VN")
            return query.filter(patient_condition(str(value), region))
        query, field = get_field_setup_query(query, self.model, self.column_name)
        return query.filter(field.like("%" + fold(str(value)) + "%"))


class ClinicFilterConverter(SQLAFilterConverter):
    conversion_table = (
        ("is_folded_text", [FilterFoldedContains]),
        ("is_time", [FilterEqual, FilterGreater, FilterSmaller, FilterNotEqual]),
    ) + SQLAFilterConverter.conversion_table
