"""Article decisions and extraction on the sample-site pages, without a crawler."""
import datetime as dt

import pytest
import trafilatura

from crawler.page.classify import url_verdict
from crawler.page.read import read_page
from crawler.page.dates import parse_datetime
from crawler.page.extract import ExtractionError, clean_authors, clean_title, extract_article
from crawler.page.htmlmeta import parse_html
from tests.helpers import all_articles, all_nonarticles, render

ARTICLES = all_articles()
NONARTICLES = all_nonarticles()


def _id(pair):
    site, entry = pair
    return f"{site.slug}{entry['path']}"


@pytest.mark.parametrize("pair", ARTICLES, ids=_id)
def test_article_pages_are_articles(pair):
    site, article = pair
    html, url = render(site, article["path"])
    verdict = read_page(html.encode(), url, "text/html", None).verdict
    assert verdict.is_article, verdict.reason


@pytest.mark.parametrize("pair", NONARTICLES, ids=_id)
def test_nonarticle_pages_are_not_articles(pair):
    site, page = pair
    html, url = render(site, page["path"])
    assert not read_page(html.encode(), url, "text/html", None).verdict.is_article


@pytest.mark.parametrize(
    "url, reason",
    [
        ("https://news.example/", "home"),
        ("https://news.example/en/", "home"),
        ("https://news.example/about-us/", "static_page"),
        ("https://news.example/contact", "static_page"),
    ],
)
def test_url_alone_settles_obvious_non_articles(url, reason):
    verdict = url_verdict(url)
    assert verdict is not None and not verdict.is_article and verdict.reason == reason


def test_soft_404_is_not_an_article():
    html = "<html><head><title>Page not found</title></head><body>" + "<p>word </p>" * 200 + "</body></html>"
    reading = read_page(html.encode(), "https://news.example/2025/01/01/gone-story-here-now/", "text/html", None)
    assert reading.verdict.reason == "error_page"


@pytest.mark.parametrize("pair", ARTICLES, ids=_id)
def test_extraction_metadata_matches_manifest(pair):
    site, article = pair
    html, url = render(site, article["path"])
    result = extract_article(html, url)
    assert result.title == article["title"]
    assert result.published_at == dt.datetime.fromisoformat(article["published"])
    assert result.published_at.tzinfo is not None
    assert result.authors == article["authors"]
    assert result.author_organisations == article.get("author_organisations", [])
    assert result.language == article.get("language", "en")
    assert result.canonical_url == url.rstrip("/") + ("/" if article["path"].endswith("/") else "")


@pytest.mark.parametrize("pair", ARTICLES, ids=_id)
def test_extraction_keeps_the_body(pair):
    site, article = pair
    html, url = render(site, article["path"])
    text = extract_article(html, url).text
    expected = (site.root / article["expected"]).read_text(encoding="utf-8").splitlines()
    missing = [p for p in expected if p.strip() and " ".join(p.split()) not in " ".join(text.split())]
    assert not missing, f"{len(missing)}/{len(expected)} body paragraphs lost, first: {missing[0][:80]!r}"


def test_empty_page_raises_extraction_error():
    with pytest.raises(ExtractionError) as info:
        extract_article("<html><body><nav>Home</nav></body></html>", "https://news.example/2025/01/01/x-y-z-w/")
    assert info.value.reason == "no_text"


@pytest.mark.parametrize(
    "title, site, expected",
    [
        ("Budget passes first reading | Sofia Daily", "Sofia Daily", "Budget passes first reading"),
        ("The Daily Wire - Budget passes first reading", "Daily Wire", "Budget passes first reading"),
        ("Budget passes first reading in parliament today – NewsCo", None, "Budget passes first reading in parliament today"),
        ("Q&A: what the budget means - for you", "Other", "Q&A: what the budget means - for you"),
    ],
)
def test_clean_title(title, site, expected):
    assert clean_title(None, title, None, site) == expected


def test_clean_authors():
    assert clean_authors(["By Jane Doe and John Smith", "Sofia Daily", "jane@x.com", "28 January 2025"], ["Sofia Daily"]) == [
        "Jane Doe",
        "John Smith",
    ]


