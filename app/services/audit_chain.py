"""The audit trail's hash chain: every ``audit_event`` row carries its position ``seq`` (1, 2, 3, ...
without gaps) and ``hash`` = SHA-256 of the previous row's hash and this row's fields, so a row
changed or deleted afterwards breaks the chain at that row (``flask audit verify``).

The hashed text (the same in Python and in PostgreSQL's ``audit_event_hash``)::

    <previous hash>|<seq>|<at>|<user_id>|<action>|<entity>|<entity_id>|<ip>|<details>

where the first row's previous hash is 64 zeros, ``at`` is the UTC instant as
``YYYY-MM-DDTHH:MM:SS.ffffff``, and each field after ``seq`` is ``~`` when NULL, else
``<length in characters>:<text>`` (a length prefix: no value can pass for two fields). UTF-8.

Who writes the links:
- PostgreSQL: the database, at commit (a deferred constraint trigger, migration 0006_audit_chain), so every
  insert, including the booking's one-statement CTE, is chained without a round trip of its own.
  The trigger links rows only while holding a transaction-level advisory lock (AUDIT_CHAIN_LOCK, 0),
  taken with ``pg_try_advisory_xact_lock``: the holder links every row not linked yet (its own
  and those committed meanwhile by others), a transaction that finds the lock taken commits
  without waiting and its rows are linked by the next holder. Two transactions therefore never
  link to the same row, commits do not queue behind one another's disk flush (booking throughput),
  and since linking runs at commit, no lock is awaited while holding this one (no deadlock with row
  or booking locks). A unique ``seq`` is the last guard: a fork would fail the commit. Rows waiting
  for their link are protected like the others (no UPDATE or DELETE) and are reported by
  ``verify_chain``, which first writes its own "verify" row so that they get linked.
- Other databases (SQLite): ``link_rows`` in Python, under the database's write lock (SQLite has
  one writer at a time).
The same trigger migration refuses UPDATE, DELETE and TRUNCATE of ``audit_event`` on PostgreSQL.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session

from app.models import AuditEvent

GENESIS = "0" * 64
AUDIT_CHAIN_LOCK = 7302  # PostgreSQL advisory lock class: (AUDIT_CHAIN_LOCK, 0) = the chain's head
_TABLE = AuditEvent.__table__
# A write to the table that changes nothing: SQLite takes its write lock for it (and keeps it to commit).
_SQLITE_WRITE_LOCK = text("UPDATE audit_event SET id = id WHERE id IS NULL")


def _part(value: Any) -> str:
    if value is None:
        return "~"
    value = str(value)
    return f"{len(value)}:{value}"


def instant_text(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")


def row_hash(previous: str, seq: int, row: Any) -> str:
    """``row``: a mapping or an object with the audit row's fields."""
    get: Any = row.get if isinstance(row, dict) else (lambda name: getattr(row, name))
    text_ = "|".join([previous, str(seq), _part(instant_text(get("at"))), _part(get("user_id")), _part(get("action")),
                      _part(get("entity")), _part(get("entity_id")), _part(get("ip")), _part(get("details"))])
    return hashlib.sha256(text_.encode("utf-8")).hexdigest()


def database_links(connection: Connection) -> bool:
    """True where the database chains rows itself (PostgreSQL, migration 0006_audit_chain)."""
    return connection.dialect.name == "postgresql"


def link_rows(connection: Connection, rows: Iterable[dict]) -> list[dict]:
    """The rows with their ``seq`` and ``hash``, continuing the chain's head (databases that do not
    link rows themselves). Takes the write lock first, so no other writer moves the head before
    this transaction commits."""
    rows = list(rows)
    if not rows or database_links(connection):
        return rows
    if connection.dialect.name == "sqlite":
        connection.execute(_SQLITE_WRITE_LOCK)
    head = connection.execute(select(_TABLE.c.seq, _TABLE.c.hash).where(_TABLE.c.seq.is_not(None))
                              .order_by(_TABLE.c.seq.desc()).limit(1)).first()
    seq, previous = (head.seq, head.hash) if head is not None else (0, GENESIS)
    linked = []
    for row in rows:
        seq += 1
        previous = row_hash(previous, seq, row)
        linked.append({**row, "seq": seq, "hash": previous})
    return linked


@dataclass(frozen=True)
class ChainBreak:
    row_id: int
    seq: int | None
    problem: str


