"""`newscrawl export`: formats, filters and streaming, on SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import datetime as dt
import json

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from crawler.ops.export import EXPORT_FIELDS, ExportFilters, export, iter_records, iter_row_batches
from models import Article
from models.db import make_engine, upgrade
from tests.conftest import run_cli

UTC = dt.timezone.utc
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

# id: (site, published day in March 2026 or None, story_id, dup_group_id, is_canonical)
ROWS = {
    1: ("a.example", 1, 1, 1, True),
    2: ("b.example", 2, 1, 1, False),  # copy of 1
    3: ("c.example", 3, 1, 3, True),  # same story, own text
    4: ("a.example", 10, 4, 4, True),
    5: ("b.example", None, 5, 5, True),  # no publication date
    6: ("c.example", 12, 4, 6, True),
}


def _fill(url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        for id_, (site, day, story, group, canonical) in ROWS.items():
            session.add(Article(
                id=id_, url=f"https://{site}/{id_}", canonical_url=f"https://{site}/{id_}", site=site,
                site_name=site.split(".")[0].upper(), title=f"Title {id_}, with \"quotes\"\nand a newline",
                authors=[f"Author {id_}"], tags=["x", "y"] if id_ % 2 else [],
                published_at=dt.datetime(2026, 3, day, 9, 30, tzinfo=UTC) if day else None,
                language="en", text=f"Body {id_}.\nSecond line, ünïcode.", content_hash=f"{id_:064d}",
                raw_html=b"x", raw_encoding="utf-8", extractor_version="test",
                fetched_at=dt.datetime(2026, 3, 20, 8, tzinfo=UTC), dup_group_id=group,
                dup_similarity=0.9 if not canonical else None, is_canonical=canonical, story_id=story,
            ))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db(request):
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    _fill(url)
    return url


def _ids(url: str, filters: ExportFilters | None = None) -> list[int]:
    engine = make_engine(url)
    try:
        return [record["id"] for record in iter_records(engine, filters, batch_size=2)]
    finally:
        engine.dispose()


def test_filters(db):
    march = lambda day: dt.datetime(2026, 3, day, tzinfo=UTC)  # noqa: E731
    assert _ids(db) == [1, 2, 3, 4, 5, 6]
    assert _ids(db, ExportFilters(since=march(3))) == [3, 4, 6]  # undated 5 is left out
    assert _ids(db, ExportFilters(since=dt.datetime(2026, 3, 3, 9, 30, tzinfo=UTC))) == [3, 4, 6]  # inclusive
    assert _ids(db, ExportFilters(since=dt.datetime(2026, 3, 3, 11, 31, tzinfo=dt.timezone(dt.timedelta(hours=2))))) == [4, 6]
    assert _ids(db, ExportFilters(sites=("a.example", "c.example"))) == [1, 3, 4, 6]
    assert _ids(db, ExportFilters(story_id=1)) == [1, 2, 3]
    assert _ids(db, ExportFilters(canonical_only=True)) == [1, 3, 4, 5, 6]
    assert _ids(db, ExportFilters(story_id=1, canonical_only=True, sites=("b.example",))) == []
    assert _ids(db, ExportFilters(since=march(2), sites=("b.example", "c.example"), canonical_only=True)) == [3, 6]
    with pytest.raises(ValueError):
        ExportFilters(since=dt.datetime(2026, 3, 1))


def test_formats_carry_the_same_records(db, tmp_path):
    import pyarrow.parquet as pq

    engine = make_engine(db)
    try:
        expected = list(iter_records(engine))
        counts = {fmt: export(engine, fmt, str(tmp_path / f"out.{fmt}"), batch_size=4)
                  for fmt in ("jsonl", "csv", "parquet")}
    finally:
        engine.dispose()
    assert counts == {"jsonl": 6, "csv": 6, "parquet": 6}
    assert list(expected[0]) == EXPORT_FIELDS
    assert expected[0]["published_at"] == "2026-03-01T09:30:00+00:00"
    assert expected[4]["published_at"] is None

    jsonl = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert jsonl == expected

    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == EXPORT_FIELDS
    assert [json.loads(r["authors"]) for r in rows] == [r["authors"] for r in expected]
    assert [json.loads(r["tags"]) for r in rows] == [r["tags"] for r in expected]
    assert [r["title"] for r in rows] == [r["title"] for r in expected]  # quotes and newlines survive
    assert [r["text"] for r in rows] == [r["text"] for r in expected]

    parquet = pq.ParquetFile(tmp_path / "out.parquet")
    assert parquet.metadata.num_row_groups == 2  # one row group per batch of 4
    table = parquet.read()
    assert table.column_names == EXPORT_FIELDS
    assert str(table.schema.field("published_at").type) == "timestamp[us, tz=UTC]"
    assert str(table.schema.field("authors").type) == "list<element: string>"
    records = table.to_pylist()
    for record, want in zip(records, expected):
        for key in ("published_at", "fetched_at"):
            record[key] = record[key].isoformat() if record[key] is not None else None
        assert record == want


def test_empty_exports_are_valid_files(db, tmp_path):
    import pyarrow.parquet as pq

    engine = make_engine(db)
    nothing = ExportFilters(story_id=999)
    try:
        assert export(engine, "parquet", str(tmp_path / "e.parquet"), nothing) == 0
        assert export(engine, "csv", str(tmp_path / "e.csv"), nothing) == 0
    finally:
        engine.dispose()
    assert pq.read_table(tmp_path / "e.parquet").column_names == EXPORT_FIELDS
    assert (tmp_path / "e.csv").read_text(encoding="utf-8").strip() == ",".join(EXPORT_FIELDS)


@pytest.mark.postgres
def test_postgres_streams_through_a_server_side_cursor(pg_url):
    """The rows are fetched batch by batch from a named cursor, not buffered by the driver."""
    _fill(pg_url)
    engine = make_engine(pg_url)
    batches = iter_row_batches(engine, batch_size=2)
    try:
        first = next(batches)
        assert [row.id for row in first] == [1, 2]
        with engine.connect() as observer:
            queries = observer.scalars(text(
                "SELECT query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )).all()
        # psycopg's named cursor: DECLARE ... CURSOR, then FETCH FORWARD n per fetch
        # (SQLAlchemy reads one row first for the result's metadata, then batch_size rows).
        assert any(q.lstrip().upper().startswith(("FETCH FORWARD", "DECLARE")) for q in queries), queries
        assert [row.id for batch in batches for row in batch] == [3, 4, 5, 6]
    finally:
        batches.close()
        engine.dispose()


def test_cli_filters_and_formats(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    _fill(url)
    result = run_cli("export", "--db", url, "--site", "a.example", "--site", "b.example", "--canonical-only",
                     "--since", "2026-03-01")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [1, 4]
    assert "Exported 2 articles" in result.stderr
    story = run_cli("export", "--db", url, "--story", "1", "--format", "csv")
    assert [row["id"] for row in csv.DictReader(story.stdout.splitlines())] == ["1", "2", "3"]
    out = tmp_path / "all.parquet"
    assert run_cli("export", "--db", url, "--format", "parquet", "-o", str(out)).returncode == 0
    import pyarrow.parquet as pq

    assert pq.read_table(out).column("id").to_pylist() == [1, 2, 3, 4, 5, 6]


def test_cli_usage_errors(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    parquet_to_stdout = run_cli("export", "--db", url, "--format", "parquet")
    assert parquet_to_stdout.returncode == 2 and "needs -o" in parquet_to_stdout.stderr
    assert run_cli("export", "--db", url, "--since", "yesterday").returncode == 2
    assert run_cli("export", "--db", url, "--story", "x").returncode == 2
    assert run_cli("export", "--db", url, "--format", "xml").returncode == 2
    help_text = run_cli("export", "--help").stdout
    assert all(flag in help_text for flag in ("parquet", "--since", "--site", "--story", "--canonical-only"))
