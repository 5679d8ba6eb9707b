"""Articles stored in batches: one transaction per batch, each article whole or absent.

Against real databases (SQLite and PostgreSQL): a batch commits once; copies inside one
batch are grouped as across batches; an article that fails leaves nothing of itself and
the rest of its batch is stored; a batch that does not commit leaves nothing, and its
articles are stored as if it had never been tried; a process killed (SIGKILL) in the
middle of its commit leaves none of the batch. The pipeline groups concurrent items.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import signal
import subprocess
import sys
import textwrap

import pytest
from scrapy.utils.test import get_crawler
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from crawler.page.extract import ExtractedArticle, ExtractionError
from crawler.items import PageItem
from crawler.pipelines import StoragePipeline
from crawler.store.articles import ArticleStore, SaveResult
from models import Article, ArticleBand, ArticleSignature, SiteBlock, SiteProfile
from models.db import make_engine, upgrade
from tests.conftest import REPO
from tests.test_learning import story

NOW = dt.datetime(2025, 3, 1, 12, tzinfo=dt.timezone.utc)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request) -> str:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    upgrade(url)
    return url


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _fields(n: int, blocks: list[str], site: str = "a.example") -> dict:
    article = ExtractedArticle(
        title=f"Report {n}", authors=[], published_at=NOW, language="en", text="\n".join(blocks),
        canonical_url=None, site_name=None, blocks=blocks)
    html = "<html><body><article>" + "".join(f"<p>{b}</p>" for b in blocks) + "</article></body></html>"
    url = f"http://{site}/news/{n}"
    return dict(url=url, canonical_url=url, site=site, article=article, raw_body=html.encode(), encoding="utf-8",
                fetched_at=NOW)


def _counts(engine) -> dict[str, int]:
    with Session(engine) as session:
        return {name: session.scalar(select(func.count()).select_from(model)) for name, model in (
            ("articles", Article), ("signatures", ArticleSignature), ("bands", ArticleBand),
            ("blocks", SiteBlock))} | {
            "pages_seen": session.scalar(select(func.coalesce(func.sum(SiteProfile.pages_seen), 0)))}


def _groups(engine) -> list[tuple]:
    with Session(engine) as session:
        return [(a.canonical_url, a.dup_group_id, a.story_id, a.is_canonical)
                for a in session.scalars(select(Article).order_by(Article.id))]


def test_a_batch_is_one_transaction_and_groups_copies_inside_it(engine):
    commits = []
    event.listen(engine, "commit", lambda conn: commits.append(1))
    store = ArticleStore(engine)
    commits.clear()  # (loading the dedupe window commits its read-only transaction)
    batch = [_fields(0, story(0)), _fields(1, story(1)), _fields(2, story(0)), _fields(3, story(2))]
    outcomes = store.save_batch(batch)
    assert len(commits) == 1
    assert [o.outcome for o in outcomes] == ["new"] * 4
    first, _, copy, _ = outcomes
    assert copy.dup_group_id == first.article_id  # the copy found the article stored before it in the batch
    assert len({o.dup_group_id for o in outcomes}) == 3
    assert _counts(engine)["articles"] == 4


def test_batched_and_one_by_one_stores_end_the_same(db_url, engine, tmp_path):
    articles = [_fields(n, story(n % 5, "Subscribe to the Harbour Weekly newsletter for the day's news."))
                for n in range(12)]
    ArticleStore(engine).save_batch(articles)
    one_by_one = make_engine(f"sqlite:///{tmp_path / 'single.db'}")
    upgrade(f"sqlite:///{tmp_path / 'single.db'}")
    single = ArticleStore(one_by_one)
    for fields in articles:
        single.save(**fields)
    try:
        assert _groups(engine) == _groups(one_by_one)
        with Session(engine) as a, Session(one_by_one) as b:
            texts = lambda s: [(r.canonical_url, r.text, r.boilerplate_version)  # noqa: E731
                               for r in s.scalars(select(Article).order_by(Article.id))]
            assert texts(a) == texts(b)
            assert all("newsletter" not in text for _, text, _ in texts(a))  # learned inside the batch
    finally:
        one_by_one.dispose()


def _learning(engine) -> tuple[list, list]:
    with Session(engine) as session:
        blocks = session.execute(select(
            SiteBlock.site, SiteBlock.block_hash, SiteBlock.sample, SiteBlock.page_count, SiteBlock.is_boilerplate,
            SiteBlock.boilerplate_since.is_not(None)).order_by(SiteBlock.site, SiteBlock.block_hash)).all()
        profiles = session.execute(select(SiteProfile.site, SiteProfile.pages_seen, SiteProfile.boilerplate_version)
                                   .order_by(SiteProfile.site)).all()
        return [tuple(b) for b in blocks], [tuple(p) for p in profiles]


def test_a_batch_counts_and_learns_blocks_as_one_page_at_a_time(db_url, engine, tmp_path):
    # The batch's counts are written at its end: every page must still be decided on the
    # counts of the pages before it, on two sites, with pages that fail counting nothing.
    template, other = ("Subscribe to the Harbour Weekly newsletter for the day's news.",
                       "Follow the Lakeside Courier on every channel for breaking news.")
    articles = []
    for n in range(14):
        site = "a.example" if n % 3 else "b.example"
        if n in (4, 9):
            articles.append(_fields(n, ["Brief.", template, other], site))  # too short: fails
        else:
            articles.append(_fields(n, story(n, template, *([other] if n % 2 else [])), site))
    stored = ArticleStore(engine)
    stored.save_batch(articles[:3])
    stored.save_batch(articles[3:])  # the stored counts and the batch's together
    url = f"sqlite:///{tmp_path / 'single.db'}"
    upgrade(url)
    one_by_one = make_engine(url)
    single = ArticleStore(one_by_one)
    try:
        for fields in articles:
            try:
                single.save(**fields)
            except ExtractionError:
                pass
        blocks, profiles = _learning(engine)
        assert (blocks, profiles) == _learning(one_by_one)
        assert {(site, pages) for site, pages, _ in profiles} == {("a.example", 8), ("b.example", 4)}
        assert [b[:2] for b in blocks if b[4]] and all(b[5] == b[4] for b in blocks)
    finally:
        one_by_one.dispose()


def test_a_failing_article_leaves_nothing_and_the_rest_of_its_batch_is_stored(engine):
    store = ArticleStore(engine)
    too_short = _fields(1, ["Brief."])
    outcomes = store.save_batch([_fields(0, story(0)), too_short, _fields(2, story(2))])
    assert isinstance(outcomes[1], ExtractionError) and outcomes[1].reason == "no_text"
    assert [type(o) for o in (outcomes[0], outcomes[2])] == [SaveResult, SaveResult]
    counts = _counts(engine)
    assert counts["articles"] == 2
    assert counts["pages_seen"] == 2  # the failed page's learning counts were rolled back with it
    with pytest.raises(ExtractionError):
        store.save(**too_short)


def test_a_batch_that_does_not_commit_leaves_nothing_and_is_stored_whole_on_retry(engine):
    store = ArticleStore(engine)
    batch = [_fields(0, story(0)), _fields(1, story(0)), _fields(2, story(1))]

    def fail_once(conn):
        event.remove(engine, "commit", fail_once)
        raise RuntimeError("disk full")

    event.listen(engine, "commit", fail_once)
    with pytest.raises(RuntimeError, match="disk full"):
        store.save_batch(batch)
    assert _counts(engine) == dict(articles=0, signatures=0, bands=0, blocks=0, pages_seen=0)
    # The in-memory index forgot the articles that were never committed: stored again,
    # the first is new and founds its own group (it is nobody's copy).
    outcomes = store.save_batch(batch)
    assert [o.outcome for o in outcomes] == ["new"] * 3
    assert outcomes[0].dup_group_id == outcomes[0].article_id
    assert outcomes[1].dup_group_id == outcomes[0].article_id


def test_a_connection_lost_while_reprocessing_a_committed_batch_is_retried_without_storing_it_again(engine):
    """The batch committed; the re-cleaning its new boilerplate calls for lost its connection.
    Retried, it goes on where it stopped: the batch is not stored again (its articles would be
    found stored, and the older articles never re-cleaned) and each article is re-cleaned once."""
    from sqlalchemy.exc import OperationalError

    from crawler.store import dbretry

    news = "Subscribe to the Harbour Weekly newsletter for the day's news."
    store = ArticleStore(engine)
    store.save_batch([_fields(0, story(0, news)), _fields(1, story(1, news))])
    extract_stored, calls = store.extract_stored, []

    def lose_connection_once(row):
        calls.append(row.id)
        if len(calls) == 2:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
        return extract_stored(row)

    store.extract_stored = lose_connection_once
    commit = dbretry.retrying(store.commit_batch, 5, sleep=lambda seconds: None)
    finish = dbretry.retrying(store.finish_batch, 5, sleep=lambda seconds: None)
    outcomes = finish(commit([_fields(2, story(2, news))]))  # the third page teaches the newsletter block
    assert [o.outcome for o in outcomes] == ["new"]
    assert outcomes[0].reprocessed == 2  # both older articles, each counted once
    assert calls == [1, 2, 2]
    with Session(engine) as session:
        assert all(news not in text for text in session.scalars(select(Article.text)))
    assert _counts(engine)["pages_seen"] == 3


KILLED_IN_COMMIT = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {repo!r})
    from sqlalchemy import event
    from crawler.store.articles import ArticleStore
    from models.db import make_engine
    from tests.test_store_batches import _fields
    from tests.test_learning import story

    engine = make_engine({url!r})
    store = ArticleStore(engine)
    store.save_batch([_fields(100, story(7))])  # committed before the kill
    # SIGKILL after the batch's statements have run, as its COMMIT is issued.
    event.listen(engine, "commit", lambda conn: os.kill(os.getpid(), signal.SIGKILL))
    store.save_batch([_fields(n, story(n)) for n in range(5)])
""")


