"""The real `newscrawl crawl` against the local sample sites, into SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.page.extract import EXTRACTOR_VERSION
from models import Article, ArticleSignature
from models.db import make_engine
from tests.conftest import REPO, run_cli

pytestmark = pytest.mark.integration


def crawl(db_url: str, sites_file) -> str:
    result = run_cli("crawl", "--db", db_url, "--allow-private", "--sites", str(sites_file),
                     "--set", "AUTOTHROTTLE_ENABLED=False", "--set", "DOWNLOAD_DELAY=0")
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def stored(db_url: str) -> list[Article]:
    engine = make_engine(db_url)
    with Session(engine) as session:
        rows = list(session.scalars(select(Article).order_by(Article.canonical_url)))
        signatures = session.scalars(select(ArticleSignature.article_id)).all()
    engine.dispose()
    assert set(signatures) <= {r.id for r in rows}
    return rows


def expected_articles(sample_sites) -> dict[str, tuple]:
    return {site.url(a["path"]): (site, a) for site in sample_sites for a in site.manifest.get("article", [])}


@pytest.fixture(scope="module")
def sqlite_crawl(sample_sites, sites_file, tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('crawl') / 'crawl.db'}"
    sample_sites.request_log.clear()
    output = crawl(url, sites_file)
    return url, output, list(sample_sites.request_log)


def test_every_article_stored_once_with_metadata(sqlite_crawl, sample_sites):
    url, output, _ = sqlite_crawl
    rows = stored(url)
    expected = expected_articles(sample_sites)
    by_url = {r.canonical_url: r for r in rows}
    assert sorted(by_url) == sorted(expected), "stored articles differ from the sites' articles"
    for canonical, (site, article) in expected.items():
        row = by_url[canonical]
        assert row.title == article["title"]
        assert row.published_at == dt.datetime.fromisoformat(article["published"])
        assert row.authors == article["authors"]
        assert row.author_organisations == article.get("author_organisations", [])
        assert row.site == f"127.0.0.1:{site.port}"
        assert len(row.text) > 500
        assert row.raw_html and row.dup_group_id and row.story_id
    assert "Crawl finished" in output


def test_stories_are_the_sites_labelled_events(sqlite_crawl, sample_sites):
    """Every article's manifest names its event; the crawl's stories, with the pages'
    own headlines and boilerplate, must be exactly those events: the three write-ups of
    one delegation's visit in one story, the other reports (same words, other events) apart."""
    url, _, _ = sqlite_crawl
    story_of = {r.canonical_url: r.story_id for r in stored(url)}
    labelled = {canonical: article["story"] for canonical, (_, article) in expected_articles(sample_sites).items()}
    assert members_by_value(story_of) == members_by_value(labelled)
    assert max(len(members) for members in members_by_value(labelled)) >= 3


def members_by_value(mapping: dict) -> list[list]:
    groups: dict = {}
    for key, value in mapping.items():
        groups.setdefault(value, []).append(key)
    return sorted(sorted(members) for members in groups.values())


def test_no_non_article_page_is_stored(sqlite_crawl, sample_sites):
    url, _, _ = sqlite_crawl
    stored_urls = {r.canonical_url for r in stored(url)}
    for site in sample_sites:
        for page in site.manifest.get("nonarticle", []):
            assert site.url(page["path"]) not in stored_urls


