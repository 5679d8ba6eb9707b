"""Article or listing, decided by crawler.page.classify from what a page declares and what extraction
finds in it: canned pages through the crawl's own page reader, and the shape rules alone."""
from __future__ import annotations

import re

import pytest

from crawler.page.classify import BLURB_MAX_WORDS, BodyShape, PageSignals, classify_page
from crawler.page.columns import heading_column
from crawler.page.read import read_page

HEADLINES = [
    "Harbour board approves the long-delayed quay expansion plan",
    "Regional rail timetable changes anger morning commuters again",
    "Fishing crews win their case over the new mooring fees",
    "City council delays its vote on the new parking charges",
    "School meals contract goes to a local supplier after review",
    "Storm damage repairs on the coast road will take two months",
    "Hospital car park to close for resurfacing over the summer",
    "New ferry route to the islands gets its first timetable",
    "Market traders protest over plans to move the Saturday market",
    "Library opening hours cut as the budget shortfall grows",
    "Local football club appoints a new manager for next season",
    "Police appeal for witnesses after a crash on the ring road",
]
BIO = ("Jana Berger covers the harbour, the council and the region's transport for the paper. "
       "She joined the newsroom in 2015 after six years at a regional radio station. "
       "She lives in the old town with her family and two very loud cats.")
PROSE = [
    "The harbour board approved the expansion plan on Tuesday after a two-year review of its costs and risks.",
    "Engineers expect the new quay to take four years to build, with the first berth opening in the third year.",
    "Local fishing crews, who had opposed an earlier version of the plan, said the new design left their moorings alone.",
    "The board will publish the full tender documents next month, and construction bids are due by the end of spring.",
    "Opposition members on the board asked for an independent review of the costs, which the chair agreed to commission.",
]
CHROME = ("<header><nav><a href='/'>Home</a> <a href='/region/'>Region</a> <a href='/sport/'>Sport</a></nav></header>")
FOOTER = "<footer><p>© 2025 Nordkurier Media. All rights reserved.</p><a href='/imprint'>Imprint</a></footer>"


def _page(title: str, main: str, head: str = "", rail: str = "") -> bytes:
    return (f"<html><head><title>{title}</title>{head}</head><body>{CHROME}"
            f"<div class='layout'><main>{main}</main>{rail}</div>{FOOTER}</body></html>").encode()


def _headline_list(count: int = 12) -> str:
    return "".join(f"<li><a href='/region/2025/03/{n}/story-{n}'>{h}</a> <time>Mar {n + 1}, 2025</time></li>"
                   for n, h in enumerate(HEADLINES[:count]))


OG_ARTICLE = "<meta property='og:type' content='article'>"
PUBLISHED = "<meta property='article:published_time' content='2025-03-04T08:30:00+01:00'>"


def test_an_author_page_declared_an_article_by_its_template_is_a_listing():
    """A blurb above a column of the author's headlines: the CMS says og:type=article on every
    page, but nothing declares when this page was published."""
    main = (f"<h1>Jana Berger</h1><p class='bio'>{BIO}</p><h2>Latest from Jana Berger</h2>"
            f"<ul class='stories'>{_headline_list()}</ul>")
    reading = read_page(_page("Jana Berger | Nordkurier", main, OG_ARTICLE),
                        "https://nordkurier.example/news/0/list-1.html", "text/html")
    assert not reading.verdict.is_article and reading.verdict.reason == "listing"


def test_an_undated_short_article_beside_a_few_related_links_is_an_article():
    body = "".join(f"<p>{p}</p>" for p in PROSE + PROSE[:2])  # ~135 words: more than a brief, under a blurb's bound
    related = f"<aside><h3>Related</h3><ul>{_headline_list(4)}</ul></aside>"
    reading = read_page(_page("Harbour plan approved | Nordkurier", f"<article><h1>Harbour plan approved</h1>{body}"
                              "</article>", OG_ARTICLE, related),
                        "https://nordkurier.example/news/0/story-1.html", "text/html")
    assert reading.verdict.is_article, reading.verdict.reason


def test_a_dated_brief_beside_a_headline_rail_is_an_article():
    body = "".join(f"<p>{p}</p>" for p in PROSE[:2])
    rail = f"<aside><h3>Most read</h3><ul>{_headline_list()}</ul></aside>"
    reading = read_page(_page("Harbour plan approved | Nordkurier", f"<article><h1>Harbour plan approved</h1>{body}"
                              "</article>", OG_ARTICLE + PUBLISHED, rail),
                        "https://nordkurier.example/news/0/story-2.html", "text/html")
    assert reading.verdict.is_article, reading.verdict.reason


