"""Search filters: accent-insensitive search on folded text columns."""
from __future__ import annotations

from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import (
    FilterEqual, FilterGreater, FilterNotEqual, FilterSmaller, SQLAFilterConverter, get_field_setup_query,
)
from flask_babel import lazy_gettext as _l

from app.services.text import fold


class FilterFoldedContains(BaseFilter):
    """"nguyen van an", "Nguyễn Văn An" and "NGUYEN" all find "Nguyễn Văn An"."""

    name = _l("Contains")
    arg_name = "fct"

    def apply(self, query, value):
        query, field = get_field_setup_query(query, self.model, self.column_name)
        return query.filter(field.like("%" + fold(str(value)) + "%"))


class ClinicFilterConverter(SQLAFilterConverter):
    conversion_table = (
        ("is_folded_text", [FilterFoldedContains]),
        ("is_time", [FilterEqual, FilterGreater, FilterSmaller, FilterNotEqual]),
    ) + SQLAFilterConverter.conversion_table
