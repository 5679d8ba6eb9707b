"""Issue 16: titles, authors and dates read from what pages declare, in the shapes real pages use."""
from __future__ import annotations

import json

from crawler.page.extract import extract_article

PROSE = "".join(
    f"<p>{p}</p>" for p in (
        "The harbour board approved the expansion plan on Tuesday after a two-year review of its costs and risks.",
        "Engineers expect the new quay to take four years to build, with the first berth opening in the third year.",
        "Local fishing crews, who had opposed an earlier version of the plan, said the new design left their moorings alone.",
    )
)


def _extract(head: str = "", body: str = "", h1: str = "Harbour plan approved", url: str = "https://coast.example/news/a"):
    html = (f"<html><head><title>Harbour plan approved | Coast Daily</title>{head}</head>"
            f"<body>{body}<article><h1>{h1}</h1>{PROSE}</article></body></html>")
    return extract_article(html, url)


def _ld(obj: dict, wrapper: str = "{}") -> str:
    return f"<script type='application/ld+json'>{wrapper.format(json.dumps(obj))}</script>"


def test_jsonld_wrapped_in_cdata_is_read():
    # XHTML serialisations put script text in a CDATA section, bare or behind "//".
    article = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Harbour plan approved",
               "datePublished": "2023-08-30T16:45:00+02:00", "author": {"@type": "Person", "name": "Jana Berger"}}
    for wrapper in ("<![CDATA[ {} ]]>", "\n//<![CDATA[\n{}\n//]]>\n"):
        found = _extract(_ld(article, wrapper))
        assert found.authors == ["Jana Berger"]
        assert found.published_at.isoformat() == "2023-08-30T16:45:00+02:00"


def test_the_declared_headline_in_cdata_jsonld_outvotes_a_social_rewrite():
    # og:title is a social rewrite; JSON-LD headline, <h1> and <title> agree on the headline.
    head = ("<meta property='og:title' content='You will not believe what the harbour board did'>"
            + _ld({"@type": "NewsArticle", "headline": "Harbour plan approved"}, "<![CDATA[{}]]>"))
    assert _extract(head).title == "Harbour plan approved"


def test_an_organisation_named_as_author_is_kept_whole_when_no_person_is():
    wiki = _ld({"@type": "Article", "headline": "Harbour plan approved",
                "author": {"@type": "Organization", "name": "Contributors to Wikimedia projects"}})
    assert (_extract(wiki).authors, _extract(wiki).author_organisations) == ([], ["Contributors to Wikimedia projects"])
    meta = _extract("<meta name='author' content='Organization for Transformative Works'>")
    assert (meta.authors, meta.author_organisations) == ([], ["Organization for Transformative Works"])
    # the site's own name is not split into a "person" and a stray letter
    site = _extract("<meta property='og:site_name' content='Coast & i'><meta name='author' content='Coast & i'>")
    assert (site.authors, site.author_organisations) == ([], ["Coast & i"])


def test_an_organisation_beside_a_person_is_dropped():
    found = _extract("<meta name='author' content='By Jana Berger, Coast Media Group'>")
    assert (found.authors, found.author_organisations) == (["Jana Berger"], [])


def test_a_home_page_in_brackets_does_not_lose_the_name():
    found = _extract("<meta name='author' content='Bradley M. Kuhn (http://coast.example/~bkuhn/)'>")
    assert found.authors == ["Bradley M. Kuhn"]


def test_a_jsonld_person_named_like_a_personal_site_is_its_author():
    head = ("<meta property='og:site_name' content='Jana Berger'>"
            + _ld({"@type": "BlogPosting", "headline": "Harbour plan approved",
                   "author": {"@type": "Person", "name": "Jana Berger"}}))
    found = _extract(head, url="https://janaberger.example/harbour")
    assert (found.authors, found.author_organisations) == (["Jana Berger"], [])


def test_related_story_cards_are_not_the_byline():
    # A "more from our writers" rail before the article: each card has an author class,
    # a name and a headline. The article's own byline comes later in the page.
    rail = "".join(
        f"<li class='author-card'><span>{name}</span><br><a href='/x'>{headline}</a></li>"
        for name, headline in (("Tom Ruiz", "New Yorkers post their feelings about the election in the subway"),
                               ("Ann Lee", "Inauguration ticket packages cost $25,000 to $1 million")))
    byline = "<div class='author-name'>JANA BERGER</div><div class='byline-date'>Updated August 30, 2023 at 4:45 pm</div>"
    assert _extract(body=f"<ul>{rail}</ul>{byline}").authors == ["JANA BERGER"]


