"""FAB's data interface for the clinic's models: database refusals as domain errors, ids the key
column cannot hold as "not found", one check of every list query (filter values, order and
page) before FAB builds its SQL, and care-team access to patient records
(``app.services.access``), for the generated screens and the REST API alike.

Care-team access lives here, in the one data interface every generated list, show, edit, delete,
related tab and REST call goes through, rather than in each view's ``base_filters``: FAB's base
filters are fixed when the view class is built (a value can be a function, but FAB evaluates it
per request only for some paths and passes the REST API's ``get`` its own copy) and the lean
single-record path (``ClinicModelApi.get_headless``) skips them on purpose. Lists get one more
filter (``CareScopeFilter``) holding the SQL condition of the acting user; a single record is read
whole and then checked, so a record outside the user's care is a 403 (with the way to break the
glass), not a silent 404, and both leave an audit row."""
from __future__ import annotations

import copy
import math
from datetime import date, datetime, time, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

import sqlalchemy as sa
from flask import current_app
from flask_appbuilder.models.filters import BaseFilter, Filters
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import gettext as _
from sqlalchemy import Enum, Time, inspect as sa_inspect
from sqlalchemy.exc import SQLAlchemyError

from app.fab.actor import acting_user
from app.fab.filters import ClinicFilterConverter
from app.models.types import UTCDateTime, integer_bounds, utcnow
from app.services import access, encounters
from app.services.errors import DomainError, from_database_error
from app.services.settings import ClinicSettings

# Every key here is an INTEGER (32 bits on PostgreSQL): ids run from 1 to this.
MAX_ID = 2**31 - 1
# FAB's list pages offer up to 100 rows; the REST API caps its pages at 100 too.
MAX_PAGE_SIZE = 1000
# Operators whose value is a list of values (``FilterIn``/``FilterNotIn``).
LIST_OPERATORS = {"in", "nin"}
# Plain JSON/query-string values: anything else (a callable, a record) was put there by our code.
CLIENT_TYPES = (str, int, float, bool, list, dict, type(None))


class InvalidQuery(DomainError):
    """A list query the data cannot answer: a filter value its column cannot hold, an unknown
    order column, a negative page. The client's mistake: 400, naming the column."""

    status = 400


def pk_in_range(model: type, pk: Any) -> bool:
    """Whether ``pk`` could be a key of ``model`` at all (ids are positive integers here)."""
    bounds = integer_bounds(sa_inspect(model).primary_key[0].type)
    if bounds is None:
        return True
    if isinstance(pk, bool):
        return False
    try:
        value = int(pk)
    except (TypeError, ValueError, OverflowError):
        return False
    return 0 < value <= bounds[1]


def numeric_bound(column_type: sa.types.TypeEngine) -> Decimal | None:
    """Largest value of a NUMERIC(p, s) column (PostgreSQL refuses more; SQLite stores it anyway)."""
    if isinstance(column_type, sa.Numeric) and not isinstance(column_type, sa.Float):
        if column_type.precision is not None:
            scale = column_type.scale or 0
            return Decimal(10) ** (column_type.precision - scale) - Decimal(1).scaleb(-scale)
    return None


class CareScopeFilter(BaseFilter):
    """Rows the acting user may read (a SQL condition made by ``access.readable_condition``)."""

    name = "care scope"
    arg_name = "care"

    def apply(self, query, value):
        return query.filter(value)