def test_parse_datetime_forms():
    utc = dt.timezone.utc
    assert parse_datetime("2025-01-28T14:05:00+0200") == dt.datetime(2025, 1, 28, 12, 5, tzinfo=utc)
    assert parse_datetime("2025-01-28T14:05:00Z") == dt.datetime(2025, 1, 28, 14, 5, tzinfo=utc)
    assert parse_datetime("2025-01-28") == dt.datetime(2025, 1, 28, tzinfo=utc)
    assert parse_datetime("yesterday") is None
    assert parse_datetime("1871-01-01") is None


def test_sample_sites_reproduce_boilerplate_that_trafilatura_keeps():
    """The fixtures must exercise the problem: plain trafilatura leaks boilerplate on most sites."""
    import trafilatura

    leaking_sites = set()
    for site, article in ARTICLES:
        html, _ = render(site, article["path"])
        plain = trafilatura.extract(html, include_comments=False, favor_precision=True) or ""
        if any(b in plain for b in site.manifest.get("boilerplate", [])):
            leaking_sites.add(site.slug)
    assert len(leaking_sites) >= 4, leaking_sites


ARTICLE_BODY = "".join(
    f"<p>Paragraph {i}: the regional council debated the harbour budget for several hours before a narrow vote "
    f"approved the plan, with opposition members calling for an independent review of the costs involved.</p>"
    for i in range(6)
)


def test_metadata_image_section_tags_from_declarations():
    html = f"""<html lang="de-AT"><head><title>Harbour plan approved - Nordkurier</title>
    <meta property="og:site_name" content="Nordkurier"><meta property="og:image" content="/img/harbour.jpg">
    <meta property="article:section" content="Region"><meta property="article:tag" content="Harbour">
    <meta property="article:tag" content="Budget">
    <script type="application/ld+json">{{"@context":"https://schema.org","@type":"NewsArticle",
      "headline":"Harbour plan approved","datePublished":"2025-03-04T08:30:00+01:00",
      "author":[{{"@type":"Person","name":"Jana Berger"}},{{"@type":"Organization","name":"Nordkurier"}}]}}</script>
    </head><body><article><h1>Harbour plan approved</h1>{ARTICLE_BODY}</article></body></html>"""
    result = extract_article(html, "https://www.nordkurier.example/region/harbour-plan-approved-123456")
    assert result.title == "Harbour plan approved"
    assert result.authors == ["Jana Berger"]
    assert result.published_at == dt.datetime(2025, 3, 4, 7, 30, tzinfo=dt.timezone.utc)
    assert result.language == "de"
    assert result.image == "https://www.nordkurier.example/img/harbour.jpg"
    assert result.section == "Region"
    assert result.tags == ["Harbour", "Budget"]


def test_missing_date_stays_missing_even_with_dates_in_the_prose():
    html = f"""<html><head><title>Council votes on harbour plan</title></head><body><article>
    <h1>Council votes on harbour plan</h1><p>The plan was first tabled on 12 March 2019 and revised in
    January 2023.</p>{ARTICLE_BODY}</article></body></html>"""
    assert extract_article(html, "https://news.example/council-votes-on-harbour-plan").published_at is None


def _body_text(html: str) -> str:
    from crawler.page.body import extract_body

    return extract_body(parse_html(html), "https://example.org/news/1", set()).text


PROSE_PARAGRAPHS = [
    "The harbour board approved the expansion plan on Tuesday after a two-year review of its costs and risks.",
    "Engineers expect the new quay to take four years to build, with the first berth opening in the third year.",
    "Local fishing crews, who had opposed an earlier version of the plan, said the new design left their moorings alone.",
    "The board will publish the full tender documents next month, and construction bids are due by the end of spring.",
]


def test_navigation_kept_as_link_paragraphs_is_removed_and_prose_stays():
    menu = "".join(f'<p><a href="/s/{i}">{label}</a></p>' for i, label in enumerate(["World", "Business", "Harbour news", "Weather"]))
    prose = "".join(f"<p>{p}</p>" for p in PROSE_PARAGRAPHS)
    html = f"<html><body><article><h1>Harbour expansion approved</h1>{menu}{prose}</article></body></html>"
    text = _body_text(html)
    assert "Harbour news" not in text and "Weather" not in text
    for paragraph in PROSE_PARAGRAPHS:
        assert paragraph in text


