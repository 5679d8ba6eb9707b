"""Metadata quality: titles, authors and publication dates, against trafilatura and newspaper4k.

Two sets of pages, in one run:

1. ../shared/benchmarks/readability-pages (89 real pages; ground-truth.json has each page's
   title, byline and publishedTime as Mozilla Readability reads them);
2. the bundled sample sites (seeds/sites: every article's title, authors and publication
   time in its site.toml).

Scores, for newscrawl (`extract_article`), trafilatura (`bare_extraction`, metadata on) and
newspaper4k (`Article.parse` on the same HTML):

- title exact: equal after case and whitespace folding, over pages with a gold title; and
  "exact or affix": also counted when the gold is the predicted title with a site or section
  affix the extractor stripped (readability-pages' gold keeps og:title as declared, so
  "How to Build a Terrarium | eHow" is its title for "How to Build a Terrarium");
- authors F1: per page, set F1 between the predicted and the gold names (case, accents
  kept, punctuation and spacing folded), averaged over pages whose gold byline names
  someone. newscrawl's byline is its people, or its organisations when it names no person.
  A gold byline is split the way a reader would: "By" prefixes, dates and lines without a
  name dropped, names separated by commas, "and" and "&", a bracket kept as more names
  only when it says so ("(avec X et Y)"), else part of the name before it (a login, a home
  page, unused middle names: "Bruno (Henrique Zecchin) Rodrigues" is one person). Pages whose gold byline
  names nobody are left out; a name predicted on a page without a gold byline is counted
  as spurious;
- date: same calendar day (in the gold's zone) and within a minute, over pages with a gold
  publication time; a date predicted where the gold has none is counted as spurious.

Every figure is given on all pages and on the even and odd halves (pages in name order).

newspaper4k is a benchmark-only dependency: install it into the bench's environment with
``pip install -e '.[bench]'`` (it is not a runtime dependency). Without it, its column is
skipped.

    python bench/metadata_quality.py [--show-misses]
"""
from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import re
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
READABILITY = REPO.parent / "shared" / "benchmarks" / "readability-pages"


@dataclass
class Gold:
    page: str
    html: bytes
    url: str
    title: str | None
    authors: list[str]  # empty: the gold names nobody
    published: dt.datetime | None


@dataclass
class Prediction:
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published: dt.datetime | None = None


# --- gold -------------------------------------------------------------------

_BY = re.compile(r"^(?:written by|edited by|by|par|por|von)\b[:\s]*", re.IGNORECASE)
_GOLD_SPLIT = re.compile(r"\s*(?:\n|,|;|&|\band\b|\bavec\b|\bet\b|\bund\b)\s*", re.IGNORECASE)


_GOLD_BRACKET = re.compile(r"\(([^)]*)\)")
_GOLD_CO_AUTHORS = re.compile(r"^\s*(?:with|and|avec|et|mit|und|con|y|com|e)\s+", re.IGNORECASE)


def gold_names(byline: str | None) -> list[str]:
    if not byline:
        return []
    # A bracket naming co-authors ("Martin Untersinger (avec Damien Leloup et Morgane Tual)")
    # adds names; any other bracket belongs to the name before it: a login ("(stevenhgm)"),
    # a home page, the middle names a person does not go by ("Bruno (Henrique Zecchin) Rodrigues").
    byline = _GOLD_BRACKET.sub(
        lambda m: f", {_GOLD_CO_AUTHORS.sub('', m.group(1))}," if _GOLD_CO_AUTHORS.match(m.group(1)) else " ", byline)
    names = []
    for part in _GOLD_SPLIT.split(byline):
        part = _BY.sub("", part.strip()).strip(" .:-")
        if not part or any(ch.isdigit() for ch in part) or "http" in part or len(part.split()) > 5:
            continue
        names.append(part)
    return names


def declared_url(html: bytes) -> str | None:
    """The page's own address (rel=canonical, else og:url): a crawler always knows the URL it
    fetched, and the host name is one of the ways a title's site affix is recognised. The
    corpus has no URLs; pages that declare none get a placeholder on an .invalid host."""
    from crawler.page.htmlmeta import link_href, meta_content, parse_html

    tree = parse_html(html)
    for url in (link_href(tree, "canonical"), meta_content(tree, "og:url")):
        if url and url.strip().startswith(("http://", "https://")):
            return url.strip()
    return None


