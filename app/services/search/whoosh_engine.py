"""The embedded engine: a whoosh (Whoosh-Reloaded) index in files under ``SEARCH_INDEX_DIR``.

Texts arrive folded (no accents, lower case); queries are whoosh query objects built from the
cleaned terms (``app.services.search.query``), never parsed from the person's text. Each word
must match a whole word of the names (counted twice), the body or the keys; the last one typed may also
be the start of a word (``Prefix``: search as you type); the whole text may be a key or its start.
Typos are a second round, only for the kinds the first found nothing in: a word of 3 letters or
more may then be a name's word within one edit sharing its first letter (``FuzzyTerm``), which
keeps the words whoosh expands it to few. One search covers every kind (the best of each kept by
collapsing on the ``kind`` column), on one searcher per process refreshed when the index changed.

Lock errors. whoosh allows one writer at a time per index, guarded by a lock file (``flock``, which
also holds between threads of one process, each writer opening its own descriptor). Every write
here takes the lock with ``ix.writer(timeout=WRITE_TIMEOUT)``: a second writer waits for the first
(whoosh retries every ``delay`` seconds) instead of failing with ``LockError``; a process-wide
``threading.Lock`` lets threads of one process queue without polling. The index jobs all go to
one queue (``app.jobs.search``, queue ``low``), so workers rarely meet at the lock at all; a writer
still waiting after ``WRITE_TIMEOUT`` fails its job, which RQ tries again later. Searches never
take the lock (readers see the last committed state)."""
from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index, query as q
from whoosh.analysis import RegexTokenizer
from whoosh.columns import RefBytesColumn
from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema
from whoosh.scoring import TF_IDF

from app.services.search.base import (
    CORRUPT,
    INCOMPLETE,
    MISSING,
    OK,
    Document,
    Health,
    Hit,
    Query,
    SearchEngine,
    SearchUnavailable,
)

WRITE_TIMEOUT = 30.0  # seconds a writer waits for another to finish
FUZZY_MIN = 3  # letters a word needs before a typo in it is looked for ("vam" -> "van")
FUZZY_PREFIX = 1  # first letters a mistyped word must share with the name (fewer words to expand)
INCOMPLETE_MARK = "NEEDS_REINDEX"  # made with an index created by a write: older records are not in it
# Term frequency (a name's word counts twice) times rarity; BM25's length normalisation read every
# matching document's field length and changed little in lists of names.
WEIGHTING = TF_IDF()
_WORDS = RegexTokenizer(r"[0-9a-z]+")  # texts are folded already: words of letters and digits
_write_lock = threading.Lock()


def schema() -> Schema:
    return Schema(
        key=ID(unique=True),  # "kind:ref_id"
        # A column (one byte a document: a reference to one of the few kinds): the best hits of each
        # kind in one search (collapse), read without loading every document's offset first.
        kind=ID(stored=True, sortable=RefBytesColumn()),
        ref_id=STORED(),
        patient=ID(),
        # Every word of the names (twice: a name's word weighs more than the body's) and the body in
        # one field, one posting list per word to read; the names alone for the typo round.
        text=TEXT(analyzer=_WORDS, phrase=False),
        names=TEXT(analyzer=_WORDS, phrase=False),
        keys=KEYWORD(lowercase=True, commas=False),
    )


def _current_schema(found: Schema) -> bool:
    """Whether an index on disk has this version's fields (the kind as a column included)."""
    return sorted(found.names()) == sorted(schema().names()) and isinstance(found["kind"].column_type, RefBytesColumn)


def _key(kind: str, ref_id: int) -> str:
    return f"{kind}:{ref_id}"


def _fields(doc: Document) -> dict[str, Any]:
    return {"key": _key(doc.kind, doc.ref_id), "kind": doc.kind, "ref_id": doc.ref_id,
            "patient": str(doc.patient_id) if doc.patient_id is not None else "",
            "text": f"{doc.names} {doc.names} {doc.body}", "names": doc.names, "keys": " ".join(doc.keys)}


def _can_be_mistyped(term: str) -> bool:
    """A word a typo is looked for in names: letters only (not a number, a code, a phone's part)
    and at least ``FUZZY_MIN`` of them."""
    return len(term) >= FUZZY_MIN and term.isalpha()


def _term_query(term: str, last: bool, fuzzy: bool) -> q.Query:
    options: list[q.Query] = [q.Term("text", term), q.Term("keys", term, boost=4.0)]
    if last:  # the start of a word: search as you type (the word being typed only)
        options.append(q.Prefix("text", term))
    if fuzzy and _can_be_mistyped(term):  # one typo in a name ("anhh" -> "anh", "vam" -> "van")
        options.append(q.FuzzyTerm("names", term, boost=1.0, maxdist=1, prefixlength=FUZZY_PREFIX))
    return q.Or(options)