def test_link_runs_need_three_links_in_a_row():
    from crawler.page.body import _mark_link_runs

    anchors = {"council minutes", "tender documents", "world", "business", "sport"}
    texts = ["Council minutes", "Tender documents", PROSE_PARAGRAPHS[0], "World", "Business", "Sport", PROSE_PARAGRAPHS[1]]
    keys = [t.lower() for t in texts]
    reasons = [None] * len(texts)
    _mark_link_runs(keys, texts, anchors, reasons)
    # two links in a row are a citation pair, not a menu
    assert reasons == [None, None, None, "structure:link_run", "structure:link_run", "structure:link_run", None]


def test_page_dump_keeps_its_prose_lines():
    from lxml import etree

    from crawler.page.body import _trim_page_dump

    menu = [f"Section {i}" for i in range(30)]
    el = etree.Element("p")
    el.text = "\n".join(menu[:20] + PROSE_PARAGRAPHS[:2] + menu[20:])
    removed = _trim_page_dump(el)
    assert el.text.splitlines() == PROSE_PARAGRAPHS[:2]
    assert "Section 3" in removed
    # an ordinary multi-line block (a poem, an address) is not a dump
    short = etree.Element("p")
    short.text = "\n".join(menu[:10])
    assert _trim_page_dump(short) is None and short.text.count("\n") == 9


def test_an_article_split_over_sibling_containers_is_whole():
    # trafilatura keeps the first body container once it holds enough text
    first = "".join(f"<p>{p}</p>" for p in PROSE_PARAGRAPHS * 2)
    rest = "The second chunk carries the end of the story, with the crews' reaction and the board's timetable."
    html = (
        "<html><body><main><h1>Harbour expansion approved</h1><div class='chunks'>"
        f"<div class='article-body'>{first}</div><div class='ad-slot'>Advertisement</div>"
        f"<div class='article-body'><p>{rest}</p></div></div>"
        "<aside class='more'><p>A different story entirely, about the regional rail timetable and its changes.</p></aside>"
        "</main></body></html>"
    )
    assert rest not in (trafilatura.extract(html, fast=True) or "")
    text = _body_text(html)
    assert rest in text and PROSE_PARAGRAPHS[0] in text
    assert "rail timetable" not in text


def test_continuation_needs_the_same_container_class():
    from crawler.page.body import _continuation_paragraphs, _norm

    other = "A reader's letter about parking fees, printed beside the story in a box of its own design."
    tree = parse_html(
        f"<html><body><div><div class='story-body'><p>{PROSE_PARAGRAPHS[0]}</p></div>"
        f"<div class='letters'><p>{other}</p></div>"
        f"<div class='story-body'><p>{PROSE_PARAGRAPHS[1]}</p></div></div></body></html>"
    )
    found = _continuation_paragraphs(tree, [_norm(PROSE_PARAGRAPHS[0])], [PROSE_PARAGRAPHS[0]])
    assert found == [PROSE_PARAGRAPHS[1]]


CARDS = [("Harbour", "Ferry strike called off after late-night talks", "The union accepted the offer at 2am."),
         ("Schools", "New term starts with three schools closed", "Repairs ran late over the summer."),
         ("Opinion", "Why the tram line still makes sense", "A columnist answers the critics of the route.")]


def _story_page(closing: str) -> str:
    prose = "".join(f"<p>{p}</p>" for p in PROSE_PARAGRAPHS * 2)
    return (f"<html><body><article><h1>Harbour expansion approved</h1><div class='story'>{prose}{closing}</div>"
            "</article></body></html>")


def test_a_rail_of_story_cards_closing_the_body_is_removed():
    rail = "<h2>Other stories</h2>" + "".join(
        f'<div class="card"><h4><b>{kicker}</b> <a href="/s/{i}">{headline}</a></h4><p class="standfirst">{line}</p></div>'
        for i, (kicker, headline, line) in enumerate(CARDS))
    html = _story_page(rail)
    assert CARDS[0][1] in (trafilatura.extract(html, fast=True) or "")  # trafilatura keeps the rail
    text = _body_text(html)
    assert all(headline not in text and line not in text for _, headline, line in CARDS)
    assert "Other stories" not in text
    assert all(p in text for p in PROSE_PARAGRAPHS)


