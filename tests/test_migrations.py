"""Migrations carry data: a database created at the first revision, with rows in it,
upgrades to head with every row intact and new columns at their defaults, and
downgrades to base. On SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import inspect, text

from models.db import current_revision, downgrade, make_engine, upgrade

FIRST = "0001"
FETCHED = dt.datetime(2025, 2, 1, 12, 30, tzinfo=dt.timezone.utc)
PUBLISHED = dt.datetime(2025, 1, 28, 19, 14, tzinfo=dt.timezone.utc)

# Three articles as the 0001 schema stored them: a founder, its wire copy, and one on its own.
ARTICLES = [
    {"id": 1, "url": "https://a.example/news/1?utm_source=x", "canonical_url": "https://a.example/news/1",
     "site": "a.example", "site_name": "A News", "title": "Talks stall", "authors": ["Olena Marchenko"],
     "published_at": PUBLISHED, "language": "en", "text": "Talks stalled on Tuesday.\nBoth sides left.",
     "content_hash": "a" * 64, "raw_html": b"x\x9c\xcbH\xcd\xc9\xc9\x07\x00\x06,\x02\x15", "raw_encoding": "utf-8",
     "extractor_version": "newscrawl-0.0.1", "fetched_at": FETCHED, "dup_group_id": 1, "dup_similarity": None,
     "story_id": 1},
    {"id": 2, "url": "https://b.example/wire/1", "canonical_url": "https://b.example/wire/1",
     "site": "b.example", "site_name": None, "title": "Talks stall (wire)", "authors": [],
     "published_at": None, "language": "en", "text": "Talks stalled on Tuesday.\nBoth sides left. More.",
     "content_hash": "b" * 64, "raw_html": b"\x00\x01binary\xff", "raw_encoding": "windows-1251",
     "extractor_version": "newscrawl-0.0.1", "fetched_at": FETCHED, "dup_group_id": 1, "dup_similarity": 0.91,
     "story_id": 1},
    {"id": 3, "url": "https://a.example/news/2", "canonical_url": "https://a.example/news/2",
     "site": "a.example", "site_name": "A News", "title": "Правительство объявило", "authors": ["А. Б."],
     "published_at": PUBLISHED, "language": "ru", "text": "Министр финансов заявил.",
     "content_hash": "c" * 64, "raw_html": b"zz", "raw_encoding": "koi8-r",
     "extractor_version": "newscrawl-0.0.1", "fetched_at": FETCHED, "dup_group_id": 3, "dup_similarity": None,
     "story_id": 3},
]
SIGNATURES = [{"article_id": n, "scheme": "minhash-v1", "num_perm": 128, "seed": 1, "shingle_size": 5,
               "minhash": bytes(range(n, n + 32))} for n in (1, 2, 3)]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrate.db'}"
    return request.getfixturevalue("pg_url")


def _as_utc(value):
    if isinstance(value, str):  # SQLite hands back text
        value = dt.datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def test_rows_survive_upgrade_from_the_first_revision_and_downgrade_works(db_url):
    upgrade(db_url, FIRST)
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) == FIRST
        with engine.begin() as conn:
            for row in ARTICLES:
                params = {**row, "authors": json.dumps(row["authors"], ensure_ascii=False)}
                if engine.dialect.name == "sqlite":  # stored as text, the way SQLAlchemy writes them there
                    params["published_at"] = row["published_at"] and row["published_at"].isoformat()
                    params["fetched_at"] = row["fetched_at"].isoformat()
                conn.execute(text(
                    f"INSERT INTO articles ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})"), params)
            for sig in SIGNATURES:
                conn.execute(text(f"INSERT INTO article_signatures ({', '.join(sig)}) "
                                  f"VALUES ({', '.join(':' + k for k in sig)})"), sig)
    finally:
        engine.dispose()

    upgrade(db_url)

    engine = make_engine(db_url)
    try:
        head = current_revision(engine)
        assert head and head != FIRST
        with engine.connect() as conn:
            rows = {r["id"]: r for r in conn.execute(text("SELECT * FROM articles ORDER BY id")).mappings()}
            signatures = {r["article_id"]: r for r in
                          conn.execute(text("SELECT * FROM article_signatures")).mappings()}
            tables = set(inspect(conn).get_table_names())
        assert sorted(rows) == [1, 2, 3]
        for original in ARTICLES:
            row = rows[original["id"]]
            for column, value in original.items():
                got = row[column]
                if column in ("published_at", "fetched_at"):
                    got = _as_utc(got)
                elif column == "authors":
                    got = _json(got)
                elif column == "raw_html":
                    got = bytes(got)
                assert got == value, f"article {original['id']}.{column}: {got!r} != {value!r}"
            # Columns added since 0001, at their defaults.
            assert _json(row["tags"]) == [] and _json(row["block_hashes"]) == [] and _json(row["removed_blocks"]) == []
            assert row["boilerplate_version"] == 0
            assert row["image"] is None and row["section"] is None and row["story_similarity"] is None
        # 0003 marks each group's founder as its representative.
        assert [bool(rows[n]["is_canonical"]) for n in (1, 2, 3)] == [True, False, True]
        for sig in SIGNATURES:
            got = signatures[sig["article_id"]]
            assert bytes(got["minhash"]) == sig["minhash"] and got["scheme"] == sig["scheme"]
            assert got["story_terms"] is None and got["story_weights"] is None
        assert {"crawl_runs", "fetch_state", "site_blocks", "site_profiles"} <= tables
    finally:
        engine.dispose()

    downgrade(db_url, "base")
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            left = set(inspect(conn).get_table_names()) - {"alembic_version"}
            views = set(inspect(conn).get_view_names())
        assert left == set() and views == set()
        assert current_revision(engine) is None
    finally:
        engine.dispose()
    # And back up again from nothing.
    upgrade(db_url)
