"""Site-level boilerplate learning against a real database, both sides of the threshold."""
import datetime as dt
import random

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.page.boilerplate import block_hash
from crawler.page.extract import ExtractedArticle, ExtractionOptions
from crawler.store.learning import LearningSettings, SiteBoilerplate
from crawler.store.articles import ArticleStore
from models import Article, SiteBlock, SiteProfile
from models.db import make_engine, upgrade

TEMPLATE = "The Harbour Weekly is produced by the Portside Media Cooperative and printed in Lowtown."
BACKGROUND = (
    "The harbour authority first proposed the expansion in 2019, arguing that larger container ships "
    "could no longer reach the inner quays, and the plan has been contested by residents ever since."
)


VOCABULARY = (
    "council harbour ferry budget tram school river bridge election court museum festival hospital factory "
    "union strike rail airport market farmers drought flood storm police mayor minister treaty border "
    "exports tariff bank inflation housing rent teachers nurses vaccine stadium league coach theatre novel"
).split()


def story(n: int, *extra: str) -> list[str]:
    """Four paragraphs of one story's own words (distinct per n), with ``extra`` blocks in the middle."""
    rng = random.Random(n)
    own = [" ".join(rng.choice(VOCABULARY) for _ in range(40)).capitalize() + "." for _ in range(4)]
    return own[:2] + list(extra) + own[2:]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request):
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def observe(engine, learner, site, blocks):
    with Session(engine) as session, session.begin():
        newly = learner.observe(session, site, blocks)
    learner.remember(site, newly)
    return newly


def test_block_on_three_pages_is_learned_and_two_page_repeat_is_not(engine):
    learner = SiteBoilerplate()
    assert observe(engine, learner, "a.example", story(1, TEMPLATE, BACKGROUND)) == set()
    assert observe(engine, learner, "a.example", story(2, TEMPLATE, BACKGROUND)) == set()
    assert observe(engine, learner, "a.example", story(3, TEMPLATE)) == {block_hash(TEMPLATE)}
    with Session(engine) as session:
        learned = learner.learned(session, "a.example")
        assert block_hash(TEMPLATE) in learned
        assert block_hash(BACKGROUND) not in learned  # two follow-ups share it: real content
        assert session.get(SiteProfile, "a.example").pages_seen == 3
        assert session.get(SiteProfile, "a.example").boilerplate_version == 1


def test_learning_is_per_site(engine):
    learner = SiteBoilerplate()
    for n in range(3):
        observe(engine, learner, "a.example", story(n, TEMPLATE))
    observe(engine, learner, "b.example", story(9, TEMPLATE))
    with Session(engine) as session:
        assert block_hash(TEMPLATE) not in learner.learned(session, "b.example")


def test_share_threshold_protects_background_on_a_large_site(engine):
    learner = SiteBoilerplate(LearningSettings(min_pages=3, min_share=0.1))
    for n in range(40):
        observe(engine, learner, "big.example", story(n, TEMPLATE))
    for n in range(40, 43):  # a background paragraph reused by three follow-ups of 43 pages
        observe(engine, learner, "big.example", story(n, TEMPLATE, BACKGROUND))
    with Session(engine) as session:
        learned = learner.learned(session, "big.example")
        counted = session.scalars(select(SiteBlock.page_count).where(SiteBlock.block_hash == block_hash(BACKGROUND))).one()
    assert block_hash(TEMPLATE) in learned
    assert counted == 3 and block_hash(BACKGROUND) not in learned


def test_settings_validation():
    with pytest.raises(ValueError, match="min_pages must be >= 2"):
        LearningSettings(min_pages=1)
    with pytest.raises(ValueError, match="min_share must be between 0 and 1"):
        LearningSettings(min_share=2)


def _article(blocks: list[str]) -> ExtractedArticle:
    return ExtractedArticle(
        title="t", authors=[], published_at=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc), language="en",
        text="\n".join(blocks), canonical_url=None, site_name=None, blocks=blocks,
    )


def test_store_reprocesses_earlier_articles_when_a_block_is_learned(engine):
    store = ArticleStore(engine)
    saved = []
    for n in range(3):
        blocks = story(n, TEMPLATE)
        html = "<html><body><article>" + "".join(f"<p>{b}</p>" for b in blocks) + "</article></body></html>"
        saved.append(store.save(url=f"http://a.example/{n}", canonical_url=f"http://a.example/{n}", site="a.example",
                                article=_article(blocks), raw_body=html.encode(), encoding="utf-8",
                                fetched_at=dt.datetime.now(dt.timezone.utc)))
    assert [s.outcome for s in saved] == ["new", "new", "new"]
    assert saved[-1].reprocessed == 2
    with Session(engine) as session:
        rows = session.scalars(select(Article).order_by(Article.id)).all()
        assert all(TEMPLATE not in r.text for r in rows)
        assert all({"reason": "learned", "text": TEMPLATE} in r.removed_blocks for r in rows)
        assert all(r.boilerplate_version == 1 for r in rows)
        assert all(len(r.block_hashes) == 5 for r in rows)


# --- learned boilerplate never removes an article (serial and templated sites) ---------------

def _save(store, site: str, n: int, blocks: list[str]):
    html = "<html><body><article>" + "".join(f"<p>{b}</p>" for b in blocks) + "</article></body></html>"
    return store.save(url=f"http://{site}/{n}", canonical_url=f"http://{site}/{n}", site=site,
                      article=_article(blocks), raw_body=html.encode(), encoding="utf-8",
                      fetched_at=dt.datetime.now(dt.timezone.utc))