@pytest.mark.parametrize("heading", ["Sorry, we can't find that page", "This page doesn't exist"])
def test_a_soft_404_says_so_in_its_heading(heading):
    main = (f"<h1>{heading}</h1><p>The page you were looking for may have been moved or deleted. "
            "Check the address, or try one of these stories instead.</p>"
            + "".join(f"<p>{p}</p>" for p in PROSE) + f"<ul>{_headline_list(5)}</ul>")
    reading = read_page(_page("Oops! | Nordkurier", main), "https://nordkurier.example/2025/03/removed-story/",
                        "text/html")
    assert reading.verdict.reason == "error_page"


def test_a_headline_that_mentions_a_missing_page_is_still_an_article():
    body = "".join(f"<p>{p}</p>" for p in PROSE * 2)
    title = "Council's missing web page row: why the harbour report was not found online for a month"
    reading = read_page(_page(title, f"<article><h1>{title}</h1>{body}</article>", OG_ARTICLE + PUBLISHED),
                        "https://nordkurier.example/news/0/story-3.html", "text/html")
    assert reading.verdict.is_article, reading.verdict.reason


SIGNALS = PageSignals(url="https://news.example/news/0/page-1.html", title="Page", heading="Page",
                      declares_article=False, declares_published=False, declares_listing=False)


def _shape(**fields) -> BodyShape:
    base = dict(words=450, container_words=0, link_words=0, headline_links=0)
    return BodyShape(**{**base, **fields})


def test_a_page_dumped_whole_is_judged_by_its_own_link_share():
    links = _shape(around_words=1800, around_link_words=1100, around_headline_links=120, dumped=True)
    prose = _shape(words=520, around_words=900, around_link_words=220, around_headline_links=24, dumped=True)
    assert classify_page(SIGNALS, links).reason == "listing"
    assert classify_page(SIGNALS, prose) == classify_page(SIGNALS, _shape(words=520, container_words=520))
    assert classify_page(SIGNALS, prose).is_article


def test_many_teaser_cards_are_weighed_against_their_own_container():
    # 11 card teasers among 18 prose lines of the container, with 12 more lines from a sidebar
    cards = _shape(words=590, container_words=400, link_words=110, headline_links=12, around_words=400,
                   around_link_words=110, around_headline_links=12, prose_blocks=30, card_teasers=11,
                   container_prose=18)
    assert classify_page(SIGNALS, cards).reason == "listing"
    # four related-story cards beside a short body are not enough
    related = _shape(words=250, container_words=380, link_words=50, headline_links=4, around_words=380,
                     around_link_words=50, around_headline_links=4, prose_blocks=12, card_teasers=4,
                     container_prose=7)
    assert classify_page(SIGNALS, related).is_article


def test_a_blurb_is_short_and_its_region_is_mostly_headlines():
    region = dict(container_words=300, link_words=170, headline_links=15, around_words=320, around_link_words=180,
                  around_headline_links=15)
    assert classify_page(SIGNALS, _shape(words=BLURB_MAX_WORDS - 40, **region)).reason == "listing"
    dated = PageSignals(**{**SIGNALS.__dict__, "declares_article": True, "declares_published": True})
    assert classify_page(dated, _shape(words=BLURB_MAX_WORDS - 40, **region)).is_article
    sparse = {**region, "around_link_words": 60, "link_words": 50}
    assert classify_page(SIGNALS, _shape(words=BLURB_MAX_WORDS - 40, **sparse)).is_article


# --- the column under the heading (crawler.page.columns) -----------------------------------

COOKIE_NOTICE = (
    "<div class='cookie-modal'><h4>Privacy overview</h4>"
    "<p>This website uses cookies to improve your experience while you navigate through the website. Out of these "
    "cookies, the cookies that are categorized as necessary are stored on your browser as they are essential for the "
    "working of basic functionalities of the website. We also use third-party cookies that help us analyze and "
    "understand how you use this website.</p>"
    "<p>Necessary cookies are absolutely essential for the website to function properly. This category only includes "
    "cookies that ensure basic functionalities and security features of the website. These cookies do not store any "
    "personal information about you or the pages you visited.</p>"
    "<p>Any cookies that may not be particularly necessary for the website to function and that are used "
    "specifically to collect user personal data via analytics, advertisements or other embedded contents are termed "
    "as non-necessary cookies. It is mandatory to procure user consent prior to running these cookies.</p></div>")


