"""Reading the metadata a page declares: JSON-LD, meta tags, <html lang>.

Pure functions over an lxml tree, shared by the article classifier and the
extractor. trafilatura reads some of this too, but keeps only the date (no
time, no zone) and joins authors into one string, so we read the sources
ourselves where precision matters.
"""
from __future__ import annotations

import codecs
import json
import logging
import re
import weakref
from collections.abc import Iterator
from typing import Any

import charset_normalizer
import webencodings
from charset_normalizer.md import mess_ratio
from lxml import html as lxml_html
from w3lib.encoding import (
    html_body_declared_encoding,
    html_to_unicode,
    http_content_type_encoding,
    read_bom,
)

logger = logging.getLogger(__name__)

ARTICLE_TYPES = {
    "article",
    "newsarticle",
    "reportagenewsarticle",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "reviewnewsarticle",
    "backgroundnewsarticle",
    "blogposting",
    "liveblogposting",
    "socialmediaposting",
    "report",
    "scholarlyarticle",
}
LISTING_TYPES = {
    "collectionpage",
    "itemlist",
    "searchresultspage",
    "aboutpage",
    "contactpage",
    "profilepage",
    "faqpage",
}


# C0 controls but tab, line feed, form feed and carriage return; DEL.
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
_PARSER = lxml_html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, collect_ids=False)


# How much less garbled (charset_normalizer's mess ratio, 0 = clean) the detected
# decoding must read before it overrides a declared single-byte charset.
MESS_MARGIN = 0.1
DETECT_BYTES = 65536
_UNICODE_CODECS = ("utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be")


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode a page: (text, Python codec name).

    A BOM wins. Otherwise the declared charset (HTTP header, then <meta>) is
    used when it is believable, else the charset detected from the bytes
    (charset_normalizer). Many sites, Russian ones in windows-1251 and koi8-r
    especially, declare nothing or the wrong charset, and a browser-style
    fallback to cp1252 turns their text into mojibake. A declaration is not
    believable when

    - the bytes are invalid in it (meta says utf-8, the bytes are koi8-r), or
    - it is a legacy charset, in which almost any bytes decode, and the
      detected charset reads clearly less garbled (header says iso-8859-1,
      the bytes are windows-1251).

    A declared Unicode charset in which the bytes are valid is always kept:
    random legacy bytes are almost never valid UTF-8.
    """
    bom_encoding, _ = read_bom(body)
    if bom_encoding:
        encoding, text = html_to_unicode(content_type, body)
        return text, encoding
    declared = _declared_encoding(body, content_type)
    declared_text = None
    if declared:
        try:
            declared_text = body.decode(declared)
        except UnicodeError:
            logger.debug("Bytes are not valid %s, as declared; detecting the charset", declared)
        if declared_text is not None and codecs.lookup(declared).name in _UNICODE_CODECS:
            return declared_text, declared
    detected = _detect_encoding(body)
    if declared_text is None:
        if detected:
            return body.decode(detected, errors="replace"), detected
        try:  # w3lib's fallback, without the declaration that failed: utf-8, then cp1252
            return body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            return body.decode("cp1252", errors="replace"), "cp1252"
    if detected and codecs.lookup(detected).name != codecs.lookup(declared).name:
        detected_text = body.decode(detected, errors="replace")
        if detected_text != declared_text and _mess(detected_text) + MESS_MARGIN < _mess(declared_text):
            logger.debug("Declared charset %s contradicted by the bytes; decoding as %s", declared, detected)
            return detected_text, detected
    return declared_text, declared


def _whatwg_python_names() -> dict[str, str]:
    """{Python codec name: Python codec of the WHATWG encoding it labels}, for every
    WHATWG label Python knows, and every WHATWG encoding's own codec."""
    found: dict[str, str] = {}
    for label in webencodings.LABELS:
        encoding = webencodings.lookup(label)
        if encoding is None or encoding.name in _NOT_DECODABLE:
            continue
        target = codecs.lookup(encoding.codec_info.name).name
        found.setdefault(target, target)
        try:
            found.setdefault(codecs.lookup(label).name, target)
        except LookupError:
            pass  # a WHATWG label Python has no codec name for (x-mac-cyrillic): the lookup below finds it
    return found


# The WHATWG "replacement" encoding (labels of ISO-2022-KR, HZ...: decoders that
# smuggled markup past filters) decodes to one U+FFFD; x-user-defined is no real
# charset. We detect the charset from the bytes instead.
_NOT_DECODABLE = {"replacement", "x-user-defined"}
_WHATWG_BY_PYTHON_NAME = _whatwg_python_names()


def whatwg_codec(label: str | None) -> str | None:
    """The Python codec a browser would decode with for a declared charset ``label``
    (a WHATWG label, or a codec name w3lib resolved it to), or None if browsers do
    not know it.

    The WHATWG Encoding Standard's label table (``webencodings``) is the list: ``latin1``
    and ``ascii`` are windows-1252, ``euc-kr`` is cp949. Python's codec registry is
    not: it also knows ``zlib``, ``base64``, ``rot13``, ``idna``, ``punycode`` and
    ``undefined``, which are not text encodings, and decoding with which raises."""
    if not label:
        return None
    encoding = webencodings.lookup(label)
    if encoding is not None:
        if encoding.name in _NOT_DECODABLE:
            return None
        return codecs.lookup(encoding.codec_info.name).name
    try:
        return _WHATWG_BY_PYTHON_NAME.get(codecs.lookup(label.strip()).name)
    except (LookupError, ValueError):
        return None


