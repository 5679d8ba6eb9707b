"""Streaming exports of the ``clean_articles`` view (JSONL, CSV, Parquet).

Exports read the view, not the ``articles`` table: the view is the documented
contract (docs/clean_articles.md), so an export has the same columns, in the
same order, as a downstream SQL query.

Memory stays constant whatever the number of rows: rows come from a streamed
result (a server-side cursor on PostgreSQL, SQLite's lazy cursor) in
partitions of ``batch_size`` rows, and each partition is written out (one
Parquet row group per partition) before the next one is fetched.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from sqlalchemy import (
    Engine,
    Select,
    select,
)

from models.views import clean_articles

EXPORT_FIELDS: list[str] = [column.name for column in clean_articles.columns]
DATETIME_FIELDS = ("published_at", "fetched_at")
LIST_FIELDS = ("authors", "tags", "author_organisations")
FORMATS = ("jsonl", "csv", "parquet")
DEFAULT_BATCH_SIZE = 5_000


@dataclass(frozen=True)
class ExportFilters:
    """Which rows to export; the default exports every row."""

    since: dt.datetime | None = None  # published_at >= since (rows without a date are left out)
    sites: tuple[str, ...] = ()  # articles.site values; empty means every site
    story_id: int | None = None
    canonical_only: bool = False  # only each near-duplicate group's representative

    def __post_init__(self):
        if self.since is not None and self.since.tzinfo is None:
            raise ValueError("since must be timezone-aware")


def build_query(filters: ExportFilters | None = None) -> Select:
    filters = filters or ExportFilters()
    view = clean_articles.c
    query = select(clean_articles)
    if filters.since is not None:
        # As a subquery on the published_at index: with "published_at >= :since ORDER BY id"
        # SQLite scans the whole table in id order (32 s for one day of 1M articles) rather
        # than sort the range it can find in the index.
        query = query.where(view.id.in_(select(view.id).where(view.published_at >= filters.since).scalar_subquery()))
    if filters.sites:
        query = query.where(view.site.in_(filters.sites))
    if filters.story_id is not None:
        query = query.where(view.story_id == filters.story_id)
    if filters.canonical_only:
        query = query.where(view.is_canonical.is_(True))
    return query.order_by(view.id)


def iter_row_batches(
    engine: Engine, filters: ExportFilters | None = None, batch_size: int = DEFAULT_BATCH_SIZE
) -> Iterator[Sequence]:
    """The view's rows in id order, ``batch_size`` at a time, streamed from the database."""
    with engine.connect() as conn:
        # stream_results: a server-side (named) cursor on PostgreSQL, so the driver
        # does not buffer the whole result; yield_per sizes each fetch.
        result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(build_query(filters))
        yield from result.partitions(batch_size)


def _record(row) -> dict:
    record = dict(zip(EXPORT_FIELDS, row))
    for key in DATETIME_FIELDS:
        if record[key] is not None:
            record[key] = record[key].isoformat()
    return record


def iter_records(
    engine: Engine, filters: ExportFilters | None = None, batch_size: int = DEFAULT_BATCH_SIZE
) -> Iterator[dict]:
    """One dict per exported article, datetimes as ISO 8601 strings with their +00:00 offset."""
    for batch in iter_row_batches(engine, filters, batch_size):
        for row in batch:
            yield _record(row)


def write_jsonl(records: Iterable[dict], out: IO[str]) -> int:
    count = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


# A spreadsheet reads a cell starting with one of these as a formula (=HYPERLINK(...),
# +cmd|..., @SUM...); tab and carriage return also start one in some of them.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value):
    """A text cell a spreadsheet will show as text: OWASP's CSV-injection advice, a
    leading single quote on cells starting with a formula trigger. Numbers and None
    are left alone (a negative number is not text the web wrote)."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def write_csv(records: Iterable[dict], out: IO[str], raw: bool = False) -> int:
    """CSV with a header row; list columns (authors, tags) as JSON arrays in one cell.

    Titles, authors and URLs are written by the sites crawled: text cells that a
    spreadsheet would run as formulas are neutralised (``neutralise_cell``) unless
    ``raw`` (``newscrawl export --raw``) asks for the values exactly as stored."""
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    count = 0
    for record in records:
        for key in LIST_FIELDS:
            record[key] = json.dumps(record[key], ensure_ascii=False)
        if not raw:
            record = {key: neutralise_cell(value) for key, value in record.items()}
        writer.writerow(record)
        count += 1
    return count


def parquet_schema():
    import pyarrow as pa

    text = pa.string()
    types = {
        "id": pa.int64(),
        "authors": pa.list_(text),
        "tags": pa.list_(text),
        "author_organisations": pa.list_(text),
        "published_at": pa.timestamp("us", tz="UTC"),
        "fetched_at": pa.timestamp("us", tz="UTC"),
        "dup_group_id": pa.int64(),
        "story_id": pa.int64(),
        "is_canonical": pa.bool_(),
        "dup_similarity": pa.float64(),
        "story_similarity": pa.float64(),
    }
    nullable = {"site_name", "title", "published_at", "language", "image", "section",
                "dup_group_id", "story_id", "dup_similarity", "story_similarity"}
    return pa.schema([pa.field(name, types.get(name, text), nullable=name in nullable) for name in EXPORT_FIELDS])


def write_parquet(batches: Iterable[Sequence], path, compression: str = "zstd") -> int:
    """One Parquet row group per batch of rows; only one batch is held in memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema()
    count = 0
    with pq.ParquetWriter(path, schema, compression=compression) as writer:
        for batch in batches:
            if not batch:
                continue
            columns = list(zip(*batch))
            arrays = [pa.array(values, type=field.type) for values, field in zip(columns, schema)]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            count += len(batch)
    return count


def export(
    engine: Engine,
    fmt: str,
    output: str | None,
    filters: ExportFilters | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    stdout: IO[str] | None = None,
    raw: bool = False,
) -> int:
    """Write the filtered view to ``output`` (a path; None for ``stdout``, text formats only).
    ``raw``: CSV cells exactly as stored, formula triggers included (see ``write_csv``).

    Returns the number of rows written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})")
    if fmt == "parquet":
        if not output:
            raise ValueError("--format parquet needs -o FILE (Parquet is a binary file format)")
        return write_parquet(iter_row_batches(engine, filters, batch_size), output)
    writer = (lambda rows, out: write_csv(rows, out, raw=raw)) if fmt == "csv" else write_jsonl
    records = iter_records(engine, filters, batch_size)
    if output is None:
        return writer(records, stdout)
    # A large buffer: the rows are small and many, and each write() is a system call otherwise.
    with open(output, "w", encoding="utf-8", newline="", buffering=1 << 20) as out:
        return writer(records, out)