class ClinicInterface(SQLAInterface):
    """FAB's data interface, but a database error becomes a DomainError a person can read."""

    filter_converter_class = ClinicFilterConverter

    def is_folded_text(self, col_name: str) -> bool:
        """Columns holding accent-folded copies of Vietnamese text (``search_text``)."""
        return col_name == "search_text"

    def is_time(self, col_name: str) -> bool:
        column = self.list_columns.get(col_name)
        return column is not None and isinstance(getattr(column, "type", None), Time)

    def get(self, id, filters=None, *args, **kwargs):
        """An id the key column cannot hold (``/show/10**20``) is simply not found: FAB passes it
        to the database, where SQLite raises OverflowError and PostgreSQL "out of range" (500)."""
        if not pk_in_range(self.obj, id):
            return None
        return self._opened(super().get(id, filters, *args, **kwargs))

    def get_one(self, pk: Any) -> Any:
        """The record with key ``pk`` or None, in one plain ``SELECT ... WHERE id = :pk``: what
        ``get`` answers with no filters and no column selection, without FAB's filter objects and
        its ``load_only`` per column (most of the CPU time of a REST GET). Always a statement, as
        ``get``'s query is: a record deleted by another connection is not served from the
        session."""
        if not pk_in_range(self.obj, pk):
            return None
        key = sa_inspect(self.obj).primary_key[0]
        return self._opened(self.session.execute(sa.select(self.obj).where(key == pk)).scalar_one_or_none())

    # --- care-team access (app.services.access) ---------------------------------------------

    def _scoped(self) -> bool:
        return self.obj in access.PATIENT_OWNED and acting_user() is not None

    def _opened(self, item: Any) -> Any:
        """A patient-owned record read in a request: checked and audited (403 when outside the
        user's care). Outside a request (a job, the shell) records are read as they are."""
        if item is not None and self._scoped():
            access.open_record(self.session, acting_user(), item, utcnow())
        return item

    def _care_filters(self, filters: Filters | None) -> Filters | None:
        if not self._scoped():
            return filters
        condition = access.readable_condition(acting_user(), self.obj, utcnow())
        if condition is None:
            return filters
        scoped = filters.copy() if filters is not None else Filters(self.filter_converter_class, self)
        key = sa_inspect(self.obj).primary_key[0].key
        scoped.add_filter(key, CareScopeFilter, condition)
        return scoped

    # FAB 5.3's ``SQLAInterface.add`` re-raises the raw database error (a 500 on the REST API);
    # edit and delete wrap it in DatabaseException with a generic message. Here all three turn a
    # constraint violation into the DomainError that names the field.
    def _write(self, operation: Callable[[Any], Any], item: Any, commit: bool) -> None:
        try:
            operation(item)
            if commit:
                self.session.commit()
        except SQLAlchemyError as exc:
            self.session.rollback()
            raise from_database_error(exc) from exc

    def add(self, item: Any, commit: bool = True) -> None:
        self._check_write(item, new=True)
        self._write(self.session.add, item, commit)

    def edit(self, item: Any, commit: bool = True) -> None:
        self._check_write(item, new=False)  # the record may have been moved to another patient
        self._write(self.session.merge, item, commit)

    def _check_write(self, item: Any, new: bool) -> None:
        if self._scoped():
            with self.session.no_autoflush:
                access.check_write(self.session, acting_user(), item, utcnow(), new)
                # signed records are read-only, drafts are their author's (app.services.encounters)
                encounters.check_generic_write(self.session, acting_user(), item, new)

    def delete(self, item: Any, commit: bool = True) -> None:
        encounters.check_generic_delete(item)  # clinical records are never deleted
        self._write(self.session.delete, item, commit)

    def query(self, filters: Filters | None = None, order_column: str = "", order_direction: str = "",
              page: int | None = None, page_size: int | None = None, *args: Any, **kwargs: Any):
        """Every list (screens, related lists, REST) passes here: check what the client sent
        before FAB turns it into SQL. FAB converts filter values with ``set_value_to_type``, which
        passes unknown choices, naive or out-of-range instants and numbers past 64 bits on to the
        database (500), and uses an unknown order column as raw SQL text (500)."""
        self._check_order(order_column, order_direction)
        check_page(page, page_size)
        if filters is not None and filters.filters:
            filters = copy.copy(filters)
            filters.values = [self._checked_value(flt, value)
                              for flt, value in zip(filters.filters, filters.values, strict=True)]
        filters = self._care_filters(filters)
        count, items = super().query(filters, order_column, order_direction, page, page_size, *args, **kwargs)
        if self._scoped():
            access.record_list_read(self.session, acting_user(), self.obj, items)
        return count, items

    # --- the checks ------------------------------------------------------------------------

    def _check_order(self, column: str | None, direction: str | None) -> None:
        if direction not in (None, "", "asc", "desc"):
            raise InvalidQuery(_("Sort in the order asc or desc."), "order_direction")
        if not column:
            return
        if not isinstance(column, str) or not self._sortable(column):
            raise InvalidQuery(_("Records cannot be sorted by %(column)s.", column=str(column)[:60]),
                               "order_column")

    def _sortable(self, column: str) -> bool:
        root, _dot, leaf = column.partition(".")
        if not leaf:
            return root in self.list_properties or hasattr(getattr(self.obj, root, None), "_col_name")
        return self.is_relation(root) and leaf in sa_inspect(self.get_related_model(root)).attrs

    def _checked_value(self, flt: Any, value: Any) -> Any:
        """A list (screens send every filter as one, FAB applies each item) is checked item by
        item; ``in``/``nin`` take a list of values."""
        if not isinstance(value, CLIENT_TYPES):
            return value  # a base filter's value set in code (a record, a function)
        column = flt.column_name
        if isinstance(value, list):
            return [self._checked_scalar(column, item) for item in value]
        if getattr(flt, "arg_name", "") in LIST_OPERATORS:
            return [self._checked_scalar(column, value)]
        return self._checked_scalar(column, value)

    def _checked_scalar(self, column: str, value: Any) -> Any:
        if isinstance(value, (list, dict)):
            raise InvalidQuery(_("Give one value."), column)
        if self.is_relation(column):
            if self.is_relation_many_to_one(column) or self.is_relation_one_to_one(column) \
                    or self.is_relation_many_to_many(column) or self.is_relation_one_to_many(column):
                if not pk_in_range(self.get_related_model(column), value):
                    raise InvalidQuery(_("Give the id of an existing record."), column)
                return int(value)
            return value
        sql_column = self.list_columns.get(column)
        column_type = getattr(sql_column, "type", None)
        if column_type is None:
            return value
        converter = _converter(column_type)
        return converter(column, value) if converter else value