def build_query(query: Query, fuzzy: bool = False) -> q.Query | None:
    """The whoosh query of a cleaned ``Query`` (None: nothing to look for): every word required,
    each as a whole word of the names and body (``text``) or a key, the last one also as the start
    of a word; or the whole text as a key (exact, or its start from 4 characters). ``fuzzy``: the
    typo round (also a name's word within one edit sharing its first letter), words only."""
    parts: list[q.Query] = []
    if query.terms:
        last = len(query.terms) - 1
        parts.append(q.And([_term_query(term, i == last, fuzzy) for i, term in enumerate(query.terms)]))
    if not fuzzy:
        parts.extend(q.Term("keys", key, boost=8.0) for key in query.keys)
        parts.extend(q.Prefix("keys", key, boost=4.0) for key in query.keys if len(key) >= 4)
    if not parts:
        return None
    return q.Or(parts)


def needs_typo_round(query: Query) -> bool:
    return any(_can_be_mistyped(term) for term in query.terms)


class WhooshEngine(SearchEngine):
    name = "whoosh"

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)
        self._index: Any = None
        self._lock = threading.Lock()
        self._searcher: Any = None  # one per process, refreshed when the index changed
        self._search_lock = threading.RLock()  # a whoosh searcher is used by one thread at a time

    # --- opening -----------------------------------------------------------------------------------

    def _exists(self) -> bool:
        """Whether an index is there (readable or not: a damaged table of contents counts)."""
        if not self.directory.is_dir():
            return False
        try:
            return bool(whoosh_index.exists_in(str(self.directory)))
        except Exception:  # noqa: BLE001 - whoosh opens the index to tell: there, but unreadable
            return True

    def _open(self) -> Any:
        """The index for reading; ``SearchUnavailable`` when missing or unreadable."""
        if not self._exists():
            raise SearchUnavailable(MISSING, str(self.directory))
        with self._lock:
            if self._index is None:
                try:
                    ix = whoosh_index.open_dir(str(self.directory))
                except Exception as exc:  # noqa: BLE001 - any failure to read the files is a corrupt index
                    raise SearchUnavailable(CORRUPT, repr(exc)) from exc
                if not _current_schema(ix.schema):  # written by an older version: reindex
                    raise SearchUnavailable(CORRUPT, "the index's fields are an older version's")
                self._index = ix
            return self._index

    def _open_for_writing(self) -> Any:
        """The index, created empty when missing (marked incomplete: the records written before are
        not in it until ``flask search reindex``)."""
        if not self._exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            with self._lock:
                self._index = whoosh_index.create_in(str(self.directory), schema())
            (self.directory / INCOMPLETE_MARK).touch()
        return self._open()

    def _writer(self, ix: Any) -> Any:
        return ix.writer(timeout=WRITE_TIMEOUT, delay=0.05)

    def _forget(self) -> None:
        with self._search_lock, self._lock:  # never while another thread searches with it
            self._index = None
            searcher, self._searcher = self._searcher, None
            if searcher is not None:
                try:
                    searcher.close()
                except Exception:  # noqa: BLE001 - files already gone or damaged: nothing left to release
                    pass

    def _current_searcher(self) -> Any:
        """The process's searcher (with ``_search_lock`` held): opened once, and again only when a
        writer (this process or another) committed a new generation since; opening the index and
        its segments for every search cost more than most searches."""
        if not self.directory.is_dir():
            self._forget()
            raise SearchUnavailable(MISSING, str(self.directory))
        if self._searcher is None:
            self._searcher = self._open().searcher(weighting=WEIGHTING)
            return self._searcher
        current = self._searcher
        generation = current._ix.latest_generation()
        if generation < 0:  # the files are gone, the folder is still there
            self._forget()
            raise SearchUnavailable(MISSING, str(self.directory))
        if generation == current.reader().generation():
            return current
        # A new searcher, not ``current.refresh()``: whoosh's refresh reuses the readers of segments
        # by their id and so keeps seeing documents deleted (replaced) since, and an empty index's
        # reader cannot be refreshed at all.
        self._searcher = current._ix.searcher(weighting=WEIGHTING)
        current.close()
        return self._searcher

    # --- SearchEngine ------------------------------------------------------------------------------

    def index(self, documents: Iterable[Document]) -> int:
        documents = list(documents)
        if not documents:
            return 0
        with _write_lock:
            writer = self._writer(self._open_for_writing())
            try:
                for doc in documents:
                    writer.update_document(**_fields(doc))
            except BaseException:
                writer.cancel()
                raise
            _commit(writer)
        return len(documents)

    def delete(self, kind: str, ref_ids: Iterable[int]) -> None:
        ref_ids = list(ref_ids)
        if not ref_ids or not self._exists():
            return
        with _write_lock:
            writer = self._writer(self._open())
            try:
                for ref_id in ref_ids:
                    writer.delete_by_term("key", _key(kind, ref_id))
            except BaseException:
                writer.cancel()
                raise
            _commit(writer)

    def search(self, query: Query) -> dict[str, list[Hit]]:
        """One search for every kind (the best ``limit`` of each kept by collapsing on the kind),
        then, for the kinds it found nothing in, one typo round (``build_query(fuzzy=True)``)."""
        found: dict[str, list[Hit]] = {kind: [] for kind in query.kinds}
        wanted = build_query(query)
        if wanted is None or not query.kinds:
            return found
        try:
            with self._search_lock:
                searcher = self._current_searcher()
                self._collect(searcher, wanted, query, query.kinds, found)
                missing = [kind for kind, hits in found.items() if not hits]
                typos = build_query(query, fuzzy=True) if missing and needs_typo_round(query) else None
                if typos is not None:
                    self._collect(searcher, typos, query, missing, found)
        except SearchUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - unreadable segment files: a corrupt index
            self._forget()
            raise SearchUnavailable(CORRUPT, repr(exc)) from exc
        return found

    @staticmethod
    def _collect(searcher: Any, wanted: q.Query, query: Query, kinds: Iterable[str],
                 found: dict[str, list[Hit]]) -> None:
        kinds = list(kinds)
        parts: list[q.Query] = [wanted]
        present = {kind.decode() if isinstance(kind, bytes) else str(kind) for kind in searcher.lexicon("kind")}
        if not present <= set(kinds):  # other kinds in the index: keep to these (else no filter to pay for)
            parts.append(q.Or([q.Term("kind", kind) for kind in kinds]))
        if query.patient_id is not None:
            parts.append(q.Term("patient", str(query.patient_id)))
        results = searcher.search(q.And(parts) if len(parts) > 1 else wanted, limit=query.limit * len(kinds),
                                  collapse="kind", collapse_limit=query.limit)
        for result in results:
            hits = found.get(result["kind"])
            if hits is not None:
                hits.append(Hit(result["kind"], int(result["ref_id"]), float(result.score or 0.0)))

    def rebuild(self, kind: str, batches: Iterable[list[Document]]) -> int:
        written = 0
        with _write_lock:
            ix = self._open_for_writing()
            writer = self._writer(ix)
            try:
                writer.delete_by_term("kind", kind)
                for batch in batches:
                    for doc in batch:
                        writer.add_document(**_fields(doc))
                    written += len(batch)
            except BaseException:
                writer.cancel()
                raise
            writer.commit(optimize=False)
        return written

    def clear(self) -> None:
        """A new, empty index (also the cure of a corrupt one)."""
        with _write_lock:
            self._forget()
            if self.directory.exists():
                shutil.rmtree(self.directory)
            self.directory.mkdir(parents=True, exist_ok=True)
            whoosh_index.create_in(str(self.directory), schema())

    def mark_complete(self) -> None:
        (self.directory / INCOMPLETE_MARK).unlink(missing_ok=True)

    def health(self) -> Health:
        try:
            ix = self._open()
            counts: dict[str, int] = {}
            with ix.searcher() as searcher:
                for kind in searcher.lexicon("kind"):
                    name = kind.decode() if isinstance(kind, bytes) else str(kind)
                    counts[name] = searcher.doc_frequency("kind", name)
        except SearchUnavailable as exc:
            return Health(exc.state, self.name, detail=str(exc))
        except Exception as exc:  # noqa: BLE001
            self._forget()
            return Health(CORRUPT, self.name, detail=repr(exc))
        state = INCOMPLETE if (self.directory / INCOMPLETE_MARK).exists() else OK
        return Health(state, self.name, counts)


def _commit(writer: Any) -> None:
    """Commit, and never leave the index's write lock held: a commit that fails (the folder
    removed or damaged meanwhile) releases it, or every later writer of this process would wait
    for it in vain (whoosh's lock is held by the writer until commit or cancel)."""
    try:
        writer.commit()
    except BaseException:
        try:
            writer.cancel()
        except Exception:  # noqa: BLE001 - already released, or the files are gone
            pass
        try:
            writer.writelock.release()
        except Exception:  # noqa: BLE001
            pass
        raise
