"""SQL Server: no server can run here, so every table's DDL is compiled with SQLAlchemy's mssql
dialect, which needs no driver (no pyodbc, no libodbc). Only the last test loads the pyodbc
driver itself. See the README's known limits."""
from __future__ import annotations

import pytest
from flask_appbuilder import Model
from sqlalchemy import create_engine
from sqlalchemy.dialects import mssql
from sqlalchemy.schema import CreateIndex, CreateTable

import app.models  # noqa: F401


def sql_server_2012_plus() -> mssql.dialect:
    """What a connection to SQL Server 2012 or later sets: NVARCHAR(max), not the deprecated NTEXT."""
    return mssql.dialect(deprecate_large_types=True)


def test_every_table_compiles_for_sql_server():
    dialect = sql_server_2012_plus()
    for table in Model.metadata.sorted_tables:
        ddl = str(CreateTable(table).compile(dialect=dialect))
        assert ddl.startswith("\nCREATE TABLE") and table.name in ddl
        for index in table.indexes:
            str(CreateIndex(index).compile(dialect=dialect))


def test_patient_text_is_unicode_on_sql_server():
    ddl = str(CreateTable(Model.metadata.tables["patient"]).compile(dialect=sql_server_2012_plus()))
    for column in ("full_name NVARCHAR(150)", "address NVARCHAR(300)", "allergies NVARCHAR(max)"):
        assert column in ddl
    appointment = str(CreateTable(Model.metadata.tables["appointment"]).compile(dialect=sql_server_2012_plus()))
    assert "start_at DATETIMEOFFSET NOT NULL" in appointment


@pytest.mark.needs_odbc
def test_mssql_pyodbc_urls_are_accepted():
    import pyodbc  # the driver SQL Server URLs name; importing it needs the system's libodbc

    engine = create_engine(
        "mssql+pyodbc://clinic:secret@db.example/clinic?driver=FreeTDS&TDS_Version=7.4", module=pyodbc
    )
    assert engine.dialect.name == "mssql" and engine.dialect.driver == "pyodbc"
