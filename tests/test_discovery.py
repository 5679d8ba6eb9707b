import datetime as dt

import pytest

from crawler.page.discovery import Kind, detect_kind, feed_entries, robots_sitemaps, sitemap_entries

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>T</title>
<item><title>One</title><link>https://news.example/2025/01/28/one/</link><pubDate>Tue, 28 Jan 2025 14:05:00 +0200</pubDate></item>
<item><title>Two</title><link>https://news.example/2025/01/29/two/</link></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>
<entry><title>One</title><link rel="alternate" href="https://news.example/one"/><published>2024-12-11T10:00:00Z</published></entry>
</feed>"""

NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>https://news.example/a</loc><news:news><news:publication><news:name>N</news:name><news:language>en</news:language></news:publication>
<news:publication_date>2025-01-29T12:10:00+03:00</news:publication_date><news:title>A</news:title></news:news></url>
</urlset>"""

INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://news.example/sitemap-posts.xml</loc><lastmod>2025-02-01</lastmod></sitemap></sitemapindex>"""


@pytest.mark.parametrize(
    "body, kind",
    [
        (RSS, Kind.FEED),
        (ATOM, Kind.FEED),
        (b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="x"></rdf:RDF>', Kind.FEED),
        (NEWS_SITEMAP, Kind.SITEMAP),
        (INDEX, Kind.SITEMAP_INDEX),
        (b"\xef\xbb\xbf<!DOCTYPE html>\n<html><head>", Kind.HTML),
        (b"<!-- generated -->\n<html lang=en>", Kind.HTML),
        (b"%PDF-1.7 binary", Kind.OTHER),
    ],
)
def test_detect_kind_from_content(body, kind):
    assert detect_kind(body) is kind


def test_feed_entries_rss_and_atom():
    entries = feed_entries(RSS)
    assert [e.url for e in entries] == ["https://news.example/2025/01/28/one/", "https://news.example/2025/01/29/two/"]
    assert entries[0].published == dt.datetime(2025, 1, 28, 12, 5, tzinfo=dt.timezone.utc)
    assert entries[1].published is None
    (atom,) = feed_entries(ATOM)
    assert atom.url == "https://news.example/one"


def test_google_news_sitemap_publication_date():
    (entry,) = sitemap_entries(NEWS_SITEMAP)
    assert entry.url == "https://news.example/a"
    assert entry.published == dt.datetime(2025, 1, 29, 9, 10, tzinfo=dt.timezone.utc)
    assert entry.title == "A"
    (index_entry,) = sitemap_entries(INDEX)
    assert index_entry.url.endswith("sitemap-posts.xml")


def test_sitemap_entity_expansion_is_not_performed():
    levels = "".join(
        f'<!ENTITY e{i} "{"&e%d;" % (i - 1) * 10}">' if i else '<!ENTITY e0 "ha">' for i in range(8)
    )
    bomb = f'<?xml version="1.0"?><!DOCTYPE u [{levels}]><urlset><url><loc>https://x.example/&e7;</loc></url></urlset>'
    entries = sitemap_entries(bomb.encode())
    assert all(len(e.url) < 100 for e in entries)


def test_robots_sitemap_lines():
    robots = b"User-agent: *\nDisallow: /search/\nSitemap: https://news.example/sitemap_index.xml\n"
    assert robots_sitemaps(robots) == ["https://news.example/sitemap_index.xml"]


@pytest.mark.parametrize(
    "body",
    [
        b"<script>window.dataLayer = [];</script>\n<html><body><p>Story</p></body></html>",
        b'<link rel="stylesheet" href="/s.css"><title>T</title>',
        b"<style>p{}</style><main><p>Story</p></main>",
        b"<noscript>enable JS</noscript><app-root><story-body>Text</story-body></app-root>",
        b"\n\nWarning: Undefined variable $x in /var/www/index.php on line 12\n<!DOCTYPE html><html>",
        b"<wrapper><section><p>Story</p></section></wrapper>",
    ],
)
def test_a_body_declared_html_is_html_whatever_its_first_tag(body):
    assert detect_kind(body, "text/html; charset=utf-8") is Kind.HTML
    assert detect_kind(body, "application/xhtml+xml") is Kind.HTML


def test_declared_html_that_is_clearly_something_else():
    assert detect_kind(RSS, "text/html") is Kind.FEED  # sites serve feeds as text/html
    assert detect_kind(NEWS_SITEMAP, "text/html") is Kind.SITEMAP
    assert detect_kind(b"%PDF-1.7 ...", "text/html") is Kind.OTHER
    assert detect_kind(b"\x89PNG\r\n\x1a\n...", "text/html") is Kind.OTHER


@pytest.mark.parametrize(
    "body, kind",
    [
        (b"  <!DOCTYPE html><html>", Kind.HTML),
        (b"<script>var a;</script><div>x</div>", Kind.HTML),
        (b"plain words, no markup at all", Kind.OTHER),
        (b'{"json": true}', Kind.OTHER),
    ],
)
def test_undeclared_bodies_are_sniffed_as_browsers_do(body, kind):
    assert detect_kind(body, "application/octet-stream") is kind
    assert detect_kind(body, None) is kind