@dataclass(frozen=True)
class ChainReport:
    rows: int  # rows checked
    broken: ChainBreak | None
    waiting: int = 0  # PostgreSQL: rows committed while another transaction linked, not linked yet

    @property
    def intact(self) -> bool:
        return self.broken is None


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Walk the chain in order and report the first broken link: a row whose fields or hash no
    longer match (changed after it was written), a gap in the positions (rows deleted before that
    row), or a row outside the chain. Reads in batches by position (any size of trail).
    Not detectable from the chain alone: removing the newest rows (the head) cleanly."""
    connection = session.connection()
    expected, previous, checked, after = 1, GENESIS, 0, 0
    while True:
        rows = connection.execute(select(_TABLE).where(_TABLE.c.seq > after).order_by(_TABLE.c.seq)
                                  .limit(batch)).all()
        for row in rows:
            if row.seq != expected:
                missing = f"{expected}" if row.seq == expected + 1 else f"{expected} to {row.seq - 1}"
                return ChainReport(checked, ChainBreak(row.id, row.seq, (
                    f"chain positions {missing} are missing before this row: rows were deleted")))
            if row.hash != row_hash(previous, row.seq, row):
                return ChainReport(checked, ChainBreak(row.id, row.seq, (
                    "the row's fields or hash do not match its link: it was changed after it was written")))
            checked += 1
            expected, previous, after = row.seq + 1, row.hash, row.seq
        if len(rows) < batch:
            break
    loose, waiting = connection.execute(select(func.min(_TABLE.c.id), func.count(_TABLE.c.id))
                                        .where(_TABLE.c.seq.is_(None))).one()
    if loose is not None and not database_links(connection):
        return ChainReport(checked, ChainBreak(loose, None, "the row has no place in the chain (written around it)"))
    return ChainReport(checked, None, waiting)


def verify_audit_trail(session: Session) -> ChainReport:
    """``flask audit verify``: record the check itself (its commit links rows still waiting for
    their link, on PostgreSQL), then walk the chain. Commits."""
    from app.audit import record_event

    record_event(session, "verify", "AuditTrail")
    session.commit()
    report = verify_chain(session)
    session.rollback()
    return report


# --- PostgreSQL: the database links the rows and refuses changes (migration 0006_audit_chain) --------------
# Kept next to ``row_hash``: both must hash the same text. A change here needs a new migration.

_SAME_FIELDS = " AND ".join(f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in (
    "id", "user_id", "at", "action", "entity", "entity_id", "ip", "details"))

POSTGRES_DDL = [
    """CREATE FUNCTION audit_event_part(value text) RETURNS text LANGUAGE sql IMMUTABLE AS
    $$ SELECT CASE WHEN value IS NULL THEN '~' ELSE length(value) || ':' || value END $$""",
    """CREATE FUNCTION audit_event_hash(previous text, seq bigint, at timestamptz, user_id integer, action text,
                                        entity text, entity_id text, ip text, details text)
    RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(concat_ws('|', previous, seq::text,
        audit_event_part(to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')),
        audit_event_part(user_id::text), audit_event_part(action), audit_event_part(entity),
        audit_event_part(entity_id), audit_event_part(ip), audit_event_part(details)), 'UTF8')), 'hex') $$""",
    # At commit (deferred): whoever gets the chain's lock links every row not linked yet (its own
    # and those of transactions that committed while another held the lock), in id order, after
    # the head. A transaction that finds the lock taken does not wait: its rows stay unlinked
    # until the next one links them. So commits never queue behind each other's disk flush (the
    # booking benchmark), and still no two rows can take one place. VOLATILE: the SELECTs after the
    # lock see what the previous holder committed.
    f"""CREATE FUNCTION audit_event_link() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE head_seq bigint; head_hash text; pending record;
    BEGIN
        IF NOT pg_try_advisory_xact_lock({AUDIT_CHAIN_LOCK}, 0) THEN
            RETURN NULL;
        END IF;
        IF (SELECT e.seq FROM audit_event e WHERE e.id = NEW.id) IS NOT NULL THEN
            RETURN NULL;  -- linked already, with an earlier row of this transaction
        END IF;
        SELECT e.seq, e.hash INTO head_seq, head_hash FROM audit_event e
            WHERE e.seq IS NOT NULL ORDER BY e.seq DESC LIMIT 1;
        head_seq := COALESCE(head_seq, 0);
        head_hash := COALESCE(head_hash, '{GENESIS}');
        FOR pending IN SELECT * FROM audit_event e WHERE e.seq IS NULL ORDER BY e.id LOOP
            head_seq := head_seq + 1;
            head_hash := audit_event_hash(head_hash, head_seq, pending.at, pending.user_id, pending.action,
                                          pending.entity, pending.entity_id, pending.ip, pending.details);
            UPDATE audit_event SET seq = head_seq, hash = head_hash WHERE id = pending.id;
        END LOOP;
        RETURN NULL;
    END $$""",
    """CREATE CONSTRAINT TRIGGER audit_event_link AFTER INSERT ON audit_event
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_event_link()""",
    # Refuses every UPDATE, DELETE and TRUNCATE, for every role, the table's owner and superusers
    # included; the one exception is the link above filling in a new row's seq and hash.
    f"""CREATE FUNCTION audit_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND TG_LEVEL = 'ROW' THEN
            IF pg_trigger_depth() > 1 AND OLD.seq IS NULL AND OLD.hash IS NULL AND NEW.seq IS NOT NULL
                    AND NEW.hash IS NOT NULL AND {_SAME_FIELDS} THEN
                RETURN NEW;
            END IF;
        END IF;
        RAISE EXCEPTION 'the audit trail is append-only: % on audit_event refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END $$""",
    """CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change()""",
    """CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_change()""",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event",
    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event",
    "DROP TRIGGER IF EXISTS audit_event_link ON audit_event",
    "DROP FUNCTION IF EXISTS audit_event_refuse_change()",
    "DROP FUNCTION IF EXISTS audit_event_link()",
    "DROP FUNCTION IF EXISTS audit_event_hash(text, bigint, timestamptz, integer, text, text, text, text, text)",
    "DROP FUNCTION IF EXISTS audit_event_part(text)",
]
