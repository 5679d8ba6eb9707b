"""The `clean_articles` view is a public contract: pinned here on SQLite and PostgreSQL.

An accidental change to the view (a column renamed, dropped, reordered or
retyped, a NOT NULL guarantee lost behind it) fails these tests. A deliberate
change updates CONTRACT, docs/clean_articles.md and the changelog in
docs/articles.md, through a new migration.
"""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from crawler.ops.export import EXPORT_FIELDS
from models import Article
from models.db import downgrade, make_engine, upgrade
from models.views import clean_articles
from tests.conftest import REPO

# (column, type as SQLite's catalog reports it, as PostgreSQL's does, nullable in `articles`)
CONTRACT = [
    ("id", "INTEGER", "INTEGER", False),
    ("url", "TEXT", "TEXT", False),
    ("canonical_url", "VARCHAR(2048)", "VARCHAR(2048)", False),
    ("site", "VARCHAR(255)", "VARCHAR(255)", False),
    ("site_name", "VARCHAR(255)", "VARCHAR(255)", True),
    ("title", "TEXT", "TEXT", True),
    ("authors", "JSON", "JSON", False),
    ("published_at", "DATETIME", "TIMESTAMP WITH TIME ZONE", True),
    ("language", "VARCHAR(16)", "VARCHAR(16)", True),
    ("text", "TEXT", "TEXT", False),
    ("image", "TEXT", "TEXT", True),
    ("section", "VARCHAR(255)", "VARCHAR(255)", True),
    ("tags", "JSON", "JSON", False),
    ("fetched_at", "DATETIME", "TIMESTAMP WITH TIME ZONE", False),
    ("extractor_version", "VARCHAR(64)", "VARCHAR(64)", False),
    ("dup_group_id", "INTEGER", "INTEGER", True),
    ("story_id", "INTEGER", "INTEGER", True),
    ("is_canonical", "BOOLEAN", "BOOLEAN", False),
    ("dup_similarity", "DOUBLE", "DOUBLE PRECISION", True),
    ("story_similarity", "DOUBLE", "DOUBLE PRECISION", True),
    ("author_organisations", "JSON", "JSON", False),
]
COLUMNS = [name for name, *_ in CONTRACT]

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def engine(request):
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    upgrade(url)
    engine = make_engine(url)
    engine.test_url = url
    yield engine
    engine.dispose()


def test_view_columns_names_order_and_types(engine):
    inspector = inspect(engine)
    assert "clean_articles" in inspector.get_view_names()
    assert "clean_articles" not in inspector.get_table_names()
    reflected = inspector.get_columns("clean_articles")
    assert [column["name"] for column in reflected] == COLUMNS
    type_index = 1 if engine.dialect.name == "sqlite" else 2
    expected_types = {entry[0]: entry[type_index] for entry in CONTRACT}
    actual_types = {c["name"]: str(c["type"].compile(dialect=engine.dialect)) for c in reflected}
    assert actual_types == expected_types
    # Catalogs report view columns as nullable on both backends (docs/clean_articles.md says
    # so); if that ever changes, this test should be revisited rather than silently pass.
    assert all(column["nullable"] for column in reflected)


def test_not_null_guarantees_hold_in_the_table_behind_the_view(engine):
    """The view's "null: no" promises are the NOT NULL constraints of its `articles` columns."""
    table = {c["name"]: c["nullable"] for c in inspect(engine).get_columns("articles")}
    assert {name: table[name] for name in COLUMNS} == {name: nullable for name, _, _, nullable in CONTRACT}


def test_select_star_gives_the_contract_columns_in_order(engine):
    with engine.connect() as conn:
        result = conn.execute(text("SELECT * FROM clean_articles"))
        assert list(result.keys()) == COLUMNS


