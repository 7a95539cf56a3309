"""What every search engine implements (``SearchEngine``), and the values passed to and from it.

An engine stores ``Document``s (already folded text, built by ``app.services.search.kinds``) and
answers a ``Query`` (terms already cleaned by ``app.services.search.query``) with ``Hit``s: kind,
record id and score. It never decides who may read what: the service filters the hits through the
kinds' access rules. An adapter for another engine (Elasticsearch, OpenSearch, Meilisearch)
implements these methods and is chosen in ``app.services.search.engines.make_engine``."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field

OK, MISSING, CORRUPT, INCOMPLETE = "ok", "missing", "corrupt", "incomplete"


class SearchUnavailable(Exception):
    """The index cannot be read (missing or corrupt): the search says so and offers the reindex."""

    def __init__(self, state: str, detail: str = ""):
        super().__init__(f"search index {state}: {detail}" if detail else f"search index {state}")
        self.state = state


@dataclass(frozen=True)
class Document:
    """One searchable record. Texts are folded (``app.services.text.fold``): lower case, no accents."""

    kind: str
    ref_id: int
    names: str = ""  # people's and things' names: typos tolerated (fuzzy / trigram)
    body: str = ""  # other words (a complaint, a diagnosis, an ingredient, a doctor, a date)
    keys: tuple[str, ...] = ()  # exact tokens: codes, phone digits, national ID, invoice number
    patient_id: int | None = None  # whose record it is (the portal's own search)


@dataclass(frozen=True)
class Query:
    """What the person typed, cleaned: ``terms`` (folded words of [0-9a-z]), ``keys`` (whole-query
    forms to match exactly: the compact text, phone digits), the kinds to search, and how many hits
    of each kind. ``patient_id``: only that patient's documents."""

    terms: tuple[str, ...]
    keys: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    limit: int = 5
    patient_id: int | None = None


@dataclass(frozen=True)
class Hit:
    kind: str
    ref_id: int
    score: float = 0.0


@dataclass
class Health:
    state: str  # ok | missing | corrupt | incomplete
    engine: str
    documents: dict[str, int] = field(default_factory=dict)
    detail: str = ""


class SearchEngine(ABC):
    """The one interface of a search engine."""

    name: str = ""

    @abstractmethod
    def index(self, documents: Iterable[Document]) -> int:
        """Add or replace these documents (by kind and ref_id); how many were written."""

    @abstractmethod
    def delete(self, kind: str, ref_ids: Iterable[int]) -> None:
        """Remove these documents, if present."""

    @abstractmethod
    def search(self, query: Query) -> dict[str, list[Hit]]:
        """Up to ``query.limit`` hits per kind of ``query.kinds``, best first. Raises
        ``SearchUnavailable`` when the index cannot be read."""

    @abstractmethod
    def rebuild(self, kind: str, batches: Iterable[list[Document]]) -> int:
        """Remove every document of ``kind`` and write these instead (``flask search reindex``)."""

    @abstractmethod
    def clear(self) -> None:
        """Remove every document of every kind (an empty, healthy index)."""

    def mark_complete(self) -> None:
        """Every kind was rebuilt: the index holds every record (an engine that can tell otherwise
        reports ``incomplete`` until then)."""
        return None  # noqa: B027 - most engines have nothing to mark

    @abstractmethod
    def health(self) -> Health:
        """Whether the index can be read: ok, missing, corrupt or incomplete, with document counts."""