MORE_PROSE = [
    "The chair said the review would be finished before the summer recess, so that the tender could go ahead on time.",
    "Residents of the streets above the harbour asked how the lorries would reach the quay during the four years of work.",
    "A spokesman for the port operator said most of the materials would arrive by sea rather than through the old town.",
    "The regional government has promised to cover a third of the costs, on condition that the work creates local jobs.",
    "Environmental groups welcomed the decision to leave the salt marsh north of the harbour untouched by the new design.",
    "The first plan, rejected two years ago, would have filled in part of the marsh to make room for a container yard.",
    "Ferry companies said the new berth would let them run larger ships to the islands in the busiest summer months.",
    "The board expects the expanded harbour to handle twice as many cruise ship calls by the end of the decade.",
]


def _cards(count: int = 12) -> str:
    return "".join(f"<article class='card'><h3><a href='/region/2025/03/{n}/story-{n}'>{h}</a></h3>"
                   f"<p>{PROSE[n % len(PROSE)]}</p><time>Mar {n + 1}, 2025</time></article>"
                   for n, h in enumerate(HEADLINES[:count]))


def _tree(page: bytes):
    from crawler.page.htmlmeta import parse_html
    return parse_html(page.decode())


def test_an_author_page_whose_extraction_is_a_cookie_notice_is_a_listing():
    """Extraction dropped the column of links and kept the bio and the template's cookie
    notice: no measure of the extracted text finds the column, the heading's region does."""
    main = (f"<h1>Jana Berger</h1><p class='bio'>{BIO}</p><h2>Latest from Jana Berger</h2>"
            f"<ul>{_headline_list()}</ul>")
    page = _page("Jana Berger | Nordkurier", main, OG_ARTICLE, COOKIE_NOTICE)
    reading = read_page(page, "https://nordkurier.example/news/0/list-2.html", "text/html")
    assert not reading.verdict.is_article and reading.verdict.reason == "listing"
    column = heading_column(_tree(page), [])
    assert column is not None and column.items == 12


def test_a_section_front_in_a_table_layout_is_a_listing():
    """Cards of headline and teaser in one table cell: extraction returns the cell as one line,
    which matches no element of the page."""
    page = (f"<html><head><title>Region | Nordkurier</title></head><body><table><tr>"
            f"<td><a href='/'>Home</a> <a href='/region/'>Region</a></td>"
            f"<td><h1>Region</h1>{_cards()}</td></tr></table></body></html>").encode()
    reading = read_page(page, "https://nordkurier.example/news/0/list-3.html", "text/html")
    assert not reading.verdict.is_article and reading.verdict.reason == "listing"


def test_an_archive_page_beside_a_ticker_story_is_a_listing():
    """The template carries a ticker box with one story in full (a few paragraphs) next to the
    archive's rows: a short text beside the column is not the page's own body."""
    rows = "".join(f"<div class='row'><time>Mar {n + 1}, 2025</time> <a href='/region/2025/03/{n}/story-{n}'>{h}</a>"
                   f" <span>by Staff</span></div>" for n, h in enumerate(HEADLINES))
    ticker = "<div class='ticker'><h4>Happening now</h4>" + "".join(f"<p>{p}</p>" for p in PROSE + MORE_PROSE[:4]) + \
        "</div>"
    page = _page("Archive - Page 2 | Nordkurier", f"<div class='archive'><h1>Archive</h1><h2>Page 2 of 48</h2>{rows}"
                 "</div>", OG_ARTICLE, ticker)
    reading = read_page(page, "https://nordkurier.example/news/0/list-4.html", "text/html")
    assert not reading.verdict.is_article and reading.verdict.reason == "listing"


def test_a_tag_page_whose_extraction_is_a_rail_of_teasers_is_a_listing():
    """Extraction kept the template's "more from" rail (a headline link and two sentences in
    each line), longer than a blurb, instead of the tag's column: lines led by a headline
    link are some column's items, not a body beside the column."""
    teasers = PROSE + MORE_PROSE
    rail = "<div class='more-from'>" + "".join(
        f"<div class='teaser'><p><a href='/region/2025/02/{n}/older-{n}'>{h}</a> {teasers[n]} "
        f"{teasers[(n + 5) % len(teasers)]}</p></div>" for n, h in enumerate(reversed(HEADLINES))) + "</div>"
    page = _page("Tag: Harbour | Nordkurier", f"<h1>Stories tagged Harbour</h1><ul>{_headline_list()}</ul>", "", rail)
    reading = read_page(page, "https://nordkurier.example/news/0/list-5.html", "text/html")
    assert not reading.verdict.is_article and reading.verdict.reason == "listing"


def test_a_short_article_over_its_more_stories_list_is_an_article():
    """The heading's region holds a column of 10 headlines, and the body: the body outweighs it."""
    body = "".join(f"<p>{p}</p>" for p in PROSE + MORE_PROSE[:4])  # ~190 words
    page = _page("Harbour plan approved | Nordkurier", f"<article><h1>Harbour plan approved</h1>{body}"
                 f"<h3>More stories</h3><ul>{_headline_list(10)}</ul></article>", OG_ARTICLE)
    assert heading_column(_tree(page), []) is not None
    reading = read_page(page, "https://nordkurier.example/news/0/story-5.html", "text/html")
    assert reading.verdict.is_article, reading.verdict.reason


