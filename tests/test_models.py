"""The models and the migrations agree; the datetime type keeps zones; upgrades are idempotent."""
import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from models import Article, Base
from models.db import current_revision, downgrade, make_engine, resolve_database_url, upgrade


def _diff(url: str):
    engine = make_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    return diff


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_migrations_match_models(backend, request):
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    upgrade(url)
    assert _diff(url) == []
    upgrade(url)  # a second upgrade is a no-op
    engine = make_engine(url)
    assert current_revision(engine) is not None
    engine.dispose()
    downgrade(url, "base")
    engine = make_engine(url)
    assert "articles" not in inspect(engine).get_table_names()
    engine.dispose()


def _article(**overrides) -> Article:
    values = dict(
        url="https://news.example/a",
        canonical_url="https://news.example/a",
        site="news.example",
        title="T",
        authors=["A B"],
        published_at=dt.datetime(2025, 1, 28, 14, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        language="en",
        text="body",
        content_hash="0" * 64,
        raw_html=b"x",
        raw_encoding="utf-8",
        extractor_version="test",
        fetched_at=dt.datetime.now(dt.timezone.utc),
    )
    values.update(overrides)
    return Article(**values)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_datetimes_come_back_aware_utc(backend, request):
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        session.add(_article())
    with Session(engine) as session:
        stored = session.scalars(select(Article)).one()
        assert stored.published_at == dt.datetime(2025, 1, 28, 12, 5, tzinfo=dt.timezone.utc)
        assert stored.published_at.tzinfo is not None
        assert stored.authors == ["A B"]
    engine.dispose()


def test_naive_datetime_is_refused(sqlite_url):
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    with pytest.raises(Exception, match="naive datetime"):
        with Session(engine) as session, session.begin():
            session.add(_article(published_at=dt.datetime(2025, 1, 1)))
    engine.dispose()


def test_database_url_resolution(monkeypatch):
    monkeypatch.delenv("NEWSCRAWL_DB", raising=False)
    assert resolve_database_url(None) == "sqlite:///newscrawl.db"
    monkeypatch.setenv("NEWSCRAWL_DB", "postgresql://u@h/db")
    assert resolve_database_url(None) == "postgresql+psycopg://u@h/db"
    assert resolve_database_url("sqlite:///x.db") == "sqlite:///x.db"
