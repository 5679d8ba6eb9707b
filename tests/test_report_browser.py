"""`newscrawl report` rendered by a real headless browser, checked against the database.

The page is read back from the DOM the browser built (not from the HTML text),
so what a reader sees is what is checked: every story with more than one
article appears with exactly its members, and each near-duplicate copy sits
under its group's canonical article. Chromium is Debian's (/usr/bin/chromium,
driven through /usr/bin/chromedriver); Selenium is given both paths so that
Selenium Manager never downloads a browser or a driver.
"""
from __future__ import annotations

import datetime as dt
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.ops.report import render_report
from models.db import make_engine, upgrade
from models.views import clean_articles
from tests.conftest import IN_CI, run_cli

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROME_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
]


def _browser_or_skip():
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        message = f"headless browser not installed: {', '.join(missing)} (apt-get install chromium chromium-driver)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)  # only outside CI: under CI the line above fails instead
    try:
        from selenium import webdriver  # noqa: F401
    except ImportError as exc:
        if IN_CI:
            pytest.fail(f"selenium is required in CI: {exc}")
        pytest.skip(f"selenium not installed: {exc}")  # only outside CI


@pytest.fixture
def browser(tmp_path):
    _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    profile = tmp_path / "chromium-profile"  # fresh: no state carried between runs
    options.add_argument(f"--user-data-dir={profile}")
    # An explicit driver path: Selenium Manager is not consulted and downloads nothing.
    service = Service(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def crawled_db(sample_sites, sites_file, tmp_path_factory) -> str:
    """The bundled sample sites crawled into SQLite, once for this module."""
    db = f"sqlite:///{tmp_path_factory.mktemp('report') / 'crawl.db'}"
    result = run_cli("crawl", "--db", db, "--sites", str(sites_file), "--allow-private",
                     "--set", "AUTOTHROTTLE_ENABLED=False", "--set", "DOWNLOAD_DELAY=0")
    assert result.returncode == 0, result.stdout + result.stderr
    return db


def _stories_in_db(db: str) -> tuple[dict[int, set[int]], dict[int, int]]:
    """(story_id -> member ids, for stories with more than one article; copy id -> its canonical id)."""
    engine = make_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(select(clean_articles)).all()
    engine.dispose()
    stories: dict[int, set[int]] = defaultdict(set)
    groups: dict[int, list] = defaultdict(list)
    for row in rows:
        stories[row.story_id].add(row.id)
        groups[row.dup_group_id].append(row)
    canonical_of = {}
    for members in groups.values():
        canonical = [row.id for row in members if row.is_canonical]
        assert len(canonical) == 1, "the contract: exactly one canonical article per near-duplicate group"
        canonical_of.update({row.id: canonical[0] for row in members if not row.is_canonical})
    return {k: v for k, v in stories.items() if len(v) > 1}, canonical_of


def test_report_in_headless_chromium_matches_the_database(crawled_db, browser, tmp_path):
    from selenium.webdriver.common.by import By

    report = tmp_path / "report.html"
    result = run_cli("report", "--db", crawled_db, "-o", str(report))
    assert result.returncode == 0, result.stderr
    browser.get(report.as_uri())
    assert browser.title == "newscrawl report"

    expected_stories, canonical_of = _stories_in_db(crawled_db)
    assert expected_stories, "the sample sites contain stories covered by several outlets"
    assert canonical_of, "the sample sites contain near-duplicate copies"

    shown_stories: dict[int, set[int]] = {}
    shown_copies: dict[int, int] = {}
    for section in browser.find_elements(By.CSS_SELECTOR, "section.story"):
        story_id = int(section.get_attribute("data-story-id"))
        members = set()
        for card in section.find_elements(By.CSS_SELECTOR, "article.item"):
            card_id = int(card.get_attribute("data-article-id"))
            members.add(card_id)
            # Each card shows its outlet, a title linking to the article, and a time.
            assert card.find_element(By.CSS_SELECTOR, ".outlet").text.strip()
            link = card.find_element(By.CSS_SELECTOR, "a.title")
            assert link.get_attribute("href").startswith("http://127.0.0.1:")
            assert card.find_elements(By.CSS_SELECTOR, "time") or "no date" in card.text
            for copy in card.find_elements(By.CSS_SELECTOR, "details.copies li.copy"):
                copy_id = int(copy.get_attribute("data-article-id"))
                members.add(copy_id)
                shown_copies[copy_id] = card_id
        assert story_id not in shown_stories, f"story {story_id} shown twice"
        shown_stories[story_id] = members
        assert int(section.get_attribute("data-size")) == len(members)

    assert shown_stories == expected_stories
    assert shown_copies == canonical_of
    # Copies are folded: closed <details> hide them until opened.
    copy_items = browser.find_elements(By.CSS_SELECTOR, "details.copies li.copy")
    assert copy_items and not any(item.is_displayed() for item in copy_items)
    browser.find_element(By.CSS_SELECTOR, "details.copies summary").click()
    assert any(item.is_displayed() for item in copy_items)

    # Newest, then largest, first: the clusters' "latest" times never increase down the page.
    latest = [dt.datetime.fromisoformat(section.find_element(By.CSS_SELECTOR, ".meta time").get_attribute("datetime"))
              for section in browser.find_elements(By.CSS_SELECTOR, "section.story")]
    assert latest == sorted(latest, reverse=True)

    # Crawl health: one row per site with an inline SVG chart holding one bar per day.
    engine = make_engine(crawled_db)
    with engine.connect() as conn:
        sites = set(conn.scalars(select(clean_articles.c.site).distinct()))
    engine.dispose()
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.site")
    assert {row.get_attribute("data-site") for row in rows} == sites
    for row in rows:
        bars = row.find_elements(By.CSS_SELECTOR, "svg.per-day rect.bar")
        assert len(bars) == 30
        # Everything was fetched just now, so today's bar (the last) is the tallest and non-empty.
        assert float(bars[-1].get_attribute("height")) > 0

    # Nothing on the page was fetched from elsewhere: only the file itself was loaded.
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources == []

    screenshot = tmp_path / "report.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000


# --- without a browser: the renderer on hand-made rows -----------------------------------------

def _insert(url: str, rows: list[dict]) -> None:
    from sqlalchemy.orm import Session

    from models import Article

    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        for values in rows:
            session.add(Article(**{
                "url": values["canonical_url"], "site": "evil.example", "authors": [], "text": "body",
                "content_hash": "0" * 64, "raw_html": b"x", "raw_encoding": "utf-8", "extractor_version": "t",
                "fetched_at": dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc), **values}))
    engine.dispose()


