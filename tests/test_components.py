"""Components in-process (scrapy.utils.test.get_crawler): the outcome vocabulary, the
crawl configuration, the listing-depth and conditional-GET middlewares, and the
Signature's byte form."""
from __future__ import annotations

import asyncio
import pickle

import numpy as np
import pytest
import scrapy
from scrapy.exceptions import CannotResolveHostError, DownloadTimeoutError, IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.utils.project import get_project_settings
from scrapy.utils.reactor import install_reactor, is_reactor_installed
from scrapy.utils.test import get_crawler
from sqlalchemy.orm import Session

from crawler.config import CrawlConfig, SettingError
from crawler.middlewares.conditional import ConditionalGetMiddleware, listing_entry_failed, listing_read
from crawler.middlewares.listing import ListingDepthMiddleware
from crawler.ops import cli
from crawler.outcomes import (
    DeadEndError,
    PrivateAddressError,
    Reason,
    exception_reason,
    is_failure,
    split_reasons,
)
from crawler.spiders.news import NewsSpider
from dedupe.grouping import Signature
from models import FetchState, make_engine, upgrade


def project_crawler(tmp_path, **overrides):
    if not is_reactor_installed():
        install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    project = {k: v for k, v in get_project_settings().copy_to_dict().items() if k != "TWISTED_REACTOR"}
    crawler = get_crawler(NewsSpider, settings_dict={
        **project, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}", "NEWSCRAWL_EXTRACT_PROCESSES": 0,
        **overrides})
    crawler.stats.open_spider()
    return crawler


# --- outcomes -------------------------------------------------------------------------


@pytest.mark.parametrize("exc, reason", [
    (CannotResolveHostError("x"), Reason.DNS),
    (DownloadTimeoutError("x"), Reason.TIMEOUT),
    (PrivateAddressError("10.0.0.1"), Reason.PRIVATE_ADDRESS),
    (DeadEndError("gone"), Reason.DEAD_END),
    (IgnoreRequest("Forbidden by robots.txt"), Reason.ROBOTS_DISALLOWED),
    (RuntimeError("something new"), Reason.FETCH_ERROR),
])
def test_every_exception_has_one_declared_reason(exc, reason):
    assert exception_reason(exc) is reason


def test_failures_are_read_from_the_declarations_not_from_prefixes():
    assert is_failure("http_503") and not is_failure("http_404")
    assert is_failure(Reason.TIMEOUT) and is_failure(Reason.WORKER_CRASHED)
    assert not is_failure(Reason.KNOWN) and not is_failure(Reason.ROBOTS_DISALLOWED)
    assert not is_failure("connection_of_some_future_kind")  # undeclared: a chosen skip, not a failure
    skips, failures = split_reasons({"newscrawl/skipped/dns": 2, "newscrawl/skipped/known": 5,
                                     "newscrawl/skipped/http_500": 1, "newscrawl/errors/storage": 1})
    assert skips == {"known": 5}
    assert failures == {"dns": 2, "http_500": 1, "storage": 1}


# --- configuration ----------------------------------------------------------------------


@pytest.mark.parametrize("name, value", [
    ("NEWSCRAWL_SINCE", "last tuesday"),
    ("NEWSCRAWL_LISTING_DEPTH", "0"),
    ("NEWSCRAWL_BOILERPLATE_MIN_PAGES", "1"),
    ("NEWSCRAWL_DEDUPE_THRESHOLD", "1.5"),
])
def test_a_bad_value_is_refused_with_the_setting_name(tmp_path, name, value):
    with pytest.raises(SettingError, match=name):
        CrawlConfig.from_settings(project_crawler(tmp_path, **{name: value}).settings)