def _article(**overrides) -> Article:
    values = dict(
        url="https://news.example/a?utm_source=x",
        canonical_url="https://news.example/a",
        site="news.example",
        site_name="News «Example»",
        title="Zürich: ünïcode & \"quotes\"",
        authors=["Anna B", "Jörg C"],
        published_at=dt.datetime(2025, 1, 28, 14, 5, 6, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        language="de",
        text="First paragraph.\nSecond paragraph.",
        image="https://news.example/lead.jpg",
        section="World",
        tags=["Syria", "Russia"],
        content_hash="0" * 64,
        raw_html=b"<html>secret internals</html>",
        raw_encoding="utf-8",
        extractor_version="newscrawl 0.1.0; trafilatura 2.0",
        fetched_at=dt.datetime(2025, 1, 29, 8, 0, tzinfo=dt.timezone.utc),
        dup_group_id=None,
        dup_similarity=None,
        is_canonical=True,
        story_id=None,
        story_similarity=None,
    )
    values.update(overrides)
    return Article(**values)


def test_a_row_round_trips_through_the_view_with_its_types(engine):
    with Session(engine) as session, session.begin():
        first = _article()
        session.add(first)
        session.flush()
        first.dup_group_id = first.story_id = first.id
        copy = _article(url="https://mirror.example/a", canonical_url="https://mirror.example/a",
                        site="mirror.example", site_name=None, title=None, authors=[], tags=[],
                        author_organisations=["AFP"],
                        published_at=None, language=None, image=None, section=None,
                        dup_group_id=first.id, dup_similarity=0.875, is_canonical=False,
                        story_id=first.id, story_similarity=0.5)
        session.add(copy)
    with engine.connect() as conn:
        rows = conn.execute(select(clean_articles).order_by(clean_articles.c.id)).mappings().all()
    assert [list(row.keys()) for row in rows] == [COLUMNS, COLUMNS]
    original, mirror = rows
    assert dict(original) == {
        "id": original["id"],
        "url": "https://news.example/a?utm_source=x",
        "canonical_url": "https://news.example/a",
        "site": "news.example",
        "site_name": "News «Example»",
        "title": "Zürich: ünïcode & \"quotes\"",
        "authors": ["Anna B", "Jörg C"],
        "published_at": dt.datetime(2025, 1, 28, 12, 5, 6, 123456, tzinfo=dt.timezone.utc),
        "language": "de",
        "text": "First paragraph.\nSecond paragraph.",
        "image": "https://news.example/lead.jpg",
        "section": "World",
        "tags": ["Syria", "Russia"],
        "fetched_at": dt.datetime(2025, 1, 29, 8, 0, tzinfo=dt.timezone.utc),
        "extractor_version": "newscrawl 0.1.0; trafilatura 2.0",
        "dup_group_id": original["id"],
        "story_id": original["id"],
        "is_canonical": True,
        "dup_similarity": None,
        "story_similarity": None,
        "author_organisations": [],
    }
    assert mirror["is_canonical"] is False and mirror["dup_group_id"] == original["id"]
    assert mirror["dup_similarity"] == 0.875 and mirror["story_similarity"] == 0.5
    assert mirror["published_at"] is None and mirror["authors"] == [] and mirror["tags"] == []
    assert mirror["author_organisations"] == ["AFP"]
    assert mirror["site_name"] is None and mirror["title"] is None
    # SQL users filter on is_canonical directly, on both backends.
    with engine.connect() as conn:
        canonical = conn.scalars(text("SELECT id FROM clean_articles WHERE is_canonical")).all()
    assert canonical == [original["id"]]


def test_view_is_dropped_and_recreated_by_the_migration(engine):
    downgrade(engine.test_url, "0004")
    assert "clean_articles" not in inspect(engine).get_view_names()
    upgrade(engine.test_url)
    assert [c["name"] for c in inspect(engine).get_columns("clean_articles")] == COLUMNS


def test_exports_and_docs_follow_the_contract():
    assert [column.name for column in clean_articles.columns] == COLUMNS
    assert EXPORT_FIELDS == COLUMNS
    doc = (REPO / "docs" / "clean_articles.md").read_text(encoding="utf-8")
    documented = re.findall(r"^\| `(\w+)` \| [^|]+ \| (yes|no) \|", doc, flags=re.MULTILINE)
    assert [name for name, _ in documented] == COLUMNS
    assert [null == "yes" for _, null in documented] == [nullable for *_, nullable in CONTRACT]