def test_report_escapes_text_and_refuses_script_links(sqlite_url):
    upgrade(sqlite_url)
    _insert(sqlite_url, [
        dict(id=1, canonical_url="https://evil.example/a", site_name="<b>Evil</b> & Co",
             title='<script>alert("x")</script>', dup_group_id=1, story_id=1, is_canonical=True,
             published_at=dt.datetime(2026, 3, 1, 9, tzinfo=dt.timezone.utc)),
        dict(id=2, canonical_url="javascript:alert(1)", site="other.example", title="copy \" onmouseover=x",
             dup_group_id=1, story_id=1, is_canonical=False, dup_similarity=0.93),
    ])
    engine = make_engine(sqlite_url)
    page = render_report(engine, now=dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc))
    engine.dispose()
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&lt;b&gt;Evil&lt;/b&gt; &amp; Co" in page
    assert 'href="javascript' not in page.lower()
    assert "copy &quot; onmouseover=x" in page
    # No external resources: the only URLs are the articles' links and the SVG namespace.
    assert "<link" not in page and "src=" not in page
    # The copy (no date, javascript: URL) is folded under the canonical article, as text.
    card = page[page.index('data-article-id="1"'):]
    assert card.index('class="copy" data-article-id="2"') < card.index("</article>")
    assert "1 near-duplicate copy" in page and "similarity 0.93" in page
    # Per-site health: one article of two has no publication date on other.example.
    assert 'data-site="other.example"' in page and "(1 of 1)" in page


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_report_orders_clusters_newest_then_largest(backend, request):
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    upgrade(url)
    day = lambda d: dt.datetime(2026, 3, d, tzinfo=dt.timezone.utc)  # noqa: E731
    _insert(url, [
        # story 1: two articles, newest 3 March
        dict(id=1, canonical_url="https://a.example/1", dup_group_id=1, story_id=1, published_at=day(1)),
        dict(id=2, canonical_url="https://a.example/2", dup_group_id=2, story_id=1, published_at=day(3)),
        # story 3: three articles, also newest 3 March: larger, so before story 1
        dict(id=3, canonical_url="https://a.example/3", dup_group_id=3, story_id=3, published_at=day(2)),
        dict(id=4, canonical_url="https://a.example/4", dup_group_id=4, story_id=3, published_at=day(3)),
        dict(id=5, canonical_url="https://a.example/5", dup_group_id=5, story_id=3, published_at=day(3)),
        # story 6: two articles, newest 5 March: first
        dict(id=6, canonical_url="https://a.example/6", dup_group_id=6, story_id=6, published_at=day(4)),
        dict(id=7, canonical_url="https://a.example/7", dup_group_id=7, story_id=6, published_at=day(5)),
        # story 8: a single article, not a cluster
        dict(id=8, canonical_url="https://a.example/8", dup_group_id=8, story_id=8, published_at=day(6)),
    ])
    engine = make_engine(url)
    page = render_report(engine, now=day(6))
    limited = render_report(engine, now=day(6), max_stories=1)
    engine.dispose()
    order = [int(part.split('"', 1)[0]) for part in page.split('class="story" data-story-id="')[1:]]
    assert order == [6, 3, 1]
    assert "(1 with a single article, not shown)" in page
    assert limited.count('class="story"') == 1 and "1 of 3 stories" in limited
    # All eight were fetched on 1 March: that day's bar says so, the other 29 days are empty.
    assert "<title>2026-03-01: 8</title>" in page and page.count(": 0</title>") == 29
    assert "(0 of 8)" in page


def test_report_command_help_and_bad_arguments(tmp_path):
    assert run_cli("report", "--help").returncode == 0
    assert run_cli("report", "--db", f"sqlite:///{tmp_path / 'r.db'}", "--days", "0").returncode == 2

