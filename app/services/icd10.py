"""The ICD-10 code table: loading it from a clinic's CSV file, searching it as the doctor types,
and reading one code.

The search matches the code and both titles with accents and case ignored ("viem hong" finds
"Viêm họng", "J06" finds J06.x, "pharyngitis" finds J02.9), best first: the exact code, then codes
starting with what was typed, then titles with the words as typed at the start of a word, then
titles holding every word (a word of five letters or more also inside another word). Each row
keeps a folded copy of code and titles (``search_text``) that the queries match; PostgreSQL
answers them from indexes (a pattern index on the code, a trigram index on the folded text:
migration 0014_dx).
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from flask_babel import gettext as _
from sqlalchemy import and_, case, insert, or_, select, update
from sqlalchemy.orm import Session

from app.models.icd10 import Icd10Code
from app.services.errors import committing
from app.services.text import fold

CODE_PATTERN = re.compile(r"[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?")
HEADER = ("code", "title_en", "title_vi")
TITLE_MAX = 300
QUERY_MAX = 100
LIMIT_MAX = 50
SUBSTRING_MIN = 5  # letters a typed word needs to be matched inside other words
_NOT_A_WORD = re.compile(r"[^0-9a-z.]+")
# What may start a code as typed: a letter, then digits, an optional dot and more (``J06``, ``j06.9``, ``J069``).
_CODE_PREFIX = re.compile(r"[A-Z](?:[0-9]{1,2}(?:\.?[0-9A-Z]{0,4})?)?")


def words_of(text: str | None) -> list[str]:
    """Folded words of ``text`` (lower case, no accents, punctuation as spaces; dots kept for codes)."""
    return [w for w in _NOT_A_WORD.sub(" ", fold(text)).split() if w.strip(".")]


def search_text(code: str, title_en: str, title_vi: str) -> str:
    """The folded copy a row is searched by: `` j02.9 acute pharyngitis unspecified viem hong cap ... ``
    (a space before and after every word, so a word start is "`` <word>``")."""
    return " " + " ".join(words_of(code) + words_of(title_en) + words_of(title_vi)) + " "


def normalize_code(value: str | None) -> str:
    return re.sub(r"\s+", "", value or "").upper()


def title(entry: Icd10Code, language: str | None) -> str:
    """The title in the user's language (Vietnamese for ``vi``, else English)."""
    return entry.title_vi if (language or "").lower().startswith("vi") else entry.title_en


def get(session: Session, code: str | None) -> Icd10Code | None:
    """The table's entry for ``code`` (case and spaces ignored), or None."""
    normalized = normalize_code(code)
    if not normalized or len(normalized) > 10:
        return None
    return session.execute(select(Icd10Code).where(Icd10Code.code == normalized)).scalar_one_or_none()


def _code_prefix(query: str) -> str | None:
    """What was typed read as the start of a code (``j069`` -> ``J06.9``), or None."""
    candidate = normalize_code(query)
    if not candidate or len(candidate) > 8 or not _CODE_PREFIX.fullmatch(candidate):
        return None
    if len(candidate) > 3 and candidate[3] != ".":
        candidate = candidate[:3] + "." + candidate[3:]
    return candidate


def _word_pattern(word: str) -> str:
    """A short word matches at the start of a word only ("hong" must not find every "không"); a
    longer one anywhere ("pharyngitis" finds "nasopharyngitis", ranked after the word starts)."""
    return f"%{word}%" if len(word) >= SUBSTRING_MIN else f"% {word}%"


def search(session: Session, query: str | None, limit: int = 20) -> list[Icd10Code]:
    """Codes matching ``query`` by code or by the words of either title, best first (see the module)."""
    text = (query or "").strip()[:QUERY_MAX]
    limit = max(1, min(int(limit), LIMIT_MAX))
    words = words_of(text)
    prefix = _code_prefix(text)
    if prefix is not None and (len(prefix) == 1 or any(ch.isdigit() for ch in prefix)):
        words = []  # a code as typed ("J06", "i10.", "K"): the code index answers it alone
    if not words and prefix is None:
        return []
    conditions: list[Any] = []
    if prefix is not None:
        conditions.append(Icd10Code.code.like(prefix + "%"))
    if words:
        conditions.append(and_(*[Icd10Code.search_text.like(_word_pattern(w)) for w in words]))
    ranks: list[Any] = []
    if prefix is not None:
        ranks += [(Icd10Code.code == prefix, 0), (Icd10Code.code.like(prefix + "%"), 1)]
    if words:
        ranks += [(Icd10Code.search_text.like("% " + " ".join(words) + "%"), 2),
                  (and_(*[Icd10Code.search_text.like(f"% {w}%") for w in words]), 3)]
    rank = case(*ranks, else_=4)
    statement = select(Icd10Code).where(or_(*conditions)).order_by(rank, Icd10Code.code).limit(limit)
    return list(session.execute(statement).scalars())


