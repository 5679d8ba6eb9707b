"""Streaming exports of stored articles (JSONL, CSV)."""
from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import IO

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from models import Article

EXPORT_FIELDS = [
    "id",
    "url",
    "canonical_url",
    "site",
    "title",
    "authors",
    "published_at",
    "language",
    "text",
    "dup_group_id",
    "story_id",
    "fetched_at",
]


def iter_records(engine: Engine, batch_size: int = 500) -> Iterator[dict]:
    """One dict per stored article, streamed in id order (constant memory)."""
    columns = [getattr(Article, name) for name in EXPORT_FIELDS]
    with Session(engine) as session:
        rows = session.execute(select(*columns).order_by(Article.id).execution_options(yield_per=batch_size))
        for row in rows:
            record = dict(zip(EXPORT_FIELDS, row))
            for key in ("published_at", "fetched_at"):
                if record[key] is not None:
                    record[key] = record[key].isoformat()
            yield record


def write_jsonl(records: Iterator[dict], out: IO[str]) -> int:
    count = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


def write_csv(records: Iterator[dict], out: IO[str]) -> int:
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    count = 0
    for record in records:
        record["authors"] = json.dumps(record["authors"], ensure_ascii=False)
        writer.writerow(record)
        count += 1
    return count
