"""The dedupe index holds the window, not the history: old articles stay in the database,
and copies of them are still found (issue 17). On SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crawler.page.extract import ExtractedArticle
from crawler.store.incremental import KnownUrls
from crawler.ops.summary import print_crawl_summary
from crawler.ops.run import CrawlReport
from crawler.store.articles import ArticleStore
from models import Article, ArticleBand, ArticleSignature
from models.db import downgrade, make_engine, upgrade
from tests.helpers import seed_texts
from tests.test_dedupe import ARTICLE, _text

UTC = dt.timezone.utc
NOW = dt.datetime.now(UTC)
PARAGRAPHS = [
    f"Paragraph {n} of the wire report: officials in {city} said on {day} that the {topic} would be reviewed "
    f"by a committee of {n + 3} experts before the end of the {season}, and that no decision had been taken yet."
    for n, (city, day, topic, season) in enumerate([
        ("Lisbon", "Monday", "port expansion", "spring"), ("Tallinn", "Tuesday", "rail tender", "summer"),
        ("Porto", "Wednesday", "bridge repair", "autumn"), ("Riga", "Thursday", "grid upgrade", "winter"),
        ("Tartu", "Friday", "school reform", "year"), ("Vilnius", "Saturday", "tax proposal", "quarter"),
        ("Gdansk", "Sunday", "ferry contract", "month"), ("Kaunas", "Monday", "water plan", "session"),
    ])
]
WIRE = "\n".join(PARAGRAPHS)
# Fewer than 20 words (too few to shingle: grouped by content hash only), but 200+ characters.
NOTICE = ("Extraordinary administrative announcement: municipal headquarters, counselling offices, "
          "registration counters, and neighbourhood libraries remain temporarily unavailable throughout "
          "Wednesday afternoon.")


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


def save(store: ArticleStore, name: str, text: str, published: dt.datetime | None, fetched: dt.datetime | None = None):
    # One site per article: repeated paragraphs on one site would be learned as its boilerplate.
    site = f"{name}.example"
    article = ExtractedArticle(title=name, authors=[], published_at=published, language="en", text=text,
                               canonical_url=None, site_name=None, blocks=text.split("\n"))
    return store.save(url=f"https://{site}/{name}", canonical_url=f"https://{site}/{name}", site=site,
                      article=article, raw_body=b"<html></html>", encoding="utf-8",
                      fetched_at=fetched or published or NOW)


def test_old_articles_stay_in_the_database_and_a_late_wire_copy_still_joins_its_original(engine):
    old = NOW - dt.timedelta(days=100)
    first_run = ArticleStore(engine)
    original = save(first_run, "original", WIRE, old)
    short = save(first_run, "notice", NOTICE, old)  # too short to shingle: content hash only
    recent = save(first_run, "recent", seed_texts()["001"], NOW - dt.timedelta(hours=3))

    # The next run loads the window only: not the 100-day-old articles.
    run = ArticleStore(engine)
    assert recent.article_id in run.deduper
    assert original.article_id not in run.deduper and short.article_id not in run.deduper
    assert run.index_size()[0] == 1 and run.index_size()[1] > 0

    # A wire copy published three months later, lightly edited, and an exact copy of the short one.
    copy = save(run, "copy", "Updated: " + WIRE.replace("Monday", "Mon.") + "\nFollow us for more.", NOW)
    exact = save(run, "again", NOTICE.upper().replace(" ", "  "), NOW)
    assert copy.dup_group_id == original.article_id and copy.story_id == original.story_id
    assert exact.dup_group_id == short.article_id
    with Session(engine) as session:
        assert session.get(Article, copy.article_id).is_canonical is False  # the original was earlier
        # What the next lookup reads: the copy's band keys and its copied fields.
        assert session.scalar(select(func.count()).select_from(ArticleBand)
                              .where(ArticleBand.article_id == copy.article_id)) == 32
        sig = session.get(ArticleSignature, copy.article_id)
        assert (sig.dup_group_id, sig.story_id, sig.window_time) == (original.article_id, original.story_id, NOW)


def test_an_article_dated_before_the_window_meets_the_stories_of_its_time(engine):
    """Reports of one event (seeds 001-003: not copies, so no band key finds them) dated in
    January 2025: the window around their time is loaded when the first of them arrives."""
    seeds = seed_texts()
    dates = {"001": "2025-01-28T19:14:00+02:00", "002": "2025-01-28T21:00:00+02:00",
             "003": "2025-01-29T09:10:00+03:00", "004": "2024-12-11T13:05:00+03:00"}
    first_run = ArticleStore(engine)
    founder = save(first_run, "s001", seeds["001"], dt.datetime.fromisoformat(dates["001"]))
    other = save(first_run, "s004", seeds["004"], dt.datetime.fromisoformat(dates["004"]))

    run = ArticleStore(engine)
    assert len(run.deduper) == 0
    second = save(run, "s002", seeds["002"], dt.datetime.fromisoformat(dates["002"]))
    third = save(run, "s003", seeds["003"], dt.datetime.fromisoformat(dates["003"]))
    assert second.story_id == founder.article_id and third.story_id == founder.article_id
    assert other.article_id not in run.deduper  # six weeks earlier: outside every window needed


def test_a_partial_copy_of_an_old_article_is_found_within_its_time(engine):
    """Six of ten paragraphs (Jaccard ~0.6, containment 1): a partial copy only within 96 h."""
    old = NOW - dt.timedelta(days=200)
    original = save(ArticleStore(engine), "full", _text(ARTICLE), old)
    run = ArticleStore(engine)
    trimmed = save(run, "trimmed", _text(ARTICLE[:6]), old + dt.timedelta(hours=5))
    assert trimmed.dup_group_id == original.article_id
    with Session(engine) as session:
        assert session.get(Article, trimmed.article_id).dup_similarity < 0.7  # found by containment
    late = save(run, "late", _text(ARTICLE[4:]), NOW)  # another six, 200 days on: reused background
    assert late.dup_group_id == late.article_id


def test_upgrade_fills_band_keys_and_window_fields_from_stored_signatures(db_url, engine):
    old = NOW - dt.timedelta(days=100)
    original = save(ArticleStore(engine), "original", WIRE, old)
    engine.dispose()
    downgrade(db_url, "0005")  # as a database from before 0017
    upgrade(db_url)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(ArticleBand)) == 32
        sig = session.get(ArticleSignature, original.article_id)
        assert sig.window_time == old and sig.content_hash and sig.dup_group_id == original.article_id
    copy = save(ArticleStore(engine), "copy", WIRE + "\nFollow us.", NOW)
    assert copy.dup_group_id == original.article_id


def test_known_urls_are_asked_of_the_database(engine, db_url):
    save(ArticleStore(engine), "known", WIRE, NOW)
    with Session(engine) as session, session.begin():
        session.get(Article, 1).url = "https://known.example/known?utm_source=feed"  # fetched under another URL
    known = KnownUrls(db_url)
    try:
        known.prefetch(["https://known.example/known", "https://new.example/a", None])
        assert "https://known.example/known" in known
        assert "https://known.example/known?utm_source=feed" in known
        assert "https://new.example/a" not in known and None not in known
    finally:
        known.close()
    assert "https://known.example/known" not in KnownUrls(None)  # --refresh: nothing is known


def test_crawl_summary_says_how_big_the_index_is(engine):
    report = CrawlReport(stats={"newscrawl/dedupe/index_articles": 1234, "newscrawl/dedupe/index_bytes": 2_500_000,
                                "newscrawl/dedupe/window_hours": 336.0}, finish_reason="finished", seconds=1.0)
    import io

    out = io.StringIO()
    print_crawl_summary(report, engine, out)
    assert "Dedupe index: 1234 articles" in out.getvalue() and "2.5 MB" in out.getvalue()
    assert "±14 days" in out.getvalue()


def test_cron_runs_with_the_windowed_index_group_as_one_in_memory_index(sqlite_url):
    """The synthetic set (bench/labelled_sets.py: originals, whole and partial copies, stories;
    a new round of events every 7 days) stored by a series of runs, each a new ArticleStore
    that loads only its window, gives exactly the groups and stories of one Deduper that saw
    everything. The articles date from 2024, so every window is loaded on demand."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import labelled_sets

    from dedupe import Deduper

    records = [record for record, _, _ in labelled_sets.iter_synthetic(1000, seed=3)]
    assert records[-1].published_at - records[0].published_at > dt.timedelta(days=14)
    texts = {r.key: r.text for r in records}
    reference = Deduper(text_of=texts.get)  # the store checks partial copies at the threshold on the texts too
    expected = {r.key: reference.add(r) for r in records}

    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    ids: dict[str, int] = {}
    stored = {}
    store = None
    for n, record in enumerate(records):
        if n % 150 == 0:
            store = ArticleStore(engine)  # the next cron run
            assert len(store.deduper) == 0  # nothing from 2024 is in the window of now
        article = ExtractedArticle(title=record.title, authors=[], published_at=record.published_at,
                                   language="en", text=record.text, canonical_url=None, site_name=None,
                                   blocks=[record.text])
        site = f"site{n}.example"  # one site each: nothing is learned as boilerplate
        result = store.save(url=f"https://{site}/a", canonical_url=f"https://{site}/a", site=site, article=article,
                            raw_body=b"", encoding="utf-8", fetched_at=record.fetched_at)
        ids[record.key] = result.article_id
        stored[record.key] = result
    engine.dispose()
    for key, assignment in expected.items():
        assert stored[key].dup_group_id == ids[assignment.dup_group_id], key
        assert stored[key].story_id == ids[assignment.story_id], key
    # The last run held its window (14 days around its articles' times), not the first days.
    last_run = records[-(len(records) % 150 or 150):]
    start = min(r.published_at for r in last_run) - dt.timedelta(days=14)
    assert len(store.deduper) < len(records)
    stale = [r.key for r in records if ids[r.key] in store.deduper
             and r.published_at < start - dt.timedelta(days=2) and expected[r.key].dup_group_id == r.key
             and expected[r.key].story_id == r.key]
    # An old article sharing an LSH band with a new one is loaded to be verified (band-key
    # candidates come from all history); anything more would mean the window is not bounding.
    assert len(stale) <= len(records) // 100, stale