def test_a_byline_with_its_date_on_the_next_line_is_still_a_byline():
    body = "<div class='byline'><span>By Jana Berger</span><br>Updated August 30, 2023 at 4:45 pm</div>"
    assert _extract(body=body).authors == ["Jana Berger"]


def test_byline_noise_is_trimmed_or_left_out():
    from crawler.page.authors import split_byline

    assert split_byline("Finian Cunningham. Sputnik International")[0] == "Finian Cunningham"
    assert split_byline("Текст: Венера Ерофеева") == ["Венера Ерофеева"]
    assert split_byline("Name *") == []
    assert split_byline("Prof. Jana Berger") == ["Prof. Jana Berger"]  # a title's full stop ends no name


def test_desks_and_agency_desks_are_organisations():
    assert _extract("<meta name='author' content='By TOM KRISHER, AP Auto Writer'>").authors == ["TOM KRISHER"]
    desk = _extract("<meta name='author' content='By Our Foreign Staff'>")
    assert desk.authors == [] and desk.author_organisations


def test_the_comment_form_and_nested_names_are_not_bylines():
    form = ("<form><p class='comment-form-author'><label for='author'>Name *</label><input id='author'></p></form>"
            "<span class='entry-author' itemprop='author'><span itemprop='name'><a rel='author'>"
            "<span itemprop='name'>Carlos Nadalim</span></a></span></span>")
    assert _extract(body=form).authors == ["Carlos Nadalim"]


def test_a_desk_byline_ends_the_markup_search():
    # The article is by a desk; the columnists' cards further down are other stories'.
    body = ("<span class='byline__author-name'>Our Foreign Staff</span>"
            "<div class='list-of-entities__item-author'>Philip Johnston</div>")
    found = _extract(body=body)
    assert found.authors == [] and found.author_organisations == ["Our Foreign Staff"]


def test_jsonld_objects_are_parsed_once_per_page_and_each_caller_gets_its_own_list():
    from crawler.page.htmlmeta import _jsonld, jsonld_objects, parse_html

    tree = parse_html('<html><head><script type="application/ld+json">{"@type": "NewsArticle", "headline": "H"}'
                      "</script></head><body><p>x</p></body></html>")
    first = jsonld_objects(tree)
    assert tree in _jsonld and first == [{"@type": "NewsArticle", "headline": "H"}]
    first.append({"@type": "Person"})  # a caller's own list: the page's objects are not changed
    assert jsonld_objects(tree) == [{"@type": "NewsArticle", "headline": "H"}]


def test_parsed_pages_have_lxml_html_element_classes_and_the_same_text_content():
    """parse_html picks lxml.html's element classes in C and reads text_content without XPath
    (crawler.page.htmlmeta._html_class_lookup): the classes and the texts must be lxml.html's."""
    from lxml import etree
    from lxml import html as lxml_html

    from crawler.page.htmlmeta import parse_html

    page = ("<html><head><title>T</title></head><body><form><input name=q><select><option>a</select>"
            "<textarea>t</textarea><label>l</label></form><div>One <b>two <i>three</i></b> four"
            "<script>var x = 1;</script></div><p>caf\u00e9 \u2014 <a href=/x>link</a> tail</p></body></html>")
    ours, theirs = parse_html(page), lxml_html.document_fromstring(page.encode(), parser=lxml_html.HTMLParser(encoding="utf-8"))
    pairs = list(zip(ours.iter(), theirs.iter(), strict=True))
    assert len(pairs) > 10
    for mine, lxml_own in pairs:
        assert isinstance(mine, type(lxml_own)) and type(mine).__name__ == type(lxml_own).__name__
        assert mine.text_content() == lxml_own.text_content() == etree.XPath("string()")(lxml_own)
    created = etree.SubElement(ours.find("body"), "form")  # elements made later get them too
    assert isinstance(created, lxml_html.FormElement) and created.text_content() == ""


