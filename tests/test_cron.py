"""Cron-grade behaviour of `newscrawl crawl`: locking, exit codes, incremental runs,
crash safety, the run report, `newscrawl status`, and the address guard."""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from crawler.store.runlock import run_lock
from crawler.ops.sampleserver import serve_sample_sites
from models import Article, CrawlRun
from models.db import make_engine, upgrade
from tests.badsite import (
    CRAWL_FLAGS,
    SiteBuilder,
    consistency_problems,
    crawl,
    crawl_runs,
    last_run,
    stored_articles,
)
from tests.conftest import REPO, run_cli

pytestmark = pytest.mark.integration

SLUG = "cron"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cron.db'}"
    return request.getfixturevalue("pg_url")


def good_site(root: Path, slug: str = SLUG, count: int = 2) -> SiteBuilder:
    site = SiteBuilder(root, slug)
    for n in range(count):
        site.article(f"/news/2025/05/0{n + 1}/{slug}-good-story-number-{n + 1}/", f"{slug} story {n + 1}", 100 + n)
    return site


@contextlib.contextmanager
def serving(*builders: SiteBuilder):
    for builder in builders:
        builder.write()
    with serve_sample_sites(root=builders[0].root) as sites:
        yield sites


def requests_for(sites, slug: str, path: str):
    return [r for r in sites.requests if r.slug == slug and r.path == path]


# 13 ------------------------------------------------------------------------

def test_second_run_exits_75_at_once_while_the_lock_is_held(db_url, tmp_path):
    site = good_site(tmp_path / "sites")
    with serving(site) as sites, run_lock(db_url):
        started = time.monotonic()
        result = crawl(db_url, sites[SLUG].url("/"))
        took = time.monotonic() - started
        assert sites.request_log == [], "a locked-out run must not fetch anything"
    assert result.returncode == 75, result.stdout + result.stderr
    assert "another newscrawl run holds" in result.stderr and "not starting a second run" in result.stderr
    assert took < 20
    assert crawl_runs(db_url) == []
    # Once the lock is released, the next run proceeds.
    with serving(site) as sites:
        assert crawl(db_url, sites[SLUG].url("/")).returncode == 0


# 14 ------------------------------------------------------------------------

def test_run_with_mostly_failed_fetches_exits_3_and_is_partial(tmp_path):
    site = SiteBuilder(tmp_path / "sites", SLUG)
    broken = [f"/news/2025/05/1{n}/story-behind-a-broken-backend-{n}/" for n in range(4)]
    site.link(*broken)
    db = f"sqlite:///{tmp_path / 'partial.db'}"
    with serving(site) as sites:
        for path in broken:
            sites.routes[(SLUG, path)] = lambda r: (503, {"Content-Type": "text/html", "Retry-After": "0"}, b"busy")
        result = crawl(db, sites[SLUG].url("/"))
        assert result.returncode == 3, result.stdout + result.stderr
        assert last_run(db).status == "partial"
        assert last_run(db).errors == {"http_503": 4}

        quiet = crawl(db, sites[SLUG].url("/"), options=("--quiet",))  # cron: one line to mail, nothing else
        assert quiet.returncode == 3
        assert quiet.stderr == "", quiet.stderr
        lines = quiet.stdout.splitlines()
        assert len(lines) == 1 and "partial" in lines[0] and "http_503=4" in lines[0], quiet.stdout


def test_quiet_successful_run_prints_nothing(tmp_path):
    site = good_site(tmp_path / "sites")
    db = f"sqlite:///{tmp_path / 'quiet.db'}"
    with serving(site) as sites:
        result = crawl(db, sites[SLUG].url("/"), options=("--quiet",))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    assert len(stored_articles(db)) == 2


# 15 + 17 -------------------------------------------------------------------

FEED_ONLY = {"old": "/news/2024/12/01/old-story-only-in-the-feed/", "new": "/news/2025/06/01/new-story-only-in-the-feed/"}


def incremental_site(root: Path) -> SiteBuilder:
    site = good_site(root)
    site.manifest["conditional_get"] = True  # ETag and Last-Modified on static files, 304 when unchanged
    site.article(FEED_ONLY["old"], "An old story from the feed", 201, linked=False, published="2024-12-01T08:00:00+00:00")
    site.article(FEED_ONLY["new"], "A new story from the feed", 202, linked=False, published="2025-06-01T08:00:00+00:00")
    items = "".join(
        f"<item><title>{kind}</title><link>{{{{BASE}}}}{path}</link><pubDate>{date}</pubDate></item>"
        for kind, path, date in (("old", FEED_ONLY["old"], "Sun, 01 Dec 2024 08:00:00 GMT"),
                                 ("new", FEED_ONLY["new"], "Sun, 01 Jun 2025 08:00:00 GMT")))
    site.page("/rss.xml", f'<?xml version="1.0"?><rss version="2.0"><channel><title>Cron</title>'
                          f'<link>{{{{BASE}}}}/</link>{items}</channel></rss>')
    dates = {FEED_ONLY["old"]: "2024-12-01", FEED_ONLY["new"]: "2025-06-01"}
    site.page("/sitemap.xml", '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                              + "".join(f"<url><loc>{{{{BASE}}}}{p}</loc><lastmod>{dates.get(p, '2025-05-01')}</lastmod></url>"
                                        for p in site.articles) + "</urlset>")
    site.robots("User-agent: *\nAllow: /\nSitemap: {{BASE}}/sitemap.xml\n")
    return site