def test_an_article_whose_heading_sits_over_a_trending_strip_is_an_article():
    """A column next to the heading, but the body extraction found beside it is long: the strip
    is the template's, the page is the body's. (Beside a shorter body, an undated page like
    this one is judged a listing: the bound is LISTING_URL_MAX_WORDS words besides the column.)"""
    recap = [f"On day {n + 1} of the hearings, the board heard that {p[0].lower()}{p[1:]}"
             for n, p in enumerate(MORE_PROSE + PROSE)]
    body = "".join(f"<p>{p}</p>" for p in PROSE + MORE_PROSE + recap)  # ~600 words
    page = _page("Harbour plan approved | Nordkurier",
                 f"<div class='top'><h1>Harbour plan approved</h1><ul class='trending'>{_headline_list()}</ul></div>"
                 f"<div class='story-body'>{body}</div>")
    assert heading_column(_tree(page), []) is not None
    reading = read_page(page, "https://nordkurier.example/news/0/story-6.html", "text/html")
    assert reading.verdict.is_article, reading.verdict.reason


def test_a_dated_roundup_of_linked_items_is_an_article():
    """Each item led by a linked headline, as on a listing: the page says it is an article and
    when it was published."""
    items = "".join(f"<li><strong><a href='/region/2025/03/{n}/story-{n}'>{h}.</a></strong> {PROSE[n % 5]}</li>"
                    for n, h in enumerate(HEADLINES[:10]))
    page = _page("10 things to know this morning | Nordkurier",
                 f"<article><h1>10 things to know this morning</h1><p>Good morning! Here is the news.</p>"
                 f"<ol>{items}</ol></article>", OG_ARTICLE + PUBLISHED)
    reading = read_page(page, "https://nordkurier.example/news/0/story-7.html", "text/html")
    assert reading.verdict.is_article, reading.verdict.reason


@pytest.mark.parametrize("links, why", [
    ("".join(f"<li><a href='/tag/{n}'>{tag}</a></li>" for n, tag in enumerate((
        "Harbour board", "City council elections", "Ferry routes", "Storm damage", "Regional rail timetable",
        "School meals", "Mooring fees", "Old town", "Hospital car park", "Coast road repairs", "Market traders",
        "Island ferry service"))),
     "a tag cloud's links are names, not headlines"),
    ("".join(f"<li><a href='/region/story'>{h}</a></li>" for h in HEADLINES), "one target linked twelve times"),
])
def test_links_that_are_not_a_column_of_stories(links, why):
    page = _page("Page | Nordkurier", f"<h1>Harbour</h1><ul>{links}</ul>")
    assert heading_column(_tree(page), []) is None, why


def test_inline_links_in_paragraphs_are_not_headline_items():
    paragraphs = "".join(f"<p>{p} As <a href='/region/{n}'>{HEADLINES[n]}</a> reported earlier.</p>"
                         for n, p in enumerate(PROSE * 2))
    assert heading_column(_tree(_page("Harbour | Nordkurier", f"<h1>Harbour</h1><div>{paragraphs}</div>")), []) is None


def test_a_menu_in_the_site_header_is_not_a_column():
    menu = "".join(f"<li><a href='/region/{n}'>{h}</a></li>" for n, h in enumerate(HEADLINES))
    page = (f"<html><head><title>Nordkurier</title></head><body><header><h1>Nordkurier</h1><ul>{menu}</ul></header>"
            f"<main>{''.join(f'<p>{p}</p>' for p in PROSE)}</main></body></html>").encode()
    assert heading_column(_tree(page), []) is None


def test_what_extraction_found_beside_the_column():
    """Lines led by a headline link, and a long line holding several of the column's own
    headlines (its region dumped with the chrome around it), are columns; prose is not."""
    page = _page("Tag: Harbour | Nordkurier", f"<h1>Stories tagged Harbour</h1><ul>{_headline_list()}</ul>")
    chrome = " ".join(["Home Region Sport Weather Listen live Subscribe Newsletters"] * 10)
    dump = f"{chrome} Stories tagged Harbour " + " ".join(f"{h} Mar {n + 1}, 2025" for n, h in enumerate(HEADLINES))
    teaser = f"{HEADLINES[3]} {PROSE[0]}"
    column = heading_column(_tree(page), [dump, teaser, BIO])
    assert column.items == 12 and column.unled_words == len(re.findall(r"\w+", BIO))
