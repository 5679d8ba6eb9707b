"""What kind of document did we fetch, and which URLs does it lead to?

The kind is read from the content, never from the file name or the declared
Content-Type alone: sites serve feeds as text/html and sitemaps as
text/plain. Parsing uses libraries hardened against hostile XML: Scrapy's
sitemap parser (lxml with entity resolution off) and feedparser (expat,
which refuses external entities and limits entity expansion).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import Enum
from urllib.robotparser import RobotFileParser

import feedparser
from lxml import etree

from crawler.page.dates import parse_datetime


class Kind(str, Enum):
    HTML = "html"
    FEED = "feed"
    SITEMAP = "sitemap"  # <urlset>, including Google News sitemaps
    SITEMAP_INDEX = "sitemap_index"
    OTHER = "other"


# The prolog before the root element: XML declaration, comments, stylesheets, and a
# DOCTYPE, which may carry an inline DTD ([...]); entity bombs live there, and the
# parsers below are the ones that must refuse them, so the sniffing must see past it.
_XML_PROLOG = re.compile(
    rb"^(?:\s|<\?xml[^>]*\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>|<\?xml-stylesheet[^>]*\?>)*",
    re.DOTALL | re.IGNORECASE,
)
_ROOT = re.compile(rb"<\s*(?:[\w-]+:)?([\w-]+)", re.IGNORECASE)


# Types that declare an HTML page, as browsers read them.
_HTML_TYPES = ("text/html", "application/xhtml+xml")
# The tags that make WHATWG's sniffing algorithm (mimesniff, "identifying a resource with an
# unknown MIME type") call a body HTML, followed by a space or ">".
_HTML_SNIFF = re.compile(
    rb"<(?:!doctype\s+html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p|!--)[\s>]",
    re.IGNORECASE,
)
# Binary formats that a server may still label text/html.
_BINARY_MAGIC = (b"%PDF-", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b", b"BZh", b"\x00\x00\x01\x00",
                 b"OggS", b"ID3", b"RIFF", b"\x7fELF")


def detect_kind(body: bytes, content_type: str | None = None) -> Kind:
    """What the body is, from its bytes and the declared Content-Type.

    A body declared HTML is HTML unless its bytes are clearly something else:
    a feed or a sitemap (sites serve those as text/html), or a binary format.
    Browsers render a page that opens with <script>, <link>, a PHP warning
    or any stray text, and so must we. An undeclared or generic body
    (text/plain, application/octet-stream, text/xml) is sniffed: its root
    element decides for XML, and WHATWG's HTML patterns for the rest."""
    head = body[:16384]
    for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        head = head.removeprefix(bom)
    if head.startswith(_BINARY_MAGIC):
        return Kind.OTHER
    match = _XML_PROLOG.match(head)
    rest = head[match.end():] if match else head
    root = _ROOT.match(rest)
    if root is not None:
        name = root.group(1).lower()
        if name == b"urlset":
            return Kind.SITEMAP
        if name == b"sitemapindex":
            return Kind.SITEMAP_INDEX
        if name in (b"rss", b"feed", b"rdf"):
            return Kind.FEED
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    if declared in _HTML_TYPES:
        return Kind.HTML
    if root is not None and root.group(1).lower() == b"html" or _HTML_SNIFF.search(rest[:1024].lstrip()):
        return Kind.HTML
    return Kind.OTHER


@dataclass(frozen=True)
class Entry:
    """A URL listed by a feed or sitemap, with the date it declares (if any)."""

    url: str
    published: dt.datetime | None = None
    title: str | None = None


# Same hardening as Scrapy's own sitemap parser: no entity expansion (XML
# bombs), no network access (XXE), no huge trees. We parse ourselves because
# Scrapy's parser drops the nested <news:news> block with the publication date.
_SAFE_XML = etree.XMLParser(
    recover=True, remove_comments=True, resolve_entities=False, no_network=True, huge_tree=False
)


def sitemap_entries(body: bytes) -> list[Entry]:
    """Entries of a <urlset> or <sitemapindex>; Google News dates and titles included."""
    root = etree.fromstring(body, parser=_SAFE_XML)
    if root is None:
        raise ValueError("unparsable sitemap")
    entries = []
    for node in root:
        if not isinstance(node.tag, str):
            continue
        fields: dict[str, str] = {}
        for child in node.iter():
            if isinstance(child.tag, str) and child.text and child.text.strip():
                fields.setdefault(etree.QName(child).localname, child.text.strip())
        loc = fields.get("loc")
        if not loc:
            continue
        date = fields.get("publication_date") or fields.get("lastmod")
        entries.append(Entry(loc, parse_datetime(date), fields.get("title")))
    return entries


def feed_entries(body: bytes) -> list[Entry]:
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    if parsed.bozo and not parsed.entries:
        raise ValueError(f"unparsable feed: {parsed.get('bozo_exception')!r}")
    entries = []
    for item in parsed.entries:
        link = item.get("link")
        if not link:
            for alt in item.get("links", []):
                if alt.get("rel", "alternate") == "alternate" and alt.get("href"):
                    link = alt["href"]
                    break
        if not link:
            continue
        published = None
        for key in ("published", "updated", "created"):
            published = parse_datetime(_feedparser_date(item, key))
            if published:
                break
        entries.append(Entry(link.strip(), published, item.get("title")))
    return entries


def _feedparser_date(item, key: str) -> str | None:
    struct = item.get(f"{key}_parsed")
    if struct:
        return dt.datetime(*struct[:6], tzinfo=dt.timezone.utc).isoformat()
    return None


def robots_sitemaps(body: bytes) -> list[str]:
    """The ``Sitemap:`` URLs of a robots.txt (the standard library's robots.txt parser)."""
    parser = RobotFileParser()
    parser.parse(body.decode("utf-8", "replace").splitlines())
    return [url.strip() for url in parser.site_maps() or () if url.strip()]


FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json")


def feed_links(tree) -> list[str]:
    """Feeds a page advertises with <link rel="alternate" type="application/rss+xml">."""
    hrefs = []
    for el in tree.xpath("//link[@href and @type]"):
        if el.get("type", "").lower() in FEED_TYPES[:3] and "alternate" in el.get("rel", "").lower():
            hrefs.append(el.get("href").strip())
    return hrefs