def test_incremental_runs_skip_stored_urls_and_use_conditional_get(tmp_path):
    site = incremental_site(tmp_path / "sites")
    db = f"sqlite:///{tmp_path / 'incr.db'}"
    with serving(site) as sites:
        start = [sites[SLUG].url("/"), sites[SLUG].url("/rss.xml")]
        article_paths = set(site.articles)

        first = crawl(db, *start)
        assert first.returncode == 0, first.stdout + first.stderr
        assert {sites[SLUG].url(p) for p in article_paths} == set(stored_articles(db))
        assert {p for _, p in sites.request_log} >= article_paths

        sites.request_log.clear()
        sites.requests.clear()
        second = crawl(db, *start)
        assert second.returncode == 0, second.stdout + second.stderr
        refetched = article_paths & {p for _, p in sites.request_log}
        assert not refetched, f"stored articles fetched again: {refetched}"
        for path in ("/rss.xml", "/sitemap.xml"):
            conditional = requests_for(sites, SLUG, path)
            assert conditional and all("if-none-match" in r.headers for r in conditional), path
        run = last_run(db)
        assert run.articles_new == 0 and run.status == "finished"
        assert run.skips.get("known", 0) >= 2  # the home page's links
        assert len(crawl_runs(db)) == 2

        sites.request_log.clear()
        sites.requests.clear()
        refresh = crawl(db, *start, args=("--refresh",))
        assert refresh.returncode == 0, refresh.stdout + refresh.stderr
        assert article_paths <= {p for _, p in sites.request_log}
        assert not any("if-none-match" in r.headers for r in requests_for(sites, SLUG, "/rss.xml"))
        assert last_run(db).articles_unchanged == len(article_paths)

        fresh = f"sqlite:///{tmp_path / 'since.db'}"
        sites.request_log.clear()
        since = crawl(fresh, sites[SLUG].url("/rss.xml"), args=("--since", "2025-01-01"))
        assert since.returncode == 0, since.stdout + since.stderr
        assert (SLUG, FEED_ONLY["old"]) not in sites.request_log
        # The old story is listed by the feed and the sitemap; both entries are skipped.
        assert set(stored_articles(fresh)) == {sites[SLUG].url(p) for p in article_paths - {FEED_ONLY["old"]}}
        assert last_run(fresh).skips.get("before_since") == 2


def test_304_answers_are_handled(tmp_path):
    """The feed and the sitemap answer 304 to the validators the first run saved: nothing fails, nothing is re-read."""
    site = incremental_site(tmp_path / "sites")
    db = f"sqlite:///{tmp_path / 'nm.db'}"
    with serving(site) as sites:
        assert crawl(db, sites[SLUG].url("/rss.xml")).returncode == 0
        sites.requests.clear()
        second = crawl(db, sites[SLUG].url("/rss.xml"), options=("-v",))
        assert second.returncode == 0, second.stderr
        for path in ("/rss.xml", "/sitemap.xml"):
            requests = requests_for(sites, SLUG, path)
            assert len(requests) == 1 and requests[0].headers.get("if-none-match", "").startswith('"'), path
    run = last_run(db)
    assert run.errors == {} and run.skips == {} and run.articles_new == 0
    assert "'newscrawl/pages/not_modified': 2" in second.stderr


# 16 ------------------------------------------------------------------------

def end_state(db_url: str) -> dict:
    rows = list(stored_articles(db_url).values())

    def path(url: str) -> str:
        return url.split("/", 3)[3]

    def partition(key: str):
        groups: dict = {}
        for row in rows:
            groups.setdefault(getattr(row, key), set()).add(path(row.canonical_url))
        return sorted(sorted(g) for g in groups.values())

    return {
        "articles": sorted((path(r.canonical_url), r.title, r.text) for r in rows),
        "dup_groups": partition("dup_group_id"),
        "stories": partition("story_id"),
    }


