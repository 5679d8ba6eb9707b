"""Decoding a fetched page's bytes to text: which charset, and why.

A BOM, then a believable declaration (HTTP header, <meta>), then the charset
detected from the bytes. w3lib reads the declarations and the BOM,
charset_normalizer detects, and webencodings holds the WHATWG label table that
says which codec a browser would use for a label.
"""
from __future__ import annotations

import codecs
import logging

import charset_normalizer
import webencodings
from charset_normalizer.md import mess_ratio
from w3lib.encoding import (
    html_body_declared_encoding,
    html_to_unicode,
    http_content_type_encoding,
    read_bom,
)

logger = logging.getLogger(__name__)

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