def check_page(page: Any, page_size: Any) -> None:
    for name, number, low, high in (("page", page, 0, 10**9), ("page_size", page_size, 1, MAX_PAGE_SIZE)):
        if number is None:
            continue
        if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
            raise InvalidQuery(_("Must be between %(low)s and %(high)s.", low=low, high=high), name)


def _converter(column_type: Any) -> Callable[[str, Any], Any] | None:
    if isinstance(column_type, Enum):
        return lambda column, value: _choice(column, value, column_type.enums)
    bounds = integer_bounds(column_type)
    if bounds is not None:
        return lambda column, value: _integer(column, value, bounds)
    if isinstance(column_type, sa.Float):
        return _float
    if isinstance(column_type, sa.Numeric):
        return lambda column, value: _decimal(column, value, numeric_bound(column_type))
    if isinstance(column_type, sa.Boolean):
        return _boolean
    if isinstance(column_type, UTCDateTime) or isinstance(column_type, sa.DateTime):
        return _instant
    if isinstance(column_type, sa.Date):
        return _date
    if isinstance(column_type, Time):
        return _time
    if isinstance(column_type, (sa.String, sa.Text)):
        return _text
    return None


def _choice(column: str, value: Any, choices: list[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise InvalidQuery(_("Choose one of: %(choices)s.", choices=", ".join(choices)), column)
    return value


def _integer(column: str, value: Any, bounds: tuple[int, int]) -> int:
    message = _("Give a whole number between %(low)s and %(high)s.", low=bounds[0], high=bounds[1])
    if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
        raise InvalidQuery(message, column)
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidQuery(message, column) from None
    if not bounds[0] <= number <= bounds[1]:
        raise InvalidQuery(message, column)
    return number


def _float(column: str, value: Any) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if not math.isfinite(number):
        raise InvalidQuery(_("Give a number."), column)
    return number


def _decimal(column: str, value: Any, bound: Decimal | None) -> Decimal:
    try:
        number = Decimal(str(value)) if not isinstance(value, bool) else Decimal("NaN")
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise InvalidQuery(_("Give a number."), column)
    if bound is not None and abs(number) > bound:
        raise InvalidQuery(_("Must be between %(low)s and %(high)s.", low=-bound, high=bound), column)
    return number


def _boolean(column: str, value: Any) -> Any:
    if isinstance(value, (bool, str)):
        return value
    raise InvalidQuery(_("Give true or false."), column)


def _date(column: str, value: Any) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise InvalidQuery(_("Give a date like 2026-12-01."), column)


def _instant(column: str, value: Any) -> datetime:
    """An instant in the clinic's zone when it has no offset, compared in UTC (the columns hold
    aware UTC instants, and refuse naive ones)."""
    message = _("Give a date and time like 2026-12-01T09:00:00+07:00.")
    if not isinstance(value, str):
        raise InvalidQuery(message, column)
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidQuery(message, column) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ClinicSettings.from_config(current_app.config).timezone)
    try:
        return moment.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise InvalidQuery(_("This date is outside the calendar."), column) from None


def _time(column: str, value: Any) -> time:
    if isinstance(value, str):
        try:
            return time.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InvalidQuery(_("Give a time like 09:30."), column)


def _text(column: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InvalidQuery(_("Give a text."), column)
    return str(value)