def test_an_upgrade_killed_half_way_on_sqlite_is_finished_by_the_next(sqlite_url):
    """SQLite commits DDL at once: a run killed during the 0017 upgrade leaves the new table and
    some columns behind, and the next run's upgrade must finish, not fail on "already exists"."""
    from sqlalchemy import text

    upgrade(sqlite_url, "0005")
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE article_bands (band_key INTEGER NOT NULL, article_id INTEGER NOT NULL, "
                          "CONSTRAINT pk_article_bands PRIMARY KEY (band_key, article_id)) WITHOUT ROWID"))
        conn.execute(text("ALTER TABLE article_signatures ADD COLUMN window_time DATETIME"))
    engine.dispose()
    upgrade(sqlite_url)
    original = save(ArticleStore(engine), "original", WIRE, NOW - dt.timedelta(days=100))
    assert save(ArticleStore(engine), "copy", WIRE + "\nFollow us.", NOW).dup_group_id == original.article_id
    engine.dispose()


def test_story_minhashes_computed_at_once_equal_one_by_one(engine):
    import numpy as np

    from dedupe.grouping import Signature
    from dedupe.signature import minhash_values

    store = ArticleStore(engine)
    rng = np.random.default_rng(7)
    sigs = [Signature(None, np.sort(rng.integers(0, 2**32, n, dtype=np.uint32)), np.ones(n, np.float32), "0" * 64,
                      None, None) for n in (24, 5, 1, 0, 17)]
    s = store.deduper.settings
    for sig, values in zip(sigs, store.history._story_minhashes(sigs)):
        if len(sig.terms):
            assert np.array_equal(values, minhash_values(sig.terms.astype(np.uint64), s.story_num_perm, s.seed + 1))
        else:
            assert values is None