# Loading -------------------------------------------------------------------------------------


@dataclass
class LoadReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, message)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class _Row:
    line: int
    code: str
    title_en: str
    title_vi: str


def _decode(data: bytes, report: LoadReport) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        report.errors.append((line, _("The file is not UTF-8 text.")))
        return None


def read_rows(data: bytes, report: LoadReport) -> list[_Row]:
    """The CSV's rows, checked; every broken row is reported in ``report`` with its line number."""
    text = _decode(data, report)
    if text is None:
        return []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        report.errors.append((1, str(exc)))
        return []
    if header is None or tuple(h.strip().lower() for h in header) != HEADER:
        report.errors.append((1, _("The first line must be the header: %(header)s.", header=",".join(HEADER))))
        return []
    rows: list[_Row] = []
    first_line: dict[str, int] = {}
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            report.errors.append((reader.line_num, str(exc)))
            break
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        if len(cells) != 3:
            report.errors.append((line, _("Expected 3 columns (code, title_en, title_vi), found %(n)d.",
                                          n=len(cells))))
            continue
        code, title_en, title_vi = (normalize_code(cells[0]), cells[1].strip(), cells[2].strip())
        problems = []
        if not CODE_PATTERN.fullmatch(code):
            problems.append(_("“%(code)s” is not an ICD-10 code (like J06.9).", code=cells[0].strip()))
        for name, value in (("title_en", title_en), ("title_vi", title_vi)):
            if not value:
                problems.append(_("%(column)s is empty.", column=name))
            elif len(value) > TITLE_MAX:
                problems.append(_("%(column)s is longer than %(n)d characters.", column=name, n=TITLE_MAX))
            elif "\x00" in value:
                problems.append(_("%(column)s contains characters that are not allowed.", column=name))
        if code in first_line:
            problems.append(_("%(code)s is already on line %(line)d.", code=code, line=first_line[code]))
        if problems:
            report.errors.append((line, " ".join(problems)))
            continue
        first_line[code] = line
        rows.append(_Row(line, code, title_en, title_vi))
    return rows


def load_codes(session: Session, source: bytes | IO[bytes]) -> LoadReport:
    """Add or update the codes of a CSV file (header ``code,title_en,title_vi``, UTF-8, a BOM is
    fine) in one transaction. Any broken row: nothing is written and every error is reported
    with its line number. Codes already in the table and not in the file stay."""
    data = source if isinstance(source, bytes) else source.read()
    report = LoadReport()
    rows = read_rows(data, report)
    if not report.ok:
        return report
    if not rows:
        report.errors.append((2, _("The file has no codes.")))
        return report
    with committing(session):
        _upsert(session, rows, report)
    return report


SAMPLE_CSV = Path(__file__).parent / "demo_data" / "icd10_sample.csv"


def load_sample(session: Session) -> int:
    """Add or update the shipped sample of common codes (``demo_data/icd10_sample.csv``), for the
    demo seed and the tests. Does not commit; returns how many codes the sample has."""
    report = LoadReport()
    rows = read_rows(SAMPLE_CSV.read_bytes(), report)
    if not report.ok:  # the shipped file is checked by the tests: this is a broken checkout
        raise ValueError(f"{SAMPLE_CSV}: {report.errors[:3]}")
    _upsert(session, rows, report)
    return len(rows)


def _upsert(session: Session, rows: list[_Row], report: LoadReport) -> None:
    table = Icd10Code.__table__
    existing = {code: (title_en, title_vi) for code, title_en, title_vi in session.execute(
        select(Icd10Code.code, Icd10Code.title_en, Icd10Code.title_vi))}
    new = []
    for row in rows:
        values = {"code": row.code, "title_en": row.title_en, "title_vi": row.title_vi,
                  "search_text": search_text(row.code, row.title_en, row.title_vi)}
        if row.code not in existing:
            new.append(values)
            report.added += 1
        elif existing[row.code] != (row.title_en, row.title_vi):
            session.execute(update(table).where(table.c.code == row.code).values(**values))
            report.updated += 1
        else:
            report.unchanged += 1
    for start in range(0, len(new), 1000):
        session.execute(insert(table), new[start:start + 1000])
