"""Article detection: is every real article page stored, and no listing page?

Runs the crawl's own page reader (crawler.page.read.read_page, the function the
extraction workers run on every fetched HTML page) over:

- **article pages**: every page of both extraction corpora in ../shared/benchmarks
  (real news pages), each served at a neutral URL that gives no hint
  (``/news/2019/0/story-N.html``) and at its original path (its URL in the
  ground truth, else the page's own rel=canonical / og:url);
- **non-article pages**: the sample sites' listings (seeds/sites), and listing
  pages generated from each real page's own template: the article body is
  replaced by a section front, a tag page, a paginated archive, search results,
  an author page or a 404 page served with status 200, built from real
  headlines (the corpora's own link texts) and real teaser sentences (the
  corpora's first sentences). Half of them keep the page's
  og:type=article, as CMSs that declare every page an article do (the
  article's own JSON-LD, article:* and publication-date meta are removed). Each is read at a neutral URL and at a realistic listing path.

Two pages of readability-pages are not articles, whatever the corpus calls
them (it is the test suite of an extractor, not a set of articles): they are
read as non-article pages (``<corpus>/not-articles``), and recall is also
printed with them counted as articles, for comparison with earlier runs.

Prints, per corpus: article recall at neutral URLs and at original paths, and
the share of non-article pages rejected (with every miss and its reason), each
also per half (even and odd page numbers; for listings, even and odd rounds of
the listing kinds): a rule must hold on both.

    python bench/article_detection.py [--processes N] [--show-misses]
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from lxml import html as lxml_html

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
BENCHMARKS = REPO.parent / "shared" / "benchmarks"
CORPORA = ("article-extraction", "readability-pages")
HOST = "http://news.bench.test"
TIMED_EVERY = 5

from crawler.page.classify import PUBLISHED_META, body_shape, classify_page, page_signals  # noqa: E402
from crawler.page.columns import heading_column  # noqa: E402
from crawler.page.extract import ExtractionError, ExtractionOptions, extract_article  # noqa: E402
from crawler.page.encoding import decode_html  # noqa: E402
from crawler.page.htmlmeta import parse_html  # noqa: E402
from crawler.page.read import read_page  # noqa: E402
from crawler.ops.sampleserver import SAMPLE_SITES_DIR, load_sample_sites  # noqa: E402

_WORD = re.compile(r"\w+")
LISTING_KINDS = ("section", "tag", "archive", "search", "author", "not_found")
# Corpus pages that are not articles, checked by reading each page and its ground truth.
NOT_ARTICLES = {
    ("readability-pages", "nytimes-5"): "the front page of the Spanish edition (its URL is /es/); the expected "
                                         "body is a column of headlines and teasers",
    ("readability-pages", "mathjax"): "a MathJax rendering test page ('MathJax v3 beta: MathML input, HTML "
                                       "output test'): formulas and one paragraph",
}


def load_corpus(name: str) -> list[tuple[str, bytes, str | None, str]]:
    """(page id, html bytes, original URL or None, gold body) of every page, articles or not
    (NOT_ARTICLES)."""
    root = BENCHMARKS / name
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id, entry in sorted(truth.items()):
        body = gzip.decompress((root / "html" / f"{page_id}.html.gz").read_bytes())
        pages.append((page_id, body, entry.get("url") or _declared_url(body), entry.get("articleBody") or ""))
    return pages


def _declared_url(body: bytes) -> str | None:
    tree = lxml_html.fromstring(body)
    for value in tree.xpath('//link[@rel="canonical"]/@href | //meta[@property="og:url"]/@content'):
        if value.strip().startswith("http"):
            return value.strip()
    return None


def original_path(url: str | None) -> str | None:
    """The path (and query) of the page's own URL; None when the page names no usable
    URL, or names its site's root (a page whose canonical is the home page)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.path in ("", "/") and not parts.query:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


# --- generated listings -------------------------------------------------------