def test_identity_cases(sqlite_crawl, sample_sites):
    url, _, log = sqlite_crawl
    rows = stored(url)
    by_url = {r.canonical_url: r for r in rows}
    for site in sample_sites:
        for article in site.manifest.get("article", []):
            if article.get("amp_path"):
                assert site.url(article["amp_path"]) not in by_url
                assert site.url(article["path"]) in by_url
            if article.get("wire_copy_of"):
                slug, path = article["wire_copy_of"].split(":", 1)
                original = by_url[sample_sites[slug].url(path)]
                copy = by_url[site.url(article["path"])]
                assert copy.dup_group_id == original.dup_group_id
                # whichever arrived second carries the verified similarity
                assert max(copy.dup_similarity or 0, original.dup_similarity or 0) >= 0.8
    # tracking parameters never reach the store
    assert not any("utm_" in r.canonical_url or "#" in r.canonical_url for r in rows)
    # redirects are followed and stored under the target
    for site in sample_sites:
        for redirect in site.manifest.get("redirect", []):
            assert (site.slug, redirect["from"]) in log
            assert site.url(redirect["to"]) in by_url
    # robots.txt is obeyed
    assert not any(path.startswith("/search") for _, path in log)


def test_articles_from_distinct_stories_are_not_grouped(sqlite_crawl, sample_sites):
    url, _, _ = sqlite_crawl
    rows = stored(url)
    expected = expected_articles(sample_sites)
    wire_copies = {site.url(a["path"]) for site, a in expected.values() if a.get("wire_copy_of")}
    groups = {r.dup_group_id for r in rows}
    assert len(groups) == len(rows) - len(wire_copies)


def test_second_run_adds_nothing(sqlite_crawl, sites_file):
    url, _, _ = sqlite_crawl
    before = [(r.id, r.canonical_url, r.text, r.dup_group_id) for r in stored(url)]
    output = crawl(url, sites_file)
    assert "articles new 0" in output
    assert [(r.id, r.canonical_url, r.text, r.dup_group_id) for r in stored(url)] == before


@pytest.mark.postgres
def test_postgres_crawl_gives_the_same_rows(sqlite_crawl, sites_file, pg_url):
    sqlite_rows = stored(sqlite_crawl[0])
    crawl(pg_url, sites_file)
    pg_rows = stored(pg_url)

    def comparable(rows):
        return [(r.canonical_url, r.title, r.authors, r.published_at, r.language, r.text, r.content_hash,
                 r.image, r.section, r.tags, r.removed_blocks) for r in rows]

    def partition(rows, key):
        groups = {}
        for r in rows:
            groups.setdefault(getattr(r, key), set()).add(r.canonical_url.split("/", 3)[3])
        return sorted(sorted(g) for g in groups.values())

    assert comparable(pg_rows) == comparable(sqlite_rows)
    # Group ids are article ids, which depend on arrival order; the groups themselves must match.
    assert partition(pg_rows, "dup_group_id") == partition(sqlite_rows, "dup_group_id")
    assert partition(pg_rows, "story_id") == partition(sqlite_rows, "story_id")