def test_a_process_killed_in_its_commit_leaves_none_of_the_batch(db_url, engine):
    child = subprocess.run([sys.executable, "-c", KILLED_IN_COMMIT.format(repo=str(REPO), url=db_url)],
                           capture_output=True, text=True, timeout=300, cwd=REPO)
    assert child.returncode == -signal.SIGKILL, child.stderr
    counts = _counts(engine)
    assert counts["articles"] == counts["signatures"] == counts["pages_seen"] == 1
    # The next run stores the batch whole.
    outcomes = ArticleStore(engine).save_batch([_fields(n, story(n)) for n in range(5)])
    assert [o.outcome for o in outcomes] == ["new"] * 5
    assert _counts(engine)["articles"] == 6


def test_the_pipeline_stores_concurrent_items_in_bounded_batches(db_url):
    from crawler import settings as project

    crawler = get_crawler(settings_dict={
        **{name: getattr(project, name) for name in dir(project) if name.isupper()},
        "DATABASE_URL": db_url, "NEWSCRAWL_EXTRACT_PROCESSES": 0,
        "NEWSCRAWL_STORE_BATCH_SIZE": 8, "NEWSCRAWL_STORE_BATCH_SECONDS": 2.0,
    })
    crawler.stats.open_spider()
    pipeline = StoragePipeline.from_crawler(crawler)

    def item(n: int) -> PageItem:
        fields = _fields(n, story(n))
        return PageItem(url=fields["url"], canonical_url=fields["canonical_url"], site=fields["site"],
                        body=fields["raw_body"], encoding="utf-8", fetched_at=NOW, via="sitemap",
                        article=fields["article"])

    async def crawl() -> list[PageItem]:
        await pipeline.open_spider()
        try:
            return await asyncio.gather(*(pipeline.process_item(item(n)) for n in range(20)))
        finally:
            await pipeline.close_spider()

    stored = asyncio.run(crawl())
    assert [i.stored_as for i in stored] == ["new"] * 20
    assert crawler.stats.get_value("newscrawl/store/batches") == 3  # 8 + 8 + 4
    assert crawler.stats.get_value("newscrawl/store/max_batch_articles") == 8
    assert crawler.stats.get_value("newscrawl/articles/new") == 20
