"""Many rows in one statement, for the jobs that write thousands at once (the reminder job).

On PostgreSQL the rows go as one array per column through ``unnest``: a statement of a few
parameters whatever the number of rows. SQLAlchemy's own bulk insert there ("insertmanyvalues")
writes ``VALUES (...), (...)`` with a parameter per value, and the driver then scans that long SQL
text for placeholders at every execution: measured, that scan was a third of the reminder job's
time. SQLite takes SQLAlchemy's insert; another database one savepoint per row.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

_PG = postgresql.dialect()


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


@functools.lru_cache(maxsize=64)
def _unnest_insert(table: sa.Table, names: tuple[str, ...], returning: tuple[str, ...]) -> sa.TextClause:
    casts = ", ".join(f"CAST(:{name} AS {table.c[name].type.compile(dialect=_PG)}[])" for name in names)
    columns = ", ".join(f'"{name}"' for name in names)
    back = ", ".join(f'"{name}"' for name in returning)
    return sa.text(f'INSERT INTO "{table.name}" ({columns}) SELECT * FROM unnest({casts}) '
                   f"ON CONFLICT DO NOTHING RETURNING {back}")


def _array(table: sa.Table, name: str, rows: Sequence[dict[str, Any]]) -> list[Any]:
    values = [row.get(name) for row in rows]
    if isinstance(table.c[name].type, sa.JSON):
        return [None if value is None else json.dumps(value) for value in values]
    return values


def insert_ignoring_duplicates(session: Session, model: type, rows: Sequence[dict[str, Any]],
                               returning: Sequence[str]) -> list[sa.Row[Any]]:
    """Insert ``rows`` (dicts of column values, all with the same keys); a row whose unique key
    exists already (another process's) is left out. Returns the ``returning`` columns of the rows
    inserted, in no particular order."""
    if not rows:
        return []
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    dialect = _dialect(session)
    if dialect == "postgresql":
        names = tuple(rows[0])
        statement = _unnest_insert(table, names, tuple(returning))
        return list(session.execute(statement, {name: _array(table, name, rows) for name in names}))
    columns = [table.c[name] for name in returning]
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return list(session.execute(sqlite.insert(table).on_conflict_do_nothing().returning(*columns), list(rows)))
    inserted = []  # other databases: one savepoint per row
    for row in rows:
        try:
            with session.begin_nested():
                inserted.append(session.execute(sa.insert(table).returning(*columns), [row]).one())
        except IntegrityError:
            continue
    return inserted


@functools.lru_cache(maxsize=16)
def _unnest_update(table: sa.Table, column: str) -> sa.TextClause:
    kind = table.c[column].type.compile(dialect=_PG)
    return sa.text(f'UPDATE "{table.name}" SET "{column}" = v.value '
                   f"FROM unnest(CAST(:ids AS INTEGER[]), CAST(:values AS {kind}[])) AS v(id, value) "
                   f'WHERE "{table.name}".id = v.id')


def set_by_id(session: Session, model: type, column: str, values: dict[int, Any]) -> None:
    """``column`` of each row ``id`` set to ``values[id]``: one statement on PostgreSQL."""
    if not values:
        return
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    if _dialect(session) == "postgresql":
        ids = list(values)
        session.execute(_unnest_update(table, column), {"ids": ids, "values": [values[i] for i in ids]})
        return
    session.execute(sa.update(table).where(table.c.id == sa.bindparam("b_id"))
                    .values({column: sa.bindparam("b_value")}),
                    [{"b_id": key, "b_value": value} for key, value in values.items()])