def test_scrapy_crawl_news_from_repository_root(sample_sites, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    db = f"sqlite:///{tmp_path / 'scrapy.db'}"
    site = next(iter(sample_sites))
    scrapy_bin = Path(sys.executable).parent / "scrapy"
    result = subprocess.run(
        [str(scrapy_bin), "crawl", "news", "-a", f"urls={','.join(site.start_urls)}",
         "-s", f"DATABASE_URL={db}", "-s", "NEWSCRAWL_ALLOW_PRIVATE=True", "-s", "AUTOTHROTTLE_ENABLED=False"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "'newscrawl/articles/new'" in result.stderr
    urls = {r.canonical_url for r in stored(db)}
    assert urls == {site.url(a["path"]) for a in site.manifest["article"]}


def test_private_addresses_refused_without_allow_private(sample_sites, tmp_path):
    db = f"sqlite:///{tmp_path / 'guard.db'}"
    site = next(iter(sample_sites))
    result = run_cli("crawl", "--db", db, *site.start_urls)
    assert "private_address" in result.stdout
    assert "articles new 0" in result.stdout


def test_stored_text_has_no_boilerplate_and_keeps_the_body(sqlite_crawl, sample_sites):
    url, _, _ = sqlite_crawl
    by_url = {r.canonical_url: r for r in stored(url)}
    for canonical, (site, article) in expected_articles(sample_sites).items():
        row = by_url[canonical]
        leaks = [b for b in site.manifest.get("boilerplate", []) if b in row.text]
        assert not leaks, f"{canonical} leaks {leaks}"
        expected = (site.root / article["expected"]).read_text(encoding="utf-8").splitlines()
        stored_lines = set(row.text.splitlines())
        lost = [p for p in expected if p.strip() and p.strip() not in stored_lines]
        assert not lost, f"{canonical} lost {lost[:1]}"
        assert all(r["reason"] == "learned" or r["reason"].split(":")[0] in ("generic", "structure")
                   for r in row.removed_blocks)
        assert row.extractor_version.startswith("newscrawl-")
    # trafilatura drops some sites' boilerplate by itself; where it keeps it, the audit records the removal
    audited_sites = {r.site for r in by_url.values() if r.removed_blocks}
    assert len(audited_sites) >= 4


def test_paragraph_shared_by_two_articles_of_a_site_survives(sqlite_crawl):
    """Real content a site repeats (a background paragraph in two follow-ups) is not boilerplate."""
    url, _, _ = sqlite_crawl
    rows = stored(url)
    by_site: dict[str, dict[str, int]] = {}
    for row in rows:
        for line in set(row.text.splitlines()):
            by_site.setdefault(row.site, {}).setdefault(line, 0)
            by_site[row.site][line] += 1
    repeated = [line for lines in by_site.values() for line, n in lines.items() if n >= 2 and len(line) > 80]
    assert repeated, "the sample sites include a background paragraph shared by two follow-up reports"


def test_reprocess_re_extracts_text_from_raw_html(sqlite_crawl):
    url, _, _ = sqlite_crawl
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        # An article stored by an older extractor, with its agency byline kept as a person.
        wire = session.scalars(select(Article).where(Article.author_organisations != "[]")).first()
        wire_id, wire_orgs = wire.id, list(wire.author_organisations)
        # Another one, corrupted (the crawl's order decides which article is first: not the wire one).
        victim = session.scalars(select(Article).where(Article.id != wire_id).order_by(Article.id)).first()
        original_text, victim_id = victim.text, victim.id
        victim.text = "corrupted"
        victim.content_hash = "0" * 64
        wire.authors, wire.author_organisations, wire.extractor_version = wire_orgs, [], "newscrawl-2+trafilatura-2.0.0"
    engine.dispose()
    result = run_cli("reprocess", "--db", url)
    assert result.returncode == 0, result.stderr
    assert "2 changed" in result.stdout
    engine = make_engine(url)
    with Session(engine) as session:
        assert session.get(Article, victim_id).text == original_text
        reprocessed_row = session.get(Article, wire_id)
        assert reprocessed_row.authors == [] and reprocessed_row.author_organisations == wire_orgs
        assert reprocessed_row.extractor_version == EXTRACTOR_VERSION
    engine.dispose()
    relearn = run_cli("reprocess", "--db", url, "--relearn")
    assert relearn.returncode == 0 and "0 changed" in relearn.stdout, relearn.stdout + relearn.stderr


def test_completeness_accounts_for_every_fetched_page(sqlite_crawl, sample_sites):
    """The summary and crawl_runs say what became of every page fetched: the article pages
    were all stored, and every other page has its reason."""
    from models import CrawlRun

    url, output, requests = sqlite_crawl
    engine = make_engine(url)
    with Session(engine) as session:
        run = session.scalars(select(CrawlRun).order_by(CrawlRun.id)).first()
    engine.dispose()
    c = run.completeness
    articles = len(expected_articles(sample_sites))
    assert c["article_pages"] == articles and c["stored"] == articles
    assert not any(reason.startswith("article/") for reason in c["not_stored"])
    assert c["fetched"] == c["article_pages"] + sum(c["not_stored"].values())
    assert c["fetched"] + c["redirects"] + c["robots_checks"] == run.pages_fetched
    assert f"{c['fetched']} pages fetched, {articles} article pages, {articles} stored" in output
