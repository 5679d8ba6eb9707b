"""The Python API for notebooks: newscrawl.crawl and newscrawl.read_articles."""
from __future__ import annotations

import datetime as dt

import pytest

import newscrawl
from tests.badsite import SiteBuilder
from tests.test_cron import serving

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "api.db")  # a plain path: an SQLite file
    return request.getfixturevalue("pg_url")


def test_crawl_then_read_articles_typed(db_url, tmp_path):
    pd = pytest.importorskip("pandas")
    site = SiteBuilder(tmp_path / "sites", "api")
    site.article("/news/2025/05/01/api-story-number-one/", "API story one", 700, published="2025-05-01T10:00:00+02:00")
    site.article("/news/2025/05/02/api-story-number-two/", "API story two", 701)
    with serving(site) as sites:
        result = newscrawl.crawl([sites["api"].url("/")], db=db_url, allow_private=True,
                                 settings={"AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0,
                                           "NEWSCRAWL_EXTRACT_PROCESSES": 0})
    assert result.ok and result.status == "finished" and result.articles_new == 2, result.output

    df = newscrawl.read_articles(db_url)
    assert len(df) == 2
    assert str(df["published_at"].dtype) .startswith("datetime64") and str(df["published_at"].dt.tz) == "UTC"
    assert df.loc[df.title == "API story one", "published_at"].iloc[0] == pd.Timestamp("2025-05-01T08:00:00Z")
    assert all(isinstance(a, list) for a in df["authors"]) and df["authors"].iloc[0] == ["Tess Reynolds"]
    assert df["is_canonical"].dtype == bool and df["is_canonical"].all()
    assert str(df["story_id"].dtype) == "Int64"

    records = list(newscrawl.iter_articles(db_url, since="2025-04-01"))  # story two is from March
    assert [r.title for r in records] == ["API story one"]
    assert records[0].authors == ["Tess Reynolds"] and records[0].is_canonical is True
    assert all(isinstance(r.fetched_at, dt.datetime) and r.fetched_at.tzinfo is not None for r in records)
    assert len(newscrawl.read_articles(db_url, sites=["nowhere.example"])) == 0


def test_crawl_usage_error_raises(tmp_path):
    with pytest.raises(ValueError, match="CONCURRENT_REQUESTS_PER_DOMAIN"):
        newscrawl.crawl(["http://news.example/"], db=str(tmp_path / "u.db"),
                        settings={"CONCURRENT_REQUESTS_PER_DOMAIN": 0})
