"""What earlier runs left for this one: stored URLs and feed/sitemap validators.

Read once when the spider starts (in a worker thread, off the reactor) and
written once when it closes. A run killed before closing loses only its new
validators, so the next run fetches those feeds in full: the safe direction.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crawler.sanitize import clean_text
from models import Article, FetchState
from models.db import make_engine


def load_state(database_url: str, with_known_urls: bool) -> tuple[set[str], dict[str, tuple[str | None, str | None]]]:
    """(URLs of stored articles, {feed or sitemap URL: (ETag, Last-Modified)})."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            known: set[str] = set()
            if with_known_urls:
                for url, canonical in session.execute(select(Article.url, Article.canonical_url)):
                    known.add(url)
                    known.add(canonical)
            validators = {
                url: (etag, modified)
                for url, etag, modified in session.execute(select(FetchState.url, FetchState.etag, FetchState.last_modified))
            }
    finally:
        engine.dispose()
    return known, validators


def _storable(value: str | None, chars: int) -> bool:
    return value is None or (len(value) <= chars and clean_text(value) == value)


def save_validators(database_url: str, validators: dict[str, tuple[str | None, str | None]]) -> None:
    if not validators:
        return
    now = dt.datetime.now(dt.timezone.utc)
    # A validator that does not fit its column (or holds a NUL) is not kept: the next run
    # then fetches that feed in full, the safe direction. Truncating it would never match.
    rows = [{"url": url, "etag": etag, "last_modified": modified, "fetched_at": now}
            for url, (etag, modified) in validators.items()
            if _storable(url, 2048) and _storable(etag, 512) and _storable(modified, 64)]
    if not rows:
        return
    engine = make_engine(database_url)
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    try:
        with Session(engine) as session, session.begin():
            stmt = insert(FetchState).values(rows)
            session.execute(stmt.on_conflict_do_update(
                index_elements=[FetchState.url],
                set_={"etag": stmt.excluded.etag, "last_modified": stmt.excluded.last_modified,
                      "fetched_at": stmt.excluded.fetched_at},
            ))
    finally:
        engine.dispose()
