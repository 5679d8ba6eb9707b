"""Database passwords never reach logs, stats or crawl_runs."""
import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import CrawlRun
from models.db import make_engine
from tests.conftest import run_cli

pytestmark = pytest.mark.postgres

PASSWORD = "s3cret-Pw-7781"


def test_password_not_in_logs_stats_or_runs(pg_url, sample_sites):
    # Trust authentication accepts any password, so the URL works with one in it.
    url = pg_url.replace("postgres@", f"postgres:{PASSWORD}@")
    site = sample_sites["kyivwire"]
    result = run_cli("-vv", "crawl", "--db", url, "--allow-private", "--set", "AUTOTHROTTLE_ENABLED=False",
                     *site.start_urls)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Dumping Scrapy stats" in result.stderr  # the stats were logged, at debug level everything was
    assert PASSWORD not in result.stdout
    assert PASSWORD not in result.stderr
    engine = make_engine(pg_url)
    with Session(engine) as session:
        runs = session.scalars(select(CrawlRun)).all()
        assert runs and all(PASSWORD not in json.dumps(
            {"start_urls": r.start_urls, "skips": r.skips, "errors": r.errors, "sites": r.sites,
             "finish_reason": r.finish_reason}) for r in runs)
    engine.dispose()
    locked = run_cli("db", "upgrade", "--db", url)
    assert PASSWORD not in locked.stdout + locked.stderr
