"""Runs that are interrupted, fail or are misused lose nothing, and say what happened.

Real kills of real crawls (subprocesses of the installed `newscrawl`) against local sites,
each followed by a re-run whose end state must equal an uninterrupted run's."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.badsite import CRAWL_FLAGS, SiteBuilder, consistency_problems, crawl, last_run, stored_articles
from tests.conftest import REPO, run_cli
from tests.test_cron import article_count, serving
from tests.test_cron import end_state as article_state

pytestmark = pytest.mark.integration

NEWSCRAWL = str(Path(sys.executable).parent / "newscrawl")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'int.db'}"
    return request.getfixturevalue("pg_url")


def end_state(db_url: str) -> dict:
    """Articles, texts, near-duplicate groups and stories (tests.test_cron.end_state), and the
    sites' learning: block counts, learned boilerplate and pages seen."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from models import SiteBlock, SiteProfile
    from models.db import make_engine

    state = article_state(db_url)
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            state["blocks"] = sorted((b.site, b.block_hash, b.page_count, b.is_boilerplate)
                                     for b in session.scalars(select(SiteBlock)))
            state["profiles"] = sorted((p.site, p.pages_seen) for p in session.scalars(select(SiteProfile)))
    finally:
        engine.dispose()
    return state


@pytest.fixture(scope="module")
def reference(sample_sites, sites_file, tmp_path_factory):
    db = f"sqlite:///{tmp_path_factory.mktemp('reference') / 'ref.db'}"
    result = run_cli("crawl", "--db", db, "--sites", str(sites_file), *CRAWL_FLAGS)
    assert result.returncode == 0, result.stdout + result.stderr
    return end_state(db)


def process_tree(pid: int) -> list[int]:
    """The pids of ``pid``'s process group (the crawl starts its own session)."""
    out = subprocess.run(["ps", "-eo", "pid=,pgid="], capture_output=True, text=True).stdout
    return [int(p) for p, g in (line.split() for line in out.splitlines()) if int(g) == pid and int(p) != pid]


