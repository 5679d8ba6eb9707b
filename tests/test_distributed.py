"""Distributed mode on the real Redis and PostgreSQL: two workers, one frontier, one index."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Article
from models.db import make_engine
from tests.conftest import REDIS_HOST, REDIS_PORT, REPO

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


def _command(db: str, sites_file: Path, *extra: str) -> list[str]:
    return [str(Path(sys.executable).parent / "newscrawl"), "crawl", "--db", db, "--allow-private",
            "--sites", str(sites_file), "--set", "AUTOTHROTTLE_ENABLED=False", "--set", "DOWNLOAD_DELAY=0",
            *extra]


def _groups(db: str, key: str) -> list[list[str]]:
    engine = make_engine(db)
    with Session(engine) as session:
        rows = session.scalars(select(Article)).all()
        groups: dict[int, set[str]] = {}
        for row in rows:
            groups.setdefault(getattr(row, key), set()).add(row.canonical_url)
    engine.dispose()
    return sorted(sorted(g) for g in groups.values())


def _urls(db: str) -> list[str]:
    engine = make_engine(db)
    with Session(engine) as session:
        urls = session.scalars(select(Article.canonical_url)).all()
    engine.dispose()
    return urls


def test_two_workers_share_frontier_store_and_index(sample_sites, sites_file, pg_url, redis_storage, sqlite_url):
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    run = f"test-{uuid.uuid4().hex[:8]}"
    redis_url = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
    index = redis_storage["basename"].decode()
    distributed = ("--redis", redis_url, "--redis-run", run, "--set", f"NEWSCRAWL_REDIS_INDEX={index}")
    try:
        sample_sites.request_log.clear()
        workers = [subprocess.Popen(_command(pg_url, sites_file, *distributed), cwd=REPO, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, env=os.environ.copy()) for _ in range(2)]
        outputs = [w.communicate(timeout=300) for w in workers]
        for worker, (out, err) in zip(workers, outputs):
            assert worker.returncode == 0, out + err[-3000:]
        fetched = Counter(entry for entry in sample_sites.request_log if not entry[1].startswith("/robots.txt"))
        twice = {path: n for path, n in fetched.items() if n > 1}
        assert not twice, f"fetched more than once across workers: {twice}"
        assert sum("articles new" in out for out, _ in outputs) == 2
    finally:
        for key in client.scan_iter(match=f"newscrawl:{run}:*".encode()):
            client.delete(key)
        client.close()

    expected = sorted(site.url(a["path"]) for site in sample_sites for a in site.manifest["article"])
    urls = _urls(pg_url)
    assert sorted(urls) == expected, "every article stored exactly once"

    single = subprocess.run(_command(sqlite_url, sites_file), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    assert _groups(pg_url, "dup_group_id") == _groups(sqlite_url, "dup_group_id")
    assert _groups(pg_url, "story_id") == _groups(sqlite_url, "story_id")