def _serial_report(n: int) -> list[str]:
    """One part of an automated serial report: every sentence is the site's template, with
    its own figures. Only the numbers differ from part to part."""
    rng = random.Random(n)
    ships, tonnes, berth, delay = rng.randrange(3, 90), rng.randrange(1000, 90000), rng.randrange(1, 40), rng.randrange(2, 59)
    return [
        f"Part {n} of the harbour board's weekly traffic report covers the {n}th week of the season at the port.",
        f"The board counted {ships} vessels entering the inner harbour, carrying {tonnes} tonnes of cargo in all.",
        f"Berth {berth} stayed closed for dredging, and the average wait at the outer anchorage was {delay} minutes.",
        f"Pilots logged {ships * 2 + 1} movements, and the tug fleet worked {tonnes // 1000 + 7} hours overtime.",
    ]


def test_serial_reports_whose_numbers_differ_are_all_stored(engine):
    store = ArticleStore(engine)
    results = [_save(store, "harbour.example", n, _serial_report(n)) for n in range(1, 61)]
    assert [r.outcome for r in results] == ["new"] * 60
    with Session(engine) as session:
        texts = session.scalars(select(Article.text).where(Article.site == "harbour.example")).all()
        learned = store.boilerplate.learned(session, "harbour.example")
    assert len(texts) == 60 and not learned  # figures are content: no sentence of theirs is a template
    assert all("vessels entering the inner harbour" in t for t in texts)


def test_pages_that_reuse_the_same_paragraphs_keep_their_text(engine):
    """Short articles that reuse two paragraphs verbatim: the paragraphs recur next to different
    lines, so they are learned; no article is emptied by that, nor lost."""
    store = ArticleStore(engine, extraction_options=ExtractionOptions(min_text_chars=360))
    shared = [
        "The harbour board meets every second Tuesday in the old customs house, and its meetings are open to the public.",
        "Minutes of every meeting are published on the board's notice board within a week of the meeting.",
    ]
    own = [" ".join(random.Random(n).choices(VOCABULARY, k=50)).capitalize() + "." for n in range(1, 5)]
    results = [_save(store, "board.example", n, [own[n - 1]] + shared) for n in range(1, 5)]
    assert [r.outcome for r in results] == ["new"] * 4
    with Session(engine) as session:
        rows = session.scalars(select(Article).where(Article.site == "board.example")).all()
    assert len(rows) == 4
    with Session(engine) as session:
        assert block_hash(shared[0]) in store.boilerplate.learned(session, "board.example")
    for row in rows:
        assert shared[0] in row.text  # removing the learned blocks would leave too little: they stay
    assert sum(any(r["reason"] == "learned:not_applied" for r in row.removed_blocks) for row in rows) >= 2


def test_near_copies_do_not_teach_each_other_boilerplate(engine):
    store = ArticleStore(engine)
    wire = story(7)
    for n in range(4):  # one wire story, re-posted four times on one site
        _save(store, "wire.example", n, wire)
    with Session(engine) as session:
        assert not store.boilerplate.learned(session, "wire.example")
        counts = session.scalars(select(SiteBlock.page_count).where(SiteBlock.site == "wire.example")).all()
    assert set(counts) == {1}  # the first page counted its blocks; its copies did not


PROMO = "Join 45000 readers who get our free morning briefing in their inbox every weekday."
COMMENTS = "12 comments"


def test_real_template_blocks_with_changing_counts_are_still_learned(engine):
    store = ArticleStore(engine)
    for n in range(6):
        related = f"Related: {['Port strike', 'Ferry fares', 'Tram works'][n % 3]} enters its {n + 2}nd day as talks stall"
        _save(store, "promo.example", n, story(100 + n, PROMO.replace("45000", str(45000 + n)),
                                               COMMENTS.replace("12", str(n + 3)), related))
    with Session(engine) as session:
        learned = store.boilerplate.learned(session, "promo.example")
        latest = session.scalars(select(Article).where(Article.site == "promo.example").order_by(Article.id.desc())).first()
    assert block_hash("5 comments") in learned and block_hash("40 comments") == block_hash("5 comments")
    assert "comments" not in latest.text
    # A longer block keeps its numbers: the promo with a new count each time is not one block.
    assert block_hash(PROMO) != block_hash(PROMO.replace("45000", "45001"))


def test_a_title_affix_on_many_of_a_sites_pages_is_learned_and_stripped(engine):
    from crawler.page.extract import extract_article

    store = ArticleStore(engine)
    headlines = ["Council backs the tram extension", "Ferry fares rise for the second time",
                 "Museum reopens after the flood repairs", "Teachers vote on the new contract"]
    for n, headline in enumerate(headlines):
        paragraphs = "".join(f"<p>{b}</p>" for b in story(n))
        html = (f"<html><head><title>{headline} | Politik</title><meta property='og:title' content='{headline} | Politik'>"
                f"</head><body><article>{paragraphs}</article></body></html>")
        url = f"http://a.example/{n}"
        article = extract_article(html, url)
        assert article.title == f"{headline} | Politik"  # one page alone cannot tell an affix from the headline
        store.save(url=url, canonical_url=url, site="a.example", article=article, raw_body=html.encode(),
                   encoding="utf-8", fetched_at=dt.datetime.now(dt.timezone.utc))
    with Session(engine) as session:
        titles = [r.title for r in session.scalars(select(Article).order_by(Article.id))]
    # learned on the third page; the first two were re-cleaned
    assert titles == headlines