def test_linked_subheads_of_an_article_stay():
    # A guide whose sub-heads link to the places it describes: each heads a section of prose.
    sections = "".join(f'<h3><a href="/place/{i}">{headline}</a></h3><p>{PROSE_PARAGRAPHS[i]}</p><p>{PROSE_PARAGRAPHS[i + 1]}</p>'
                       for i, (_, headline, _) in enumerate(CARDS[:2]))
    text = _body_text(_story_page(sections))
    assert CARDS[0][1] in text and CARDS[1][1] in text
    assert all(p in text for p in PROSE_PARAGRAPHS)


def test_a_pop_up_card_inside_a_paragraph_is_not_body_and_the_page_is_left_as_it_was():
    from lxml import html as lxml_html

    from crawler.page.body import extract_body

    card = ('<span class="person"><a href="/people/ana-ruiz">Ana Ruiz</a><span class="card"><img src="/a.jpg">'
            '<a href="/people/ana-ruiz">Ana Ruiz</a><a href="/s/1">Harbour board delays the tender by a month</a> '
            '<a href="/s/2">Ruiz questions the quay budget at a heated hearing</a><a href="/people/ana-ruiz">MORE</a>'
            "</span></span>")
    lead = f"<p>The plan was backed by councillor {card} (Greens), who had opposed the first version in 2022.</p>"
    tree = parse_html("<html><body><article><h1>Harbour expansion approved</h1>" + lead
                      + "".join(f"<p>{p}</p>" for p in PROSE_PARAGRAPHS * 2) + "</article></body></html>")
    before = lxml_html.tostring(tree)
    text = extract_body(tree, "https://example.org/news/1", set()).text
    assert "The plan was backed by councillor Ana Ruiz (Greens), who had opposed the first version in 2022." in text
    assert "heated hearing" not in text and "MORE" not in text
    assert lxml_html.tostring(tree) == before


def test_a_paragraph_citing_several_links_keeps_them():
    # links a sentence lists, even in an element of their own, have commas and words between them
    cited = ('<p>The board cited <em><a href="/r/1">the 2019 flood study</a>, <a href="/r/2">the port authority audit</a>, '
             '<a href="/r/3">the fishermen\'s petition</a></em> in its decision, and said more reviews would follow.</p>')
    text = _body_text(_story_page(cited))
    assert "the 2019 flood study, the port authority audit, the fishermen's petition in its decision" in text


def test_an_article_made_of_linked_items_keeps_them():
    # A round-up whose items are linked headlines with a line each: the items are the article.
    items = "".join(f'<h3><a href="/p/{i}">{headline}</a></h3><p>{line}</p>' for i, (_, headline, line) in enumerate(CARDS * 2))
    html = f"<html><body><article><h1>The week in the harbour</h1><p>{PROSE_PARAGRAPHS[0]}</p>{items}</article></body></html>"
    text = _body_text(html)
    assert all(headline in text and line in text for _, headline, line in CARDS)


def test_the_links_under_a_dont_miss_heading_go_with_it():
    box = ("<p><strong>DON'T MISS</strong><br>"
           + "<br>".join(f'<strong><a href="/s/{i}">{headline}</a> [VIDEO]</strong>' for i, (_, headline, _) in enumerate(CARDS))
           + "</p>")
    prose = "".join(f"<p>{p}</p>" for p in PROSE_PARAGRAPHS)
    html = f"<html><body><article><h1>Harbour expansion approved</h1>{prose}{box}{prose}</article></body></html>"
    text = extract_article(html, "https://example.org/news/1").text
    assert all(headline not in text for _, headline, _ in CARDS)
    assert "DON'T MISS" not in text
    assert text.count(PROSE_PARAGRAPHS[3]) == 2


def test_a_paragraph_after_a_box_heading_that_is_not_a_link_stays():
    from crawler.page.body import _drop_links_boxes, _norm

    text = "\n".join(["Related stories", CARDS[0][1], PROSE_PARAGRAPHS[0], CARDS[1][1]])
    kept, removed = _drop_links_boxes(text, {_norm(CARDS[0][1]), _norm(CARDS[1][1])})
    assert kept.split("\n") == ["Related stories", PROSE_PARAGRAPHS[0], CARDS[1][1]]
    assert [r.reason for r in removed] == ["structure:links_box"]
