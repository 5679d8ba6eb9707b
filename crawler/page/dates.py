"""Publication times: ISO 8601 parsing, what a page declares, and htmldate's reading.

Kept apart from extraction (and from trafilatura) because feeds, sitemaps, WARC
headers and settings parse dates too, in processes that never extract a page.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import logging
import re

from htmldate import find_date

from crawler.page.htmlmeta import ld_text, meta_content

logger = logging.getLogger(__name__)


def declared_published(tree, ld: dict) -> dt.datetime | None:
    candidates = [
        ld_text(ld.get("datePublished")),
        meta_content(tree, "article:published_time", "og:article:published_time", "datePublished",
                     "pubdate", "publishdate", "date", "dc.date", "DC.date.issued", "sailthru.date"),
    ]
    candidates += tree.xpath("//article//time/@datetime | //time[@itemprop='datePublished']/@datetime | //time[contains(@class,'publish')]/@datetime")
    for value in candidates:
        parsed = parse_datetime(value)
        if parsed is not None:
            return parsed
    return None


def htmldate_published(tree, url: str | None = None) -> dt.datetime | None:
    """htmldate's reading of a page that declares no date. ``url``: the page's address, whose
    date ("/2019/11/19/") htmldate takes before the markup's: a template's other dates (an
    image path, a related story) are not the article's."""
    try:
        found = find_date(
            tree,
            url=url,
            outputformat="%Y-%m-%dT%H:%M:%S%z",
            original_date=True,
            # Only dates the page states as such (markup, URL, <time>); a date
            # mentioned in the prose is not the publication date. Missing stays missing.
            extensive_search=False,
        )
    except Exception:  # htmldate raises on some malformed markup; a missing date is not an error
        logger.debug("htmldate failed", exc_info=True)
        return None
    return parse_datetime(found)


def parse_datetime(value: str | None) -> dt.datetime | None:
    """ISO 8601 (or RFC 2822, JavaScript's or the US written form: see _written_datetime) to an
    aware datetime; a value without a zone is taken as UTC, a date alone as midnight UTC."""
    if not value or not isinstance(value, str):
        return None
    value = written = value.strip()
    if value.endswith("Z") or value.endswith("z"):
        value = value[:-1] + "+00:00"
    value = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", value)
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        parsed = _written_datetime(written)
        if parsed is None:
            try:
                parsed = dt.datetime.combine(dt.date.fromisoformat(value[:10]), dt.time())
            except ValueError:
                return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    if not 1990 <= parsed.year <= dt.datetime.now().year + 1:
        return None
    return parsed


# JavaScript's Date.toString(), as pages that build their JSON-LD in a script declare it:
# "Tue Nov 19 2019 03:05:46 GMT+0000 (Coordinated Universal Time)".
_JS_DATE = re.compile(r"^[A-Za-z]{3},? ([A-Za-z]{3}) (\d{1,2}),? (\d{4}),? (\d{1,2}:\d{2}(?::\d{2})?) GMT([+-]\d{4})\b")
# RFC 2822, as feeds and HTTP headers write it: "Tue, 19 Nov 2019 03:05:46 +0000", "19 Nov 2019 07:09 GMT".
_RFC_2822 = re.compile(r"^(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d{1,2}:\d{2}(?::\d{2})?"
                       r"(?:\s*(?:[+-]\d{4}|[A-Za-z]{1,5}))?$")
# The US form: "November 19, 2019, 07:47 PM EST", "Nov. 19, 2019 at 7:47 p.m."
_US_DATE = re.compile(r"^([A-Za-z]{3})[A-Za-z]*\.? (\d{1,2}),? (\d{4}),?(?: at)? (\d{1,2}):(\d{2})(?::(\d{2}))?"
                      r" ?([AaPp])?\.?[Mm]?\.?(?: ([A-Z]{1,5}|[+-]\d{4}))?$")


def _written_datetime(value: str) -> dt.datetime | None:
    """A date and time in one of the non-ISO forms pages declare: RFC 2822, JavaScript's
    Date.toString(), the US "Month D, YYYY, H:MM PM ZONE" (zones as RFC 2822 names them)."""
    match = _JS_DATE.match(value)
    if match:
        month, day, year, clock, zone = match.groups()
        clock = clock if clock.count(":") == 2 else clock + ":00"
        try:
            return dt.datetime.strptime(f"{day} {month} {year} {clock} {zone}", "%d %b %Y %H:%M:%S %z")
        except ValueError:
            return None
    match = _US_DATE.match(value)
    if match:
        month, day, year, hour, minute, second, half, zone = match.groups()
        hour = int(hour)
        if half and not 1 <= hour <= 12:
            return None
        if half:
            hour = hour % 12 + (12 if half.lower() == "p" else 0)
        value = f"{day} {month} {year} {hour:02d}:{minute}:{second or '00'} {zone or '+0000'}"
    elif not _RFC_2822.match(value):
        return None
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