@pytest.fixture(scope="module")
def reference_state(sample_sites, sites_file, tmp_path_factory):
    db = f"sqlite:///{tmp_path_factory.mktemp('reference') / 'ref.db'}"
    result = run_cli("crawl", "--db", db, "--sites", str(sites_file), *CRAWL_FLAGS)
    assert result.returncode == 0, result.stdout + result.stderr
    return end_state(db)


def article_count(db_url: str) -> int:
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            return session.scalar(select(func.count()).select_from(Article)) or 0
    except SQLAlchemyError:
        return 0  # schema not there yet
    finally:
        engine.dispose()


def test_killed_crawl_leaves_a_consistent_database_and_the_next_run_completes(
        db_url, sample_sites, sites_file, reference_state, tmp_path):
    script = Path(sys.executable).parent / "newscrawl"
    command = [str(script), "crawl", "--db", db_url, "--sites", str(sites_file), *CRAWL_FLAGS]
    sample_sites.delay = 0.3  # slow enough to be mid-crawl when killed
    process = None
    try:
        with open(tmp_path / "killed.log", "w") as log:
            # Its own session, so that whatever the killed crawl leaves behind can be reaped below.
            process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
            deadline = time.monotonic() + 90
            while article_count(db_url) < 2 and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.1)
            assert process.poll() is None, "the crawl finished before it could be killed; slow the server down"
            process.send_signal(signal.SIGKILL)  # the crawl process only, as the OOM killer would
            process.wait(timeout=30)
    finally:
        sample_sites.delay = 0.0
        if process is not None:
            # Extraction workers outlive a SIGKILLed parent: end them (they hold no database state).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
    killed_with = article_count(db_url)
    assert killed_with >= 2
    assert killed_with < len(reference_state["articles"]), "killed after the crawl had stored everything"
    assert consistency_problems(db_url) == []
    interrupted = last_run(db_url)
    assert interrupted.finished_at is None and interrupted.status == "running"

    again = run_cli("crawl", "--db", db_url, "--sites", str(sites_file), *CRAWL_FLAGS)
    assert again.returncode == 0, again.stdout + again.stderr  # the dead run's lock died with it
    assert consistency_problems(db_url) == []
    assert end_state(db_url) == reference_state


# 17 ------------------------------------------------------------------------

def test_same_crawl_twice_adds_nothing(tmp_path):
    site = good_site(tmp_path / "sites", count=3)
    db = f"sqlite:///{tmp_path / 'twice.db'}"
    with serving(site) as sites:
        assert crawl(db, sites[SLUG].url("/")).returncode == 0
        before = {url: (a.id, a.text, a.dup_group_id) for url, a in stored_articles(db).items()}
        second = crawl(db, sites[SLUG].url("/"))
    assert second.returncode == 0 and "articles new 0" in second.stdout
    assert {url: (a.id, a.text, a.dup_group_id) for url, a in stored_articles(db).items()} == before
    first_run, second_run = crawl_runs(db)
    assert first_run.articles_new == 3
    assert (second_run.articles_new, second_run.articles_updated) == (0, 0)


# 18 ------------------------------------------------------------------------

def test_crawl_runs_row_records_the_run(tmp_path):
    site = good_site(tmp_path / "sites")
    site.article("/private/news/2025/05/09/hidden-story-here-now/", "Hidden", 300)
    site.link("/news/2025/05/10/missing-story-link-here/", "/news/2025/05/11/broken-backend-story/")
    site.robots("User-agent: *\nDisallow: /private/\n")
    db = f"sqlite:///{tmp_path / 'runs.db'}"
    with serving(site) as sites:
        sites.routes[(SLUG, "/news/2025/05/11/broken-backend-story/")] = lambda r: (503, {}, b"")
        before = dt.datetime.now(dt.timezone.utc)
        result = crawl(db, sites[SLUG].url("/"), settings=("RETRY_TIMES=0",))
        after = dt.datetime.now(dt.timezone.utc)
        assert result.returncode == 0, result.stdout + result.stderr
        served = len(sites.request_log)
        run = last_run(db)
        check_first_run_row(run, sites, served, before, after)

        # An article that changed is "updated" on a refresh; one that did not, "unchanged".
        changed = next(iter(site.articles))
        page = site.public / changed.lstrip("/") / "index.html"
        page.write_text(page.read_text().replace("</article>", "<p>Update: officials confirmed the figures "
                                                 "on Tuesday evening, adding that the inquiry would report "
                                                 "its findings before the end of the year.</p></article>"))
        result = crawl(db, sites[SLUG].url("/"), args=("--refresh",), settings=("RETRY_TIMES=0",))
        assert result.returncode == 0
        run = last_run(db)
        assert (run.articles_new, run.articles_updated, run.articles_unchanged) == (0, 1, 1)

    status = run_cli("status", "--db", db)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "Last 2 runs" in status.stdout
    assert "http_503=1" in status.stdout
    assert f"127.0.0.1:{sites[SLUG].port}" in status.stdout
    assert "WARNING" not in status.stdout