def test_bylines_in_several_languages():
    from crawler.page.authors import split_byline

    # "by" and "and" in German, French, Spanish, Portuguese, Italian, Dutch, Norwegian, Polish, Russian
    assert split_byline("Von Anna Schmidt und Peter Müller") == ["Anna Schmidt", "Peter Müller"]
    assert split_byline("Par Jean Dupont et Marie Curie") == ["Jean Dupont", "Marie Curie"]
    assert split_byline("Por Juan Pérez y María López") == ["Juan Pérez", "María López"]
    assert split_byline("Por Ana Silva e João Souza") == ["Ana Silva", "João Souza"]
    assert split_byline("di Mario Rossi e Luca Bianchi") == ["Mario Rossi", "Luca Bianchi"]
    assert split_byline("scritto da Mario Rossi") == ["Mario Rossi"]
    assert split_byline("Door Jan de Vries en Piet Jansen") == ["Jan de Vries", "Piet Jansen"]
    assert split_byline("Tekst: Ola Nordmann") == ["Ola Nordmann"]
    assert split_byline("przez Jan Kowalski") == ["Jan Kowalski"]
    assert split_byline("Автор: Иван Петров") == ["Иван Петров"]
    assert split_byline("Kommentar von Anna Schmidt") == ["Anna Schmidt"]


def test_dates_and_reading_times_are_cut_from_bylines_in_several_languages():
    from crawler.page.authors import split_byline

    assert split_byline("Par Jean Dupont Publié le 12 mars 2024 à 14h30") == ["Jean Dupont"]
    assert split_byline("Par Jean Dupont, le 12 mars 2024 à 10h") == ["Jean Dupont"]
    assert split_byline("Von Anna Schmidt Aktualisiert am 12.03.2024 um 14:30 Uhr") == ["Anna Schmidt"]
    assert split_byline("Von Anna Schmidt | Stand: 12.03.2024 14:30 Uhr") == ["Anna Schmidt"]
    assert split_byline("Por Juan Pérez, publicado el 12 de marzo") == ["Juan Pérez"]
    assert split_byline("di Mario Rossi, pubblicato il 12 marzo 2024") == ["Mario Rossi"]
    assert split_byline("Door Jan de Vries, gepubliceerd op 12 maart") == ["Jan de Vries"]
    assert split_byline("Anna Schmidt · 3 Min. Lesezeit") == ["Anna Schmidt"]
    assert split_byline("Aktualisiert am 12.03.2024") == []
    # a particle ends no name, unless nothing was cut after it ("Jong, Michiel de": a citation's form)
    assert split_byline("Michiel de") == ["Michiel de"]


def test_picture_credits_places_and_outlets_are_not_authors():
    from crawler.page.authors import split_byline

    assert split_byline("Text: Anna Schmidt, Fotos: Peter Müller") == ["Anna Schmidt"]
    assert split_byline("Photo by Jane Doe") == []
    assert split_byline("Foto: Ana Silva") == []
    # after a full name, one word is the outlet or the dateline's place; full names are co-authors
    assert split_byline("Victor Tangermann, Futurism") == ["Victor Tangermann"]
    assert split_byline("Anna Schmidt, Berlin") == ["Anna Schmidt"]
    assert split_byline("Jane Doe, John Roe, Reuters") == ["Jane Doe", "John Roe"]
    assert split_byline("Sarah, John") == ["Sarah", "John"]
    # "en" is "and" in Dutch and "in" in Spanish and French: the place after it is no co-author
    assert split_byline("Juan Pérez, corresponsal en Madrid") == ["Juan Pérez"]
    assert split_byline("Jan de Vries en Piet Jansen") == ["Jan de Vries", "Piet Jansen"]


def test_desks_signing_as_staff_and_sites_named_twice_are_organisations():
    # a desk named with a collective role: an organisation, not the person "Science X"
    ld = ("<script type='application/ld+json'>{\"@type\": \"NewsArticle\", \"headline\": \"Harbour plan approved\", "
          "\"author\": {\"@type\": \"Person\", \"name\": \"Coast News staff\"}}</script>")
    found = _extract(ld)
    assert found.authors == [] and found.author_organisations == ["Coast News staff"]
    # a group signing in the plural
    found = _extract(body="<p class='byline'>Posted by Harbour Developers</p>")
    assert found.authors == [] and found.author_organisations == ["Harbour Developers"]
    # the site as meta author, and again in the byline markup with its name in two fields
    found = _extract("<meta name='author' content='Coastline'>",
                     "<p class='byline'><span>Coastline</span> <span>Coastline</span></p>", url="https://coastline.example/a")
    assert found.authors == [] and found.author_organisations == ["Coastline"]