def leftovers(pid: int, within: float = 10.0) -> list[int]:
    """The crawl's processes still alive ``within`` seconds after it ended."""
    deadline = time.monotonic() + within
    while process_tree(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    return process_tree(pid)


def children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout
    return [int(p) for p, pp in (line.split() for line in out.splitlines()) if int(pp) == pid]


@contextlib.contextmanager
def running_crawl(db_url: str, sites_file, tmp_path, *extra: str):
    command = [NEWSCRAWL, "crawl", "--db", db_url, "--sites", str(sites_file), *CRAWL_FLAGS, *extra]
    log = open(tmp_path / "crawl.log", "w+")
    # Its own session: a terminal's Ctrl-C goes to the whole process group, as killpg does here.
    process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process, log
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        for pid in process_tree(process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        log.close()


def wait_for_articles(db_url: str, process, count: int = 2, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while article_count(db_url) < count and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    assert process.poll() is None, "the crawl finished before it could be interrupted; slow the server down"


def output(log) -> str:
    log.flush()
    log.seek(0)
    return log.read()


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_signal_finishes_in_flight_pages_exits_interrupted_and_the_rerun_completes(
        signum, code, db_url, sample_sites, sites_file, reference, tmp_path):
    # Slow enough that fetching does not outrun reading: on a busy machine, at 0.5 s every page
    # was fetched and queued for reading before the second article was stored, so the signal
    # came too late to leave any page for the re-run.
    sample_sites.delay = 1.5
    try:
        with running_crawl(db_url, sites_file, tmp_path) as (process, log):
            wait_for_articles(db_url, process)
            os.killpg(process.pid, signum)  # the whole group, as Ctrl-C or `kill -TERM -PGID` does
            started = time.monotonic()
            assert process.wait(timeout=60) == code, output(log)
            took = time.monotonic() - started
            text = output(log)
            left = leftovers(process.pid)  # before running_crawl reaps what is left
    finally:
        sample_sites.delay = 0.0
    assert left == [], "processes outlived the interrupted crawl"
    assert took < 30
    assert "Traceback" not in text and "BrokenProcessPool" not in text, text
    assert f"crawl interrupted ({signal.Signals(signum).name})" in text
    assert len(stored_articles(db_url)) < len(reference["articles"])
    assert consistency_problems(db_url) == []
    run = last_run(db_url)
    assert run.status == "interrupted" and run.finished_at is not None

    again = run_cli("crawl", "--db", db_url, "--sites", str(sites_file), *CRAWL_FLAGS)
    assert again.returncode == 0, again.stdout + again.stderr
    assert end_state(db_url) == reference


def test_second_signal_exits_at_once(sample_sites, sites_file, tmp_path):
    db = f"sqlite:///{tmp_path / 'twice.db'}"
    sample_sites.delay = 2.0  # in-flight pages would keep the first signal's shutdown waiting
    try:
        with running_crawl(db, sites_file, tmp_path) as (process, log):
            wait_for_articles(db, process, count=1)
            os.killpg(process.pid, signal.SIGINT)
            time.sleep(0.3)
            started = time.monotonic()
            os.killpg(process.pid, signal.SIGINT)
            assert process.wait(timeout=30) == 130
            took = time.monotonic() - started
            text = output(log)
    finally:
        sample_sites.delay = 0.0
    assert took < 1.5, took
    assert "Traceback" not in text, text
    assert consistency_problems(db) == []


def test_sigkill_leaves_no_process_behind_and_the_rerun_completes(db_url, sample_sites, sites_file, reference, tmp_path):
    sample_sites.delay = 0.5
    try:
        with running_crawl(db_url, sites_file, tmp_path) as (process, log):
            wait_for_articles(db_url, process)
            group = process_tree(process.pid)
            assert group, "the extraction pool should be running"
            process.send_signal(signal.SIGKILL)  # the crawl process only, as the OOM killer would
            process.wait(timeout=30)
            left = leftovers(process.pid)
    finally:
        sample_sites.delay = 0.0
    assert left == [], f"processes outlived the killed crawl by 10 s: {left}"
    assert consistency_problems(db_url) == []
    again = run_cli("crawl", "--db", db_url, "--sites", str(sites_file), *CRAWL_FLAGS)
    assert again.returncode == 0, again.stdout + again.stderr
    assert end_state(db_url) == reference


def cmdline(pid: int) -> str:
    """A process's command line; "" once it has exited (a short-lived child may go between listing and reading)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def test_killed_worker_is_replaced_and_its_pages_retried(db_url, sample_sites, sites_file, reference, tmp_path):
    sample_sites.delay = 0.3
    try:
        with running_crawl(db_url, sites_file, tmp_path, "--set", "NEWSCRAWL_EXTRACT_PROCESSES=2") as (process, log):
            deadline = time.monotonic() + 60
            workers: list[int] = []
            while not workers and time.monotonic() < deadline and process.poll() is None:
                servers = [pid for pid in children_of(process.pid) if "forkserver" in cmdline(pid)]
                workers = [pid for server in servers for pid in children_of(server)]
                time.sleep(0.1)
            assert workers, "no extraction worker started"
            wait_for_articles(db_url, process, count=1)
            # Listed again now: a process seen under the fork server a moment ago may have been a
            # short-lived child that is gone (killing it raised ProcessLookupError in one CI run).
            workers = [pid for server in servers for pid in children_of(server)] or workers
            killed = 0
            for pid in workers:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
                except ProcessLookupError:
                    pass
            assert killed, "every extraction worker had exited before it could be killed"
            assert process.wait(timeout=120) == 0, output(log)
            text = output(log)
    finally:
        sample_sites.delay = 0.0
    assert "An extraction worker died" in text
    assert "Traceback" not in text, text
    assert last_run(db_url).status == "finished"
    assert end_state(db_url) == reference


def feed_site(root: Path, count: int = 8) -> SiteBuilder:
    """A site whose articles only its feed lists (as many sites' are), with conditional GET."""
    site = SiteBuilder(root, "feedonly")
    site.manifest["conditional_get"] = True
    for n in range(count):
        site.article(f"/news/2025/05/{n + 10}/feed-only-story-number-{n}/", f"Feed story {n}", 500 + n, linked=False)
    items = "".join(f"<item><title>{t}</title><link>{{{{BASE}}}}{p}</link></item>" for p, t in site.articles.items())
    site.page("/rss.xml", f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed only</title>'
                          f"<link>{{{{BASE}}}}/</link>{items}</channel></rss>")
    return site


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_interrupted_run_does_not_save_the_feed_validators_before_its_entries(signum, tmp_path):
    """Otherwise the next run gets 304 for the feed and never sees the entries not stored yet."""
    site = feed_site(tmp_path / "sites")
    db = f"sqlite:///{tmp_path / 'feed.db'}"
    with serving(site) as sites:
        feed = sites["feedonly"].url("/rss.xml")
        sites.delay = 0.7
        # Few requests in the downloader at once: those finish after a SIGTERM, the rest are left.
        command = [NEWSCRAWL, "crawl", "--db", db, *CRAWL_FLAGS, "--set", "CONCURRENT_REQUESTS=2", feed]
        with open(tmp_path / "feed.log", "w+") as log:
            process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                wait_for_articles(db, process, count=2)
                os.killpg(process.pid, signum)
                process.wait(timeout=60)
            finally:
                if process.poll() is None:
                    process.kill()
                for pid in process_tree(process.pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        assert len(stored_articles(db)) < len(site.articles)
        sites.delay = 0.0
        again = crawl(db, feed)
        assert again.returncode == 0, again.stdout + again.stderr
        assert len(stored_articles(db)) == len(site.articles)
        # A finished run saves them: the third run is answered 304.
        sites.requests.clear()
        assert crawl(db, feed).returncode == 0
        assert any(r.path == "/rss.xml" and "if-none-match" in r.headers for r in sites.requests)


def test_failed_entry_keeps_the_feed_validators_unsaved(tmp_path):
    """An entry whose fetch failed (a 503) is tried again by the next run: the feed is read in full."""
    site = feed_site(tmp_path / "sites", count=3)
    db = f"sqlite:///{tmp_path / 'entry.db'}"
    failing = next(iter(site.articles))
    with serving(site) as sites:
        sites.routes[("feedonly", failing)] = lambda request: (503, {"Content-Type": "text/plain"}, b"busy")
        feed = sites["feedonly"].url("/rss.xml")
        first = crawl(db, feed, settings=("RETRY_TIMES=0",))
        assert first.returncode in (0, 3), first.stderr
        assert len(stored_articles(db)) == 2
        del sites.routes[("feedonly", failing)]
        sites.requests.clear()
        assert crawl(db, feed).returncode == 0
        assert len(stored_articles(db)) == 3


def test_dead_and_misspelt_sites_exit_3_and_show_in_status(tmp_path):
    site = SiteBuilder(tmp_path / "sites", "alive")
    site.article("/news/2025/05/01/the-alive-story-one/", "Alive", 900)
    db = f"sqlite:///{tmp_path / 'dead.db'}"
    with serving(site) as sites:
        result = crawl(db, sites["alive"].url("/"), "http://no-such-site-newscrawl.invalid/", "http://127.0.0.1:9/",
                       settings=("RETRY_TIMES=0",))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Site no-such-site-newscrawl.invalid: nothing fetched (dns)" in result.stdout
    assert "Site 127.0.0.1:9: nothing fetched (connection_refused)" in result.stdout
    assert "Traceback" not in result.stderr and "ERROR" not in result.stderr, result.stderr
    run = last_run(db)
    assert run.status == "partial"
    assert run.sites["no-such-site-newscrawl.invalid"]["problem"] == "nothing fetched (dns)"
    assert "127.0.0.1:9" in run.sites and run.sites[site_of_alive(sites)].get("stored") == 1
    status = run_cli("status", "--db", db)
    assert status.returncode == 3
    assert "no-such-site-newscrawl.invalid: nothing fetched (dns)" in status.stdout


def site_of_alive(sites) -> str:
    from crawler.page.urls import site_of

    return site_of(sites["alive"].url("/"))


def test_private_start_url_refusal_suggests_allow_private(tmp_path):
    site = SiteBuilder(tmp_path / "sites", "local")
    site.article("/news/2025/05/01/a-local-story-here/", "Local", 901)
    db = f"sqlite:///{tmp_path / 'private.db'}"
    with serving(site) as sites:
        result = run_cli("--quiet", "crawl", "--db", db, sites["local"].url("/"))
        scrapy = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"urls={sites['local'].url('/')}",
                                 "-s", f"DATABASE_URL={db}", "-s", "LOG_LEVEL=ERROR"],
                                cwd=REPO, capture_output=True, text=True, timeout=120)
        allowed_db = f"sqlite:///{tmp_path / 'allowed.db'}"
        allowed = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"urls={sites['local'].url('/')}",
                                  "-s", f"DATABASE_URL={allowed_db}", "-s", "NEWSCRAWL_ALLOW_PRIVATE=True",
                                  "-s", "LOG_LEVEL=ERROR"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 3
    assert "--allow-private" in result.stderr and "NEWSCRAWL_ALLOW_PRIVATE=True" in result.stderr
    assert "nothing fetched (private_address)" in result.stdout
    assert "--allow-private" in scrapy.stderr
    assert allowed.returncode == 0, allowed.stderr  # the development path, as the README documents it
    assert len(stored_articles(allowed_db)) == 1


def test_skips_are_debug_lines_and_a_grouped_summary(tmp_path):
    site = SiteBuilder(tmp_path / "sites", "holes")
    site.article("/news/2025/05/01/the-one-real-story/", "Real", 902)
    site.link(*(f"/news/2025/05/02/missing-story-{n}/" for n in range(12)))
    db = f"sqlite:///{tmp_path / 'holes.db'}"
    with serving(site) as sites:
        result = crawl(db, sites["holes"].url("/"))
        debug = crawl(f"sqlite:///{tmp_path / 'holes2.db'}", sites["holes"].url("/"), options=("-vv",))
    assert result.returncode == 0
    assert "missing-story" not in result.stderr, result.stderr  # no line per 404
    summary = [line for line in result.stdout.splitlines() if "http_404" in line and not line.startswith("Completeness")]
    assert "http_404=12" in result.stdout
    assert len(summary) == 2 and summary[1].count("missing-story") == 3, result.stdout
    assert debug.stderr.count("missing-story") >= 12


def test_dead_ends_are_remembered_per_site_and_refresh_overrides(db_url, tmp_path):
    from models import DeadEnd
    from models.db import make_engine
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    site = SiteBuilder(tmp_path / "sites", "dead")
    site.article("/news/2025/05/01/the-living-story/", "Living", 910)
    missing = [f"/news/2025/05/02/removed-story-{n}/" for n in range(4)]
    flaky = "/news/2025/05/03/flaky-backend-story/"
    site.link(*missing, flaky)
    with serving(site) as sites:
        sites.routes[("dead", flaky)] = lambda request: (503, {"Content-Type": "text/plain"}, b"busy")
        home = sites["dead"].url("/")
        for run in range(3):
            result = crawl(db_url, home, settings=("RETRY_TIMES=0", "NEWSCRAWL_DEAD_END_FAILURES=2"))
            assert result.returncode == 0, result.stdout + result.stderr
            requested = {path for slug, path in sites.request_log if slug == "dead"}
            sites.request_log.clear()
            if run == 0:
                assert set(missing) | {flaky} <= requested
            elif run == 1:  # the 404s are dead at once; the 503 has failed once
                assert not set(missing) & requested and flaky in requested
                assert last_run(db_url).skips.get("dead_end") == len(missing)
            else:  # and now the 503 too, after its second failure in a row
                assert not (set(missing) | {flaky}) & requested
        engine = make_engine(db_url)
        try:
            with Session(engine) as session:
                rows = {row.url.split("/", 3)[3]: row for row in session.scalars(select(DeadEnd))}
        finally:
            engine.dispose()
        assert {"/" + p.lstrip("/") for p in rows} == set(missing) | {flaky}
        assert all(row.site == site_of(home) and row.dead_until is not None for row in rows.values())
        assert rows[flaky.lstrip("/")].reason == "http_503" and rows[flaky.lstrip("/")].failures == 2

        # --refresh requests them again; a URL that answers again is forgotten.
        del sites.routes[("dead", flaky)]
        site.article(flaky, "Flaky is back", 911, linked=False)
        assert crawl(db_url, home, args=("--refresh",)).returncode == 0
        requested = {path for slug, path in sites.request_log if slug == "dead"}
        assert set(missing) | {flaky} <= requested
    assert flaky.rstrip("/") in " ".join(stored_articles(db_url))
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            assert flaky.lstrip("/") not in {row.url.split("/", 3)[3] for row in session.scalars(select(DeadEnd))}
    finally:
        engine.dispose()


def site_of(url: str) -> str:
    from crawler.page.urls import site_of as _site_of

    return _site_of(url)


def pg_admin(url: str | None = None):
    """A plain connection to the test server (``url``: to that database; advisory locks are per database)."""
    import psycopg

    from tests.conftest import PG_ADMIN_URL

    return psycopg.connect((url or PG_ADMIN_URL).replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


@pytest.mark.postgres
def test_killed_database_connections_are_retried_and_the_run_completes(pg_url, sample_sites, sites_file, reference,
                                                                       tmp_path):
    sample_sites.delay = 0.3
    try:
        with running_crawl(pg_url, sites_file, tmp_path) as (process, log), pg_admin() as admin:
            wait_for_articles(pg_url, process)
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()", (database_name(pg_url),)).fetchone()[0]
            assert killed >= 2  # the store's connection and the run lock's
            code = process.wait(timeout=120)
            text = output(log)
    finally:
        sample_sites.delay = 0.0
    assert code == 0, text
    assert "Traceback" not in text, text
    assert last_run(pg_url).status == "finished"
    assert consistency_problems(pg_url) == []
    assert end_state(pg_url) == reference


@pytest.mark.postgres
def test_a_run_that_lost_its_lock_stops_storing_once_another_run_holds_it(pg_url, sample_sites, sites_file,
                                                                          reference, tmp_path):
    from crawler.store.runlock import ADVISORY_LOCK_KEY, COMMIT_GATE_KEY

    lock_row = ("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                "AND database = (SELECT oid FROM pg_database WHERE datname = %s) AND classid = %s AND objid = %s")
    key = (database_name(pg_url), ADVISORY_LOCK_KEY >> 32, ADVISORY_LOCK_KEY & 0xFFFFFFFF)
    sample_sites.delay = 0.3
    try:
        with running_crawl(pg_url, sites_file, tmp_path) as (process, log), pg_admin() as admin, \
                pg_admin(pg_url) as second_run:
            wait_for_articles(pg_url, process)
            # The connection holding the run lock ends (a pooler restart, idle_session_timeout), and a
            # second run takes the lock at once, as `newscrawl crawl` does: the lock, then the commit gate.
            # The second run holds the commit gate while it takes the lock, so that the first run
            # cannot win the race for the freed lock with its next commit (its check waits on the gate).
            second_run.execute("SELECT pg_advisory_lock(%s)", (COMMIT_GATE_KEY,))
            holder = admin.execute(lock_row, key).fetchone()[0]
            admin.execute("SELECT pg_terminate_backend(%s)", (holder,))
            deadline = time.monotonic() + 10
            while not second_run.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_LOCK_KEY,)).fetchone()[0]:
                assert time.monotonic() < deadline, "the terminated connection kept the lock"
                time.sleep(0.01)
            second_run.execute("SELECT pg_advisory_unlock(%s)", (COMMIT_GATE_KEY,))
            stored_when_second_started = article_count(pg_url)
            code = process.wait(timeout=120)
            text = output(log)
            assert article_count(pg_url) == stored_when_second_started, "the first run stored after losing its lock"
            second_run.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
    finally:
        sample_sites.delay = 0.0
    assert code == 1, text
    assert "lost its PostgreSQL run lock" in text
    assert "Traceback" not in text and "KeyError" not in text, text
    assert last_run(pg_url).status == "failed"
    again = run_cli("crawl", "--db", pg_url, "--sites", str(sites_file), *CRAWL_FLAGS)
    assert again.returncode == 0, again.stdout + again.stderr
    assert consistency_problems(pg_url) == []
    assert end_state(pg_url) == reference


def test_a_site_whose_pages_give_no_article_is_reported(tmp_path):
    site = SiteBuilder(tmp_path / "sites", "hollow")
    for n in range(3):
        site.article(f"/news/2025/05/0{n + 1}/hollow-story-number-{n}/", f"Hollow story {n}", 920 + n)
    db = f"sqlite:///{tmp_path / 'hollow.db'}"
    with serving(site) as sites:
        # Every article page fails extraction, as after a template change the extractor cannot read.
        result = crawl(db, sites["hollow"].url("/"), settings=("NEWSCRAWL_MIN_TEXT_CHARS=100000",))
    run = last_run(db)
    hollow = site_of(sites["hollow"].url("/"))
    # Pages with no text worth the name are judged not to be articles (crawler.page.classify), so the
    # site's three story pages count as pages without article text.
    assert run.sites[hollow].get("too_little_text") == 3 and not run.sites[hollow].get("stored"), result.stdout
    assert run.sites[hollow]["problem"] == "no article text from 3 pages"
    assert result.returncode == 3
    assert f"Site {hollow}: no article text from 3 pages" in result.stdout
    status = run_cli("status", "--db", db)
    assert hollow in status.stdout