def readability_pages() -> list[Gold]:
    from crawler.page.dates import parse_datetime

    truth = json.loads((READABILITY / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for name in sorted(truth):
        entry = truth[name]
        html = gzip.decompress((READABILITY / "html" / f"{name}.html.gz").read_bytes())
        published = parse_datetime((entry.get("publishedTime") or "").replace(" ", "T")) if entry.get("publishedTime") else None
        pages.append(Gold(name, html, declared_url(html) or f"https://readability-pages.invalid/{name}", entry.get("title"),
                          gold_names(entry.get("byline")), published))
    return pages


def sample_site_pages() -> list[Gold]:
    from tests.helpers import all_articles, render

    pages = []
    for site, article in all_articles():
        html, url = render(site, article["path"])
        pages.append(Gold(f"{site.slug}{article['path']}", html.encode("utf-8"), url, article.get("title"),
                          list(article.get("authors") or article.get("author_organisations", [])), dt.datetime.fromisoformat(article["published"])))
    return pages


# --- extractors -----------------------------------------------------------------

def run_newscrawl(page: Gold) -> Prediction:
    from crawler.page.extract import ExtractionError, ExtractionOptions, extract_article

    try:
        article = extract_article(page.html, page.url, ExtractionOptions(min_text_chars=1))
    except ExtractionError:
        return Prediction()
    byline = article.authors or list(getattr(article, "author_organisations", []) or [])
    return Prediction(article.title, byline, article.published_at)


def run_trafilatura(page: Gold) -> Prediction:
    import trafilatura

    from crawler.page.dates import parse_datetime

    doc = trafilatura.bare_extraction(page.html, url=page.url, with_metadata=True, include_comments=False)
    if doc is None:
        return Prediction()
    authors = [a.strip() for a in (doc.author or "").split(";") if a.strip()]
    return Prediction(doc.title, authors, parse_datetime(doc.date))


def run_newspaper(page: Gold) -> Prediction:
    import newspaper

    # No image downloads (it would fetch the page's images to pick a top image): no network in a bench.
    article = newspaper.Article(page.url, fetch_images=False)
    article.download(input_html=page.html.decode("utf-8", errors="replace"))
    try:
        article.parse()
    except Exception:  # newspaper4k raises on some pages; that page scores nothing
        return Prediction()
    published = article.publish_date
    if isinstance(published, dt.datetime) and published.tzinfo is None:
        published = published.replace(tzinfo=dt.timezone.utc)
    return Prediction(article.title or None, list(article.authors or []), published)


# --- scoring --------------------------------------------------------------------

def fold(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def name_key(name: str) -> str:
    return " ".join(re.findall(r"\w+", name.casefold()))


_AFFIX_SEPARATOR = re.compile(r"^\s*(?:[|\-–—:»·•/_]|::)\s*|\s*(?:[|\-–—:»·•/_]|::)\s*$")


def title_with_affix(predicted: str | None, gold: str) -> bool:
    """Whether ``gold`` is ``predicted`` with a separator-delimited affix before or after it."""
    pred, ref = fold(predicted), fold(gold)
    if not pred or pred not in ref or pred == ref:
        return pred == ref and bool(pred)
    before, _, after = ref.partition(pred)
    rest = [part for part in (before, after) if part.strip()]
    return all(_AFFIX_SEPARATOR.search(part) or part.strip().startswith("[") for part in rest) and \
        sum(len(part) for part in rest) < len(pred)


def authors_f1(predicted: list[str], gold: list[str]) -> float:
    pred = {name_key(n) for n in predicted} - {""}
    ref = {name_key(n) for n in gold} - {""}
    tp = len(pred & ref)
    if not tp:
        return 0.0
    precision, recall = tp / len(pred), tp / len(ref)
    return 2 * precision * recall / (precision + recall)


def same_day(predicted: dt.datetime | None, gold: dt.datetime) -> bool:
    return predicted is not None and predicted.astimezone(gold.tzinfo).date() == gold.date()


def within_a_minute(predicted: dt.datetime | None, gold: dt.datetime) -> bool:
    return predicted is not None and abs((predicted - gold).total_seconds()) <= 60


@dataclass
class Scores:
    titles: list[bool] = field(default_factory=list)
    titles_affix: list[bool] = field(default_factory=list)
    authors: list[float] = field(default_factory=list)
    spurious_authors: int = 0
    days: list[bool] = field(default_factory=list)
    minutes: list[bool] = field(default_factory=list)
    spurious_dates: int = 0
    seconds: float = 0.0
    misses: list[str] = field(default_factory=list)

    def add(self, page: Gold, pred: Prediction) -> None:
        if page.title:
            exact = fold(pred.title) == fold(page.title)
            self.titles.append(exact)
            self.titles_affix.append(title_with_affix(pred.title, page.title))
            if not exact:
                self.misses.append(f"title {page.page}: {pred.title!r} != {page.title!r}")
        if page.authors:
            f1 = authors_f1(pred.authors, page.authors)
            self.authors.append(f1)
            if f1 < 1:
                self.misses.append(f"authors {page.page}: {pred.authors!r} != {page.authors!r}")
        elif pred.authors:
            self.spurious_authors += 1
        if page.published:
            self.days.append(same_day(pred.published, page.published))
            self.minutes.append(within_a_minute(pred.published, page.published))
            if not self.days[-1]:
                self.misses.append(f"date {page.page}: {pred.published} != {page.published}")
        elif pred.published:
            self.spurious_dates += 1


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


HALVES = (("all", lambda i: True), ("even", lambda i: i % 2 == 0), ("odd", lambda i: i % 2 == 1))


def evaluate(label: str, pages: list[Gold], extractors: dict, show_misses: bool) -> None:
    """Scores on all pages and on the even and odd halves (pages in name order): a rule
    that helps one half and hurts the other fits pages, not the problem."""
    print(f"{label}: {len(pages)} pages; gold titles {sum(bool(p.title) for p in pages)}, "
          f"bylines naming someone {sum(bool(p.authors) for p in pages)}, dates {sum(bool(p.published) for p in pages)}")
    print(f"  {'extractor':<14} {'half':<4} {'title exact':>11} {'or affix':>8} {'authors F1':>10} {'spurious':>8} "
          f"{'same day':>8} {'< 1 min':>7} {'spurious':>8} {'CPU ms/page':>11}")
    for name, run in extractors.items():
        started = time.process_time()
        predictions = [run(page) for page in pages]
        seconds = time.process_time() - started
        for half, wanted in HALVES:
            scores = Scores()
            for index, (page, pred) in enumerate(zip(pages, predictions)):
                if wanted(index):
                    scores.add(page, pred)
            cpu = f"{1000 * seconds / len(pages):11.1f}" if half == "all" else ""
            print(f"  {name:<14} {half:<4} {mean(scores.titles):11.3f} {mean(scores.titles_affix):8.3f} "
                  f"{mean(scores.authors):10.3f} {scores.spurious_authors:8d} {mean(scores.days):8.3f} "
                  f"{mean(scores.minutes):7.3f} {scores.spurious_dates:8d} {cpu}")
            if show_misses and half == "all":
                for miss in scores.misses:
                    print(f"      {miss}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--show-misses", action="store_true", help="list every page where a field is wrong")
    parser.add_argument("--only", choices=["newscrawl", "trafilatura", "newspaper4k"], action="append",
                        help="score only these extractors (repeatable)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    extractors = {"newscrawl": run_newscrawl, "trafilatura": run_trafilatura}
    try:
        import newspaper  # noqa: F401
    except ImportError:
        print("newspaper4k is not installed (pip install -e '.[bench]'): its column is skipped")
    else:
        extractors["newspaper4k"] = run_newspaper
    if args.only:
        extractors = {k: v for k, v in extractors.items() if k in args.only}
    evaluate("readability-pages", readability_pages(), extractors, args.show_misses)
    evaluate("sample sites", sample_site_pages(), extractors, args.show_misses)


if __name__ == "__main__":
    main()