def test_dates_declared_in_written_forms_keep_their_time_and_zone():
    import datetime as dt

    from crawler.page.dates import parse_datetime

    utc = dt.timezone.utc
    # JavaScript's Date.toString(), RFC 2822, the US written form with a 12-hour clock and an RFC 2822 zone
    assert parse_datetime("Tue Nov 19 2019 03:05:46 GMT+0000") == dt.datetime(2019, 11, 19, 3, 5, 46, tzinfo=utc)
    assert parse_datetime("Mon, 18 Nov 2019 16:07:38 -0600") == dt.datetime(2019, 11, 18, 22, 7, 38, tzinfo=utc)
    assert parse_datetime("19 Nov 2019 07:09 GMT") == dt.datetime(2019, 11, 19, 7, 9, tzinfo=utc)
    assert parse_datetime("November 19, 2019, 07:47 PM EST") == dt.datetime(2019, 11, 20, 0, 47, tzinfo=utc)
    assert parse_datetime("Nov. 19, 2019 at 12:05 a.m.") == dt.datetime(2019, 11, 19, 0, 5, tzinfo=utc)
    # what is not a date and time stays unread
    for value in ("yesterday", "Nov 19, 2019 13:47 PM", "Mon, 32 Nov 2019 00:00:00 +0000", "0001-01-01T00:00:00Z"):
        assert parse_datetime(value) is None


def test_an_undeclared_date_is_read_from_the_pages_address_before_its_images():
    # no declared date; the template's image path carries the day before
    head = "<meta property='og:image' content='https://cdn.coast.example/presto/2019/11/18/harbour.jpg'>"
    found = _extract(head, url="https://coast.example/story/news/2019/11/19/harbour-plan-approved/")
    assert found.published_at is not None and found.published_at.date().isoformat() == "2019-11-19"


def test_the_reporters_paper_on_the_line_after_their_names_is_not_a_reporter():
    body = ("<div class='byline'><div>Jana Berger and Tom Ruiz</div><div>Coast Falls Argus Leader</div>"
            "<div>Published 10:02 AM EST Nov 19, 2019</div></div>")
    assert _extract(body=body).authors == ["Jana Berger", "Tom Ruiz"]
    from crawler.page.authors import is_organisation

    for paper in ("Corriere della Sera", "Kölner Stadt-Anzeiger", "Diario de Coast", "Coast Courier"):
        assert is_organisation(paper, set())


def test_jsonld_people_in_expanded_and_prefixed_shapes():
    def authors(author):
        return _extract(_ld({"@context": "https://schema.org", "@type": "NewsArticle",
                             "headline": "Harbour plan approved", "author": author})).authors

    assert authors({"@list": [{"@type": "Person", "name": "Jana Berger"}, {"@type": "Person", "name": "Tom Ruiz"}]}) == [
        "Jana Berger", "Tom Ruiz"]
    assert authors({"@type": "http://schema.org/Person", "name": [{"@value": "Jana Berger", "@language": "en"}]}) == [
        "Jana Berger"]
    assert authors({"@type": "schema:Person", "givenName": ["Jana"], "familyName": {"@value": "Berger"}}) == ["Jana Berger"]
    # an organisation in a prefixed type is still no person
    found = _extract(_ld({"@type": "NewsArticle", "headline": "Harbour plan approved",
                          "author": {"@type": "schema:Organization", "name": "Coast Media Group"}}))
    assert found.authors == [] and found.author_organisations == ["Coast Media Group"]


def test_a_guessed_site_name_is_not_the_headline():
    # no declared site name: trafilatura guesses the <title>'s first part with a full stop in it
    def site_name(headline: str) -> str | None:
        html = (f"<html><head><title>{headline} - Coastnews.example</title></head>"
                f"<body><article><h1>{headline}</h1>{PROSE}</article></body></html>")
        return extract_article(html, "https://coast.example/news/a").site_name

    assert site_name("Harbour board votes today") == "Coastnews.example"
    assert site_name("Harbour board votes at 9 a.m. today") is None  # not the headline