def check_first_run_row(run, sites, served, before, after):
    assert before <= run.started_at <= run.finished_at <= after
    assert run.status == "finished" and run.finish_reason == "finished"
    assert run.start_urls == [sites[SLUG].url("/")]
    assert run.pages_fetched == served
    assert (run.articles_new, run.articles_updated, run.articles_unchanged) == (2, 0, 0)
    assert run.skips == {"http_404": 1, "robots_disallowed": 1}
    assert run.errors == {"http_503": 1}
    assert run.sites == {f"127.0.0.1:{sites[SLUG].port}": {"article_pages": 2, "stored": 2}}
    assert run.pid and run.host


def _runs_with_yields(db: str, site: str, yields: list[tuple[int, int]]) -> None:
    upgrade(db)
    engine = make_engine(db)
    start = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    with Session(engine) as session, session.begin():
        for n, (pages, stored) in enumerate(yields):
            session.add(CrawlRun(
                started_at=start + dt.timedelta(days=n), finished_at=start + dt.timedelta(days=n, minutes=5),
                status="finished", finish_reason="finished", start_urls=[f"https://{site}/"],
                pages_fetched=pages + 3, articles_new=stored, articles_updated=0, articles_unchanged=0,
                skips={}, errors={}, sites={site: {"article_pages": pages, "stored": stored}},
            ))
    engine.dispose()


def test_status_warns_when_a_site_yield_drops(tmp_path):
    healthy = f"sqlite:///{tmp_path / 'healthy.db'}"
    _runs_with_yields(healthy, "news.example", [(20, 19), (20, 20), (18, 17), (20, 18)])
    result = run_cli("status", "--db", healthy)
    assert result.returncode == 0 and "WARNING" not in result.stdout, result.stdout

    dropped = f"sqlite:///{tmp_path / 'dropped.db'}"
    _runs_with_yields(dropped, "news.example", [(20, 19), (20, 20), (18, 17), (20, 3)])
    result = run_cli("status", "--db", dropped)
    assert result.returncode == 3, result.stdout + result.stderr
    warnings = [line for line in result.stdout.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1 and "news.example" in warnings[0] and "15%" in warnings[0], result.stdout
    assert "Last 4 runs" in result.stdout


# 19 ------------------------------------------------------------------------

def test_guard_refuses_a_redirect_from_an_allowed_site_to_another_private_one(tmp_path):
    root = tmp_path / "sites"
    allowed = good_site(root, "allowed")
    other = good_site(root, "other")
    allowed.link("/news/2025/05/20/story-moved-to-another-host/")
    db = f"sqlite:///{tmp_path / 'guard.db'}"
    with serving(allowed, other) as sites:
        target = sites["other"].url(next(iter(other.articles)))
        sites.routes[("allowed", "/news/2025/05/20/story-moved-to-another-host/")] = lambda r: (
            302, {"Location": target}, b"")
        result = run_cli("crawl", "--db", db, "--set", "AUTOTHROTTLE_ENABLED=False", "--set", "DOWNLOAD_DELAY=0",
                         "--set", f"NEWSCRAWL_ALLOWED_PRIVATE_HOSTS=127.0.0.1:{sites['allowed'].port}",
                         sites["allowed"].url("/"))
        assert result.returncode == 0, result.stdout + result.stderr
        assert [p for slug, p in sites.request_log if slug == "other"] == [], "the guard let a redirect through"
        assert (("allowed", "/news/2025/05/20/story-moved-to-another-host/") in sites.request_log)
    assert set(stored_articles(db)) == {sites["allowed"].url(p) for p in allowed.articles}
    assert last_run(db).skips.get("private_address") == 1
    assert "private_address=1" in result.stdout


def test_user_agent_identifies_the_crawler_and_is_configurable(tmp_path):
    site = good_site(tmp_path / "sites", count=1)
    with serving(site) as sites:
        assert crawl(f"sqlite:///{tmp_path / 'ua1.db'}", sites[SLUG].url("/")).returncode == 0
        agents = {r.headers.get("user-agent") for r in sites.requests}
        assert len(agents) == 1
        default = agents.pop()
        assert default.startswith("newscrawl/") and "+http" in default  # who we are, and how to reach us
        sites.requests.clear()
        custom = "ExampleNewsBot/2.0 (+mailto:crawler@example.org)"
        assert crawl(f"sqlite:///{tmp_path / 'ua2.db'}", sites[SLUG].url("/"),
                     settings=(f"USER_AGENT={custom}",)).returncode == 0
        assert {r.headers.get("user-agent") for r in sites.requests} == {custom}