def _key(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def material(pages) -> tuple[list[str], list[str]]:
    """Real headlines (link texts of 5-14 words from every page) and real teaser
    sentences (the first sentence of every gold body)."""
    headlines, teasers = set(), []
    for _, body, _, gold in pages:
        tree = lxml_html.fromstring(body)
        for a in tree.iter("a"):
            text = " ".join(a.text_content().split())
            if 5 <= len(text.split()) <= 14:
                headlines.add(text)
        first = re.split(r"(?<=[.!?。！？])\s*", " ".join(gold.split()), maxsplit=1)[0]
        if 8 <= len(first.split()) <= 45 and len(first) <= 300 or 40 <= len(first) <= 120:
            teasers.append(first)
    return sorted(headlines), teasers


def _body_containers(tree, gold: str) -> list:
    """Every element holding both the first and the last words of the gold body and no
    deeper such element: the body, and each further copy of it the page carries (a
    print or AMP copy, a hidden duplicate, a JSON island in a wrapper). A listing made
    from the template must lose all of them, or it is an article page in disguise."""
    words = _WORD.findall(gold.lower())
    if len(words) < 12:
        return []
    head, tail = " ".join(words[:6]), " ".join(words[-6:])
    holding = []
    for el in tree.iter():
        if not isinstance(el.tag, str) or el.tag in ("html", "body", "head", "script", "style", "noscript", "template"):
            continue
        key = _key(el.text_content())
        if head in key and tail in key:
            holding.append(el)
    enclosing = {ancestor for el in holding for ancestor in el.iterancestors()}
    return [el for el in holding if el not in enclosing]


def listing_html(kind: str, rng: random.Random, headlines: list[str], teasers: list[str]) -> tuple[str, str]:
    """(title, HTML fragment) of one listing page of ``kind``."""
    def link(text: str) -> str:
        slug = "-".join(_WORD.findall(text.lower()))[:60]
        return f'<a href="/news/2019/11/{rng.randrange(10, 28)}/{slug}">{text}</a>'

    def date() -> str:
        return f"<time>Nov {rng.randrange(1, 29)}, 2019</time>"

    pick = rng.sample
    if kind == "section":
        topic = rng.choice(["World", "Politics", "Business", "Technology", "Sport", "Culture"])
        cards = "".join(f"<article class='card'><h3>{link(h)}</h3><p>{t}</p>{date()}</article>"
                        for h, t in zip(pick(headlines, 12), pick(teasers, 12)))
        return topic, f"<h1>{topic}</h1>{cards}"
    if kind == "tag":
        tag = rng.choice(["Brexit", "Climate change", "Elections", "Trade", "Apple", "Football"])
        items = "".join(f"<li>{link(h)}</li>" for h in pick(headlines, 15))
        return f"Tag: {tag}", f"<h1>Stories tagged {tag}</h1><ul>{items}</ul>"
    if kind == "archive":
        items = "".join(f"<div class='row'>{date()} {link(h)} <span>by Staff</span></div>" for h in pick(headlines, 20))
        pages = " ".join(f'<a href="/archive/page/{n}/">{n}</a>' for n in range(1, 8))
        return "Archive - Page 2", f"<h1>Archive</h1><h2>Page 2 of 48</h2>{items}<nav>{pages}</nav>"
    if kind == "search":
        query = rng.choice(["tariffs", "election", "court ruling", "climate"])
        results = "".join(f"<div class='result'><h3>{link(h)}</h3><p>{t}</p></div>"
                          for h, t in zip(pick(headlines, 10), pick(teasers, 10)))
        return f"Search results for {query}", (
            f"<h1>Search results for &quot;{query}&quot;</h1><p>About 1,240 results</p>{results}")
    if kind == "author":
        bio = " ".join(pick(teasers, 2))
        items = "".join(f"<li>{link(h)} {date()}</li>" for h in pick(headlines, 12))
        return "Jane Morrow", f"<h1>Jane Morrow</h1><p class='bio'>{bio}</p><h2>Latest from Jane Morrow</h2><ul>{items}</ul>"
    items = "".join(f"<li>{link(h)}</li>" for h in pick(headlines, 5))
    title = rng.choice(["Page not found", "Oops!"])
    return title, (
        "<h1>Sorry, we can't find that page</h1><p>The page you were looking for may have been moved, "
        "deleted or may never have existed. Check the address or try our search.</p>"
        f"<h2>You might like</h2><ul>{items}</ul>")


_LISTING_PATHS = {
    "section": "/world/", "tag": "/tag/elections/", "archive": "/archive/page/2/",
    "search": "/search?q=tariffs", "author": "/author/jane-morrow/", "not_found": "/2019/11/some-removed-story/",
}


def make_listing(body: bytes, gold: str, kind: str, keep_declarations: bool, rng, headlines, teasers) -> bytes | None:
    tree = lxml_html.fromstring(body)
    containers = _body_containers(tree, gold)
    if not containers:
        return None
    title, fragment = listing_html(kind, rng, headlines, teasers)
    for copy in containers:
        for child in list(copy):
            copy.remove(child)
        copy.text = None
    container = containers[0]
    for el in lxml_html.fragments_fromstring(fragment):
        container.append(el)
    # Text the page kept around the body (headline, byline, date) belongs to the article.
    for el in tree.xpath("//h1"):
        if el not in container.iter():
            el.getparent().remove(el)
    for el in tree.xpath("//title"):
        el.text = f"{title} | News"
    # The page's JSON-LD and article:* meta describe the article that was here (its body,
    # headline, publication time): a listing has none of its own. og:type=article stays on
    # half of them, as CMSs whose templates declare every page an article do.
    dated = {name.lower() for name in PUBLISHED_META}
    for el in tree.xpath('//script[@type="application/ld+json"] | //meta[starts-with(@property, "article:")]'):
        el.getparent().remove(el)
    for el in tree.iter("meta"):
        if (el.get("property") or el.get("name") or el.get("itemprop") or "").lower() in dated:
            el.getparent().remove(el)
    if not keep_declarations:
        for el in tree.xpath('//meta[@property="og:type"]'):
            el.set("content", "website")
    return lxml_html.tostring(tree, encoding="utf-8")


# --- running -----------------------------------------------------------------

def _judge(job):
    label, expected, body, url, half, timed = job
    try:
        started = time.process_time()
        reading = read_page(body, url, "text/html", ExtractionOptions())
        read_seconds = time.process_time() - started
        return label, expected, url, half, reading.verdict.is_article, reading.verdict.reason, \
            (read_seconds, _classification_seconds(body, url)) if timed else None
    except Exception as exc:  # a crash is a miss, and shown as one
        return label, expected, url, half, not expected, f"crash:{type(exc).__name__}", None


def _classification_seconds(body: bytes, url: str) -> float:
    """CPU time of the decision's own part of read_page (page_signals, body_shape,
    heading_column, classify_page) on this page, with the extraction it reads done beforehand."""
    html, _ = decode_html(body, "text/html")
    tree = parse_html(html)
    try:
        article = extract_article(html, url, ExtractionOptions())
    except ExtractionError:
        article = None
    started = time.process_time()
    signals = page_signals(tree, url)
    found = article.blocks + [r.text for r in article.removed] if article else []
    shape = body_shape(tree, found) if article else None
    classify_page(signals, shape, heading_column(tree, found) if shape else None)
    return time.process_time() - started


def jobs_for(name: str, pages, rng, headlines, teasers):
    jobs, skipped = [], Counter()
    for number, (page_id, body, url, gold) in enumerate(pages):
        article = (name, page_id) not in NOT_ARTICLES
        kind = "articles" if article else "not-articles"
        jobs.append((f"{name}/{kind}/neutral", article, body, f"{HOST}/news/2019/0/story-{number}.html", number % 2))
        path = original_path(url)
        if path:
            jobs.append((f"{name}/{kind}/original", article, body, HOST + path, number % 2))
        else:
            skipped["no original URL"] += 1
        if not article:
            continue
        kind = LISTING_KINDS[number % len(LISTING_KINDS)]
        listing = make_listing(body, gold, kind, number % 2 == 0, rng, headlines, teasers)
        if listing is None:
            skipped["body not located for a listing"] += 1
            continue
        # Listing kinds go round the pages: every kind has pages in both halves.
        half = number // len(LISTING_KINDS) % 2
        jobs.append((f"{name}/listings/neutral/{kind}", False, listing, f"{HOST}/news/2019/0/list-{number}.html",
                     half))
        jobs.append((f"{name}/listings/path/{kind}", False, listing, HOST + _LISTING_PATHS[kind], half))
    return jobs, skipped


def sample_site_jobs():
    jobs = []
    for site in load_sample_sites(SAMPLE_SITES_DIR):
        base = "http://127.0.0.1:8799"
        for page in site.manifest.get("nonarticle", []):
            path = site.root / "public" / page["path"].lstrip("/")
            if page["path"].endswith("/"):
                path = path / "index.html"
            if path.suffix in (".html", ".htm"):
                body = path.read_bytes().replace(b"{{BASE}}", base.encode())
                jobs.append(("sample-sites/listings", False, body, base + page["path"], len(jobs) % 2))
        for page in site.manifest.get("article", []):
            path = site.root / "public" / page["path"].lstrip("/")
            body = (path / "index.html" if page["path"].endswith("/") else path).read_bytes()
            jobs.append(("sample-sites/articles", True, body.replace(b"{{BASE}}", base.encode()), base + page["path"],
                         len(jobs) % 2))
    return jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=0, help="worker processes (default: one per core)")
    parser.add_argument("--show-misses", action="store_true", help="print every wrong decision")
    args = parser.parse_args()

    rng = random.Random(20191118)
    jobs = sample_site_jobs()
    for name in CORPORA:
        pages = load_corpus(name)
        headlines, teasers = material(pages)
        corpus_jobs, skipped = jobs_for(name, pages, rng, headlines, teasers)
        jobs += corpus_jobs
        for why, n in skipped.items():
            print(f"{name}: {n} pages {why}")
    # The decision's CPU cost is timed on every TIMED_EVERY-th page (it needs a second extraction).
    jobs = [job + (number % TIMED_EVERY == 0,) for number, job in enumerate(jobs)]
    with ProcessPoolExecutor(args.processes or None) as pool:
        results = list(pool.map(_judge, jobs, chunksize=4))

    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])  # right, of; even right, of; odd
    misses = defaultdict(list)
    for label, expected, url, half, is_article, reason, _ in results:
        for group in {label, label.rsplit("/", 1)[0] if "/listings/" in label else label}:
            counts = totals[group]
            counts[1] += 1
            counts[3 + 2 * half] += 1
            if is_article == expected:
                counts[0] += 1
                counts[2 + 2 * half] += 1
        if is_article != expected:
            misses[label].append((url, reason))
    print(f"\n{'set':<44} {'right':>6} {'of':>5}  share   even    odd")
    for label in sorted(totals):
        right, total, even_right, even, odd_right, odd = totals[label]
        what = "recall" if "/articles" in label else "rejected"
        halves = " ".join(f"{r / n:.4f}" if n else "   -  " for r, n in ((even_right, even), (odd_right, odd)))
        print(f"{label:<44} {right:>6} {total:>5}  {right / total:.4f} {halves} {what}")
        reasons = Counter(reason for _, reason in misses[label])
        if reasons:
            print(f"{'':<42}misses: " + ", ".join(f"{r}={n}" for r, n in reasons.most_common()))
        if args.show_misses:
            for url, reason in misses[label]:
                print(f"{'':<44}{reason:<18} {url}")
    stored = sum(1 for _, expected, _, _, is_article, *_ in results if not expected and is_article)
    articles = [r for r in results if r[1]]
    print(f"\nArticle recall, all corpora: {sum(r[4] for r in articles) / len(articles):.4f} "
          f"({len(articles)} pages); non-article pages judged articles: {stored}")
    as_before = articles + [r for r in results if "/not-articles/" in r[0]]
    print(f"Recall counting the {len(as_before) - len(articles)} readings of NOT_ARTICLES pages as articles: "
          f"{sum(r[4] for r in as_before) / len(as_before):.4f} ({len(as_before)} pages)")
    timings = [r[6] for r in results if r[6]]
    read_cpu, decide_cpu = sum(t[0] for t in timings), sum(t[1] for t in timings)
    print(f"CPU per page ({len(timings)} pages timed): read_page {1000 * read_cpu / len(timings):.1f} ms, of which "
          f"the decision (page_signals + body_shape + heading_column + classify_page) "
          f"{1000 * decide_cpu / len(timings):.1f} ms "
          f"({decide_cpu / read_cpu:.1%})")


if __name__ == "__main__":
    main()