@pytest.mark.parametrize("command", [["crawl", "http://news.example/"], ["ingest", "a.warc"]])
def test_a_bad_value_exits_2_on_every_command(tmp_path, capsys, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.warc").write_bytes(b"")
    argv = [command[0], "--db", str(tmp_path / "x.db"), "--set", "NEWSCRAWL_SINCE=yesterday-ish", *command[1:]]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "NEWSCRAWL_SINCE" in err and "Traceback" not in err


def test_config_is_built_once_per_crawler(tmp_path):
    crawler = project_crawler(tmp_path, NEWSCRAWL_SINCE="2025-01-01")
    config = CrawlConfig.of(crawler)
    assert CrawlConfig.of(crawler) is config
    assert config.since.year == 2025 and config.extraction.min_text_chars > 0


# --- listing depth ----------------------------------------------------------------------


def _response(url: str, **meta) -> Response:
    return Response(url, request=scrapy.Request(url, meta={"site": "news.example", **meta}))


def test_listing_links_are_followed_up_to_the_depth_and_counted_past_it(tmp_path):
    crawler = project_crawler(tmp_path, NEWSCRAWL_LISTING_DEPTH=2)
    middleware = ListingDepthMiddleware.from_crawler(crawler)
    home = _response("http://news.example/", via="start")
    middleware.process_spider_input(home)
    assert home.meta["follow_links"] is True
    out = list(middleware.process_spider_output(home, [scrapy.Request("http://news.example/world/",
                                                                      meta={"via": "listing"})]))
    assert out[0].meta["listing_hops"] == 1

    deepest = _response("http://news.example/world/page/2/", via="listing", listing_hops=2)
    middleware.process_spider_input(deepest)
    assert deepest.meta["follow_links"] is False
    links = [scrapy.Request("http://news.example/a/", meta={"via": "listing"}),
             scrapy.Request("http://news.example/feed.xml", meta={"via": "feed"})]  # feeds are not hops
    out = list(middleware.process_spider_output(deepest, links))
    assert [r.url for r in out] == ["http://news.example/feed.xml"]
    assert crawler.stats.get_value("newscrawl/skipped/over_listing_depth") == 1


def test_the_news_spider_brings_its_listing_middleware_along(tmp_path):
    project_crawler(tmp_path)  # installs the reactor
    crawler = get_crawler(NewsSpider, settings_dict={"SPIDER_MIDDLEWARES": {}})
    assert "crawler.middlewares.listing.ListingDepthMiddleware" in crawler.settings.getdict("SPIDER_MIDDLEWARES")


# --- conditional GET --------------------------------------------------------------------


def _with_validators(tmp_path, validators):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    import datetime as dt

    with Session(engine) as session, session.begin():
        for feed, (etag, modified) in validators.items():
            session.add(FetchState(url=feed, etag=etag, last_modified=modified,
                                   fetched_at=dt.datetime.now(dt.timezone.utc)))
    engine.dispose()
    return url


def _saved(url):
    engine = make_engine(url)
    with Session(engine) as session:
        rows = {r.url: (r.etag, r.last_modified) for r in session.query(FetchState)}
    engine.dispose()
    return rows


def test_a_feed_read_before_is_asked_for_changes_only(tmp_path):
    _with_validators(tmp_path, {"http://news.example/feed.xml": ('"v1"', "Mon, 06 Jan 2025 10:00:00 GMT")})
    crawler = project_crawler(tmp_path)
    middleware = ConditionalGetMiddleware.from_crawler(crawler)
    request = scrapy.Request("http://news.example/feed.xml", meta={"via": "start"})
    asyncio.run(middleware.process_request(request))
    assert request.headers["If-None-Match"] == b'"v1"'
    assert 304 in request.meta["handle_httpstatus_list"]
    other = scrapy.Request("http://news.example/other.xml", meta={"via": "start"})
    asyncio.run(middleware.process_request(other))
    assert b"If-None-Match" not in other.headers


def test_validators_are_saved_only_when_every_entry_was_accounted_for(tmp_path):
    url = _with_validators(tmp_path, {})
    crawler = project_crawler(tmp_path)
    middleware = ConditionalGetMiddleware.from_crawler(crawler)
    for feed, etag in (("http://news.example/a.xml", '"a"'), ("http://news.example/b.xml", '"b"')):
        response = Response(feed, headers={"ETag": etag})
        crawler.signals.send_catch_log(signal=listing_read, response=response)
    crawler.signals.send_catch_log(signal=listing_entry_failed, listing="http://news.example/b.xml")
    middleware.spider_closed(None, "finished")
    assert _saved(url) == {"http://news.example/a.xml": ('"a"', None)}


def test_an_interrupted_run_saves_no_validators(tmp_path):
    url = _with_validators(tmp_path, {})
    crawler = project_crawler(tmp_path)
    middleware = ConditionalGetMiddleware.from_crawler(crawler)
    crawler.signals.send_catch_log(signal=listing_read,
                                   response=Response("http://news.example/a.xml", headers={"ETag": '"a"'}))
    middleware.spider_closed(None, "shutdown")
    assert _saved(url) == {}


def test_refresh_switches_conditional_get_off(tmp_path):
    with pytest.raises(NotConfigured):
        ConditionalGetMiddleware.from_crawler(project_crawler(tmp_path, NEWSCRAWL_REFRESH=True))


# --- Signature ----------------------------------------------------------------------------


def test_signature_owns_its_byte_form():
    signature = Signature(np.arange(128, dtype=np.uint32), np.array([3, 9], dtype=np.uint32),
                          np.array([0.5, 0.25], dtype=np.float32), "c0ffee", 1.7e9, None,
                          story_minhash=np.arange(16, dtype=np.uint32), headline=np.array([7], dtype=np.uint32))
    data = signature.to_bytes()
    again = Signature.from_bytes(data)
    assert again == signature and again.fetched is None and again.time == 1.7e9
    assert pickle.loads(pickle.dumps(signature)) == signature
    assert again != Signature(None, signature.terms, signature.weights, "c0ffee", 1.7e9, None)
    with pytest.raises(ValueError):
        Signature.from_bytes(data[:-3])


def test_progress_is_off_without_a_terminal_but_an_ingest_logs_it(monkeypatch, caplog):
    from scrapy.statscollectors import MemoryStatsCollector

    from crawler.extensions import IngestProgress, Progress

    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    settings = {"NEWSCRAWL_PROGRESS": True, "NEWSCRAWL_PROGRESS_INTERVAL": 5.0}
    with pytest.raises(NotConfigured):
        Progress.from_crawler(get_crawler(settings_dict=settings))
    with pytest.raises(NotConfigured):  # not an ingest
        IngestProgress.from_crawler(get_crawler(settings_dict=settings))
    crawler = get_crawler(settings_dict={**settings, "NEWSCRAWL_WARC_INGEST": True})
    progress = IngestProgress.from_crawler(crawler)
    progress.stats = MemoryStatsCollector(crawler)
    progress.stats.set_value("newscrawl/articles/new", 3)
    with caplog.at_level("INFO", logger="crawler.extensions"):
        progress.report()
    assert "articles stored 3" in caplog.text


def test_start_up_objects_are_frozen_once_the_engine_starts():
    """What start-up built leaves the collector's reach (crawler.extensions.FrozenStartup)."""
    import gc

    from scrapy import signals

    from crawler.extensions import FrozenStartup

    crawler = get_crawler(settings_dict={})
    extension = FrozenStartup.from_crawler(crawler)  # noqa: F841 - signal receivers are weak references
    gc.unfreeze()
    try:
        built_at_start_up = [[n] for n in range(3)]  # containers: the objects the collector tracks
        assert gc.get_freeze_count() == 0
        crawler.signals.send_catch_log(signal=signals.engine_started)
        assert gc.get_freeze_count() >= len(built_at_start_up)
    finally:
        gc.unfreeze()


def test_pool_load_measures_pages_in_flight_and_time_short_of_pages(monkeypatch):
    """The summary's "Extraction pool" line: whether the workers were kept busy."""
    from crawler import workers

    clock = iter([10.0, 11.0, 12.0, 14.0, 15.0, 17.0])
    monkeypatch.setattr(workers.time, "monotonic", lambda: next(clock))
    load = workers.PoolLoad(processes=2)
    for delta in (+1, +1, +1, -1, -1, -1):  # in flight: 1 at 10 s, 2 at 11, 3 at 12, 2 at 14, 1 at 15, 0 at 17
        load.change(delta)
    assert load.seconds == 7.0
    assert load.starved_seconds == 1.0 + 2.0  # 10-11 s with one page, 15-17 s with one
    assert load.mean_in_flight == (1 * 1 + 2 * 1 + 3 * 2 + 2 * 1 + 1 * 2) / 7
    assert load.max_in_flight == 3


def test_no_process_control_server_is_opened():
    # Scrapy 2.19 turns on a remote-control HTTP server that runs Python sent to it; a crawl
    # left running from cron must not open one, nor the telnet console.
    settings = get_project_settings()
    assert settings.getbool("TELNETCONSOLE_ENABLED") is False
    assert settings.getbool("REMOTE_CONTROL_ENABLED", True) is False
