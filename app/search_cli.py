"""Search commands: ``flask search reindex [--kind K]`` (rebuild the index from the database, with
a progress bar: after an upgrade, a restore, or when the search says the index is missing or
corrupt) and ``flask search status`` (the engine, its state and its documents per kind)."""
from __future__ import annotations

import click
from flask import Flask

from app.extensions import db


def register(app: Flask) -> None:
    @app.cli.group("search")
    def search_group() -> None:
        """The search index."""

    @search_group.command("reindex")
    @click.option("--kind", type=click.Choice(sorted(_kinds())), help="Only this kind (default: every kind).")
    @click.option("--batch", default=1000, show_default=True, type=click.IntRange(1, 100_000),
                  help="Records read and written at a time.")
    def reindex(kind: str | None, batch: int) -> None:
        """Rebuild the search index from the database (every kind, or --kind)."""
        from app.services import search

        engine = search.make_engine(app.config, db.engine)
        names = [kind] if kind else list(search.KINDS)
        total = sum(search.count(db.session, name) for name in names)
        with click.progressbar(length=total, label=f"Indexing ({engine.name})", show_pos=True) as bar:
            counts = search.reindex(db.session, engine, kind, batch=batch, progress=bar.update)
        db.session.rollback()
        click.echo(", ".join(f"{name}: {count}" for name, count in counts.items()))

    @search_group.command("status")
    def status() -> None:
        """The search engine, whether its index can be read, and its documents per kind (exit code 1
        when it is missing or corrupt)."""
        from app.services import search

        health = search.health(search.make_engine(app.config, db.engine))
        counts = ", ".join(f"{name}: {count}" for name, count in sorted(health.documents.items())) or "no documents"
        click.echo(f"{health.engine}: {health.state} ({counts})")
        if health.detail:
            click.echo(health.detail, err=True)
        if health.state in ("missing", "corrupt"):
            raise SystemExit(1)


def _kinds() -> list[str]:
    from app.services.search import KINDS

    return list(KINDS)