def _declared_encoding(body: bytes, content_type: str | None) -> str | None:
    """The HTTP charset, else the page's <meta> charset, as a Python codec name (None if
    none is declared or browsers do not know it)."""
    header = whatwg_codec(http_content_type_encoding(content_type)) if content_type else None
    if header:
        return header
    meta = whatwg_codec(html_body_declared_encoding(body))
    if meta in ("utf-16-le", "utf-16-be"):
        return "utf-8"  # as browsers do: bytes a <meta> can be read in are not UTF-16
    return meta


def _mess(text: str) -> float:
    return mess_ratio(text[:DETECT_BYTES], maximum_threshold=1.0)


def _detect_encoding(body: bytes) -> str | None:
    best = charset_normalizer.from_bytes(body[:DETECT_BYTES]).best()
    if best is None:
        return None
    try:
        return codecs.lookup(best.encoding).name
    except LookupError:
        return None


def parse_html(html: str | bytes) -> lxml_html.HtmlElement:
    if isinstance(html, bytes):
        html, _ = decode_html(html)
    if _CONTROL_CHARS.search(html):
        # libxml2 ends the document at a NUL, and one BEL in a heading left trafilatura
        # with no text: a single control character would hide the whole page. Browsers
        # show none of them (HTML parse errors); we drop them.
        html = _CONTROL_CHARS.sub("", html)
    # lxml refuses str input that carries an XML encoding declaration, so feed it UTF-8 bytes.
    return lxml_html.document_fromstring(html.encode("utf-8") or b"<html></html>", parser=_PARSER)


# XHTML serialisations wrap script text in a CDATA section, sometimes behind a JavaScript
# comment ("//<![CDATA[ ... //]]>"); in HTML parsing it stays in the text and hides the JSON.
_CDATA_WRAPPER = re.compile(r"^\s*(?://\s*)?<!\[CDATA\[|(?://\s*)?\]\]>\s*$")


# The JSON-LD objects of each parsed page, parsed once: the classifier, the extractor and the
# byline reader each ask for them (~0.75 ms a page each time). See _meta_maps.
_jsonld: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def jsonld_objects(tree) -> list[dict[str, Any]]:
    """Every JSON-LD object on the page, with @graph and lists flattened.

    Broken JSON-LD is common (trailing commas, raw newlines); such blocks are
    skipped, not fatal. A new list each call; the objects are shared: read them, do not edit them.
    """
    try:
        return list(_jsonld[tree])
    except KeyError:
        pass
    found = _jsonld[tree] = _parsed_jsonld(tree)
    return list(found)


def _parsed_jsonld(tree) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        raw = _CDATA_WRAPPER.sub("", script.text or "").strip()
        if not raw:
            continue
        try:
            data = json.loads(raw, strict=False)
        except ValueError:
            logger.debug("Skipping unparsable JSON-LD block")
            continue
        found.extend(_flatten(data))
    return found


def _flatten(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for entry in data:
            yield from _flatten(entry)
    elif isinstance(data, dict):
        yield data
        if "@graph" in data:
            yield from _flatten(data["@graph"])


def jsonld_types(obj: dict[str, Any]) -> set[str]:
    types = obj.get("@type", [])
    if isinstance(types, str):
        types = [types]
    return {t.lower() for t in types if isinstance(t, str)}


def article_jsonld(tree) -> dict[str, Any] | None:
    for obj in jsonld_objects(tree):
        if jsonld_types(obj) & ARTICLE_TYPES:
            return obj
    return None


_META_ATTRS = ("property", "name", "itemprop")
# One {(attribute, name): content} map per parsed page, built on first use: the extractor
# and the classifier ask for some 20 names, and an XPath search per name and attribute
# cost about 2 ms a page. Pages are never edited after parsing (trafilatura works on a copy).
_meta_maps: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _meta_map(tree) -> dict[tuple[str, str], str]:
    try:
        return _meta_maps[tree]
    except KeyError:
        pass
    found: dict[tuple[str, str], str] = {}
    for el in tree.iter("meta"):
        content = (el.get("content") or "").strip()
        if not content:
            continue
        for attr in _META_ATTRS:
            key = el.get(attr)
            if key is not None:
                found.setdefault((attr, key), content)  # the first in document order wins
    _meta_maps[tree] = found
    return found


def meta_content(tree, *names: str) -> str | None:
    """The first non-empty <meta> content for any of ``names`` (property, name or itemprop)."""
    found = _meta_map(tree)
    for name in names:
        for attr in _META_ATTRS:
            value = found.get((attr, name))
            if value:
                return value
    return None


def link_href(tree, rel: str) -> str | None:
    for el in tree.xpath("//link[@rel and @href]"):
        if rel in el.get("rel", "").lower().split():
            href = el.get("href", "").strip()
            if href:
                return href
    return None


def html_language(tree) -> str | None:
    """Primary language subtag declared by the page (``en`` for ``en-GB``)."""
    candidates = [
        tree.get("lang"),
        tree.get("{http://www.w3.org/XML/1998/namespace}lang"),
        meta_content(tree, "og:locale"),
        _http_equiv(tree, "content-language"),
        meta_content(tree, "language", "dc.language", "DC.language"),
    ]
    for value in candidates:
        if value:
            primary = value.strip().replace("_", "-").split("-")[0].split(",")[0].strip().lower()
            if primary.isalpha() and 2 <= len(primary) <= 3:
                return primary
    return None


def _http_equiv(tree, name: str) -> str | None:
    for el in tree.xpath("//meta[@http-equiv and @content]"):
        if el.get("http-equiv", "").lower() == name:
            return el.get("content")
    return None
