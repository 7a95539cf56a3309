"""A figure's table as CSV and XLSX (openpyxl). The caller gives the column headers and the cell
values already translated (a choice code as its label); numbers stay numbers: the CSV writes them
plainly (ISO dates, a point for decimals, percentages as percent) so any spreadsheet reads them, the
XLSX keeps them typed with a display format (dd/mm/yyyy dates, thousands, percent)."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from app.services.dashboards.figures import FigureData

HIDDEN = "hidden"


@dataclass(frozen=True)
class Table:
    title: str
    headers: list[str]
    kinds: list[str]
    rows: list[list[Any]]


def table(data: FigureData, title: str, headers: dict[str, str], choice: Any, period: Any = None) -> Table:
    """``data`` as shown: hidden columns dropped, a text cell whose row marks it a choice translated
    by ``choice(code)``, the period column as ``period(first day)`` (its label, "11/2026") when
    given, else the bucket's first day (a date: the downloads)."""
    keep = [i for i, (_key, kind) in enumerate(data.columns) if kind != HIDDEN]
    label_kind = next((i for i, (key, _kind) in enumerate(data.columns) if key == "label_kind"), None)
    rows = []
    for row in data.rows:
        cells = []
        for i in keep:
            key, kind = data.columns[i]
            value = row[i]
            if kind == "period" and period is not None:
                value = period(value)
            elif kind == "text" and label_kind is not None and row[label_kind] == "choice":
                value = choice(value)
            cells.append(value)
        rows.append(cells)
    return Table(title, [headers.get(data.columns[i][0], data.columns[i][0]) for i in keep],
                 [data.columns[i][1] for i in keep], rows)


def _csv_cell(value: Any, kind: str) -> Any:
    if value is None:
        return ""
    if kind == "percent":
        return f"{float(value) * 100:.1f}"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def csv_bytes(result: Table) -> bytes:
    """UTF-8 with a byte-order mark (Excel then reads Vietnamese right), comma-separated."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(result.headers)
    for row in result.rows:
        writer.writerow([_csv_cell(value, kind) for value, kind in zip(row, result.kinds, strict=True)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


FORMATS = {"period": "dd/mm/yyyy", "money": "#,##0", "percent": "0.0%", "minutes": "0.0", "hours": "0.00",
           "rating": "0.00", "count": "0", "quantity": "#,##0"}


def xlsx_bytes(result: Table, sheet: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    ws = book.active
    ws.title = sheet[:31]
    ws.append([result.title])
    ws["A1"].font = Font(bold=True)
    ws.append(result.headers)
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for row in result.rows:
        ws.append([float(v) if isinstance(v, Decimal) else v for v in row])
        for cell, kind in zip(ws[ws.max_row], result.kinds, strict=True):
            if kind in FORMATS:
                cell.number_format = FORMATS[kind]
    for i, header in enumerate(result.headers, start=1):
        width = max([len(str(header))] + [len(str(row[i - 1])) for row in result.rows]) + 2
        ws.column_dimensions[ws.cell(row=2, column=i).column_letter].width = min(width, 50)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
