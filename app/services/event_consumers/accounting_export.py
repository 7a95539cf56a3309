"""accounting-export: ``invoice.paid`` and ``invoice.refunded`` -> one row each in a daily CSV file,
``<ACCOUNTING_EXPORT_DIR>/accounting-YYYY-MM-DD.csv`` (the event's day in UTC; default folder
``instance/exports``), with the event id as the first column.

Applied once under a crash, in this order: (1) the ``consumed_event`` row is flushed (a duplicate
delivery stops there), (2) under an exclusive lock on the file, the row is appended and synced
unless the file already holds that event id, (3) the commit, (4) the ack. A crash between (2) and
(3) leaves the row in the file and none in the database: the redelivery finds the event id in the
file, writes nothing and commits. A crash after (3) is a duplicate delivery. The other orders lose
a row (commit first, crash before the write) or write it twice (write, crash, write again).
The file is read once per process and then only from the offset read last (another process may
append too: the lock orders them).
"""
from __future__ import annotations

import csv
import fcntl
import io
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.services.event_consumers.base import Consumer

COLUMNS = ("event_id", "type", "occurred_at", "invoice_id", "number", "patient_id", "currency", "total",
           "amount_paid", "amount_refunded", "refunded_now")


def export_path(folder: str | Path, event: dict[str, Any]) -> Path:
    day = datetime.fromisoformat(str(event["occurred_at"])).date().isoformat()
    return Path(folder) / f"accounting-{day}.csv"


def csv_row(event: dict[str, Any]) -> list[str]:
    payload = event.get("payload") or {}
    values = {"event_id": event["event_id"], "type": event["type"], "occurred_at": event["occurred_at"],
              **{key: payload.get(key) for key in COLUMNS[3:]}}
    return ["" if values.get(key) is None else str(values[key]) for key in COLUMNS]


class _Seen:
    """The event ids a file holds, read incrementally."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.offset = 0


class AccountingExport(Consumer):
    name = "accounting-export"
    routing_keys = ("invoice.paid", "invoice.refunded")

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.folder = Path(config.get("ACCOUNTING_EXPORT_DIR") or "instance/exports")
        self._seen: dict[Path, _Seen] = {}

    def apply(self, session: Session, event: dict[str, Any]) -> None:
        """Nothing in the database beyond the dedupe row: the file is written in ``before_commit``."""

    def before_commit(self, session: Session, event: dict[str, Any]) -> None:
        append_once(self.folder, event, self._seen)


def _read_new(handle: Any, seen: _Seen) -> None:
    handle.seek(seen.offset)
    data = handle.read()
    complete = data[:data.rfind(b"\n") + 1]  # a half-written last line (a crash mid-write) is ignored
    for line in csv.reader(io.StringIO(complete.decode("utf-8"))):
        if line and line[0] != "event_id":
            seen.ids.add(line[0])
    seen.offset += len(complete)


def append_once(folder: Path, event: dict[str, Any], cache: dict[Path, _Seen]) -> bool:
    """Append the event's row unless the file has it; True when written."""
    path = export_path(folder, event)
    path.parent.mkdir(parents=True, exist_ok=True)
    seen = cache.setdefault(path, _Seen())
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            _read_new(handle, seen)
            if str(event["event_id"]) in seen.ids:
                return False
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            if handle.seek(0, os.SEEK_END) == 0:
                writer.writerow(COLUMNS)
            elif seen.offset != handle.tell():  # a torn last line: start ours on a new line
                out.write("\n")
            writer.writerow(csv_row(event))
            data = out.getvalue().encode("utf-8")
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            seen.offset = handle.tell()
            seen.ids.add(str(event["event_id"]))
            return True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
