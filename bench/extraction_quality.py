"""Article-body quality: newscrawl against plain trafilatura, on every corpus, in one run.

1. The two extraction corpora in ../shared/benchmarks:
   - article-extraction: 181 real news pages with human-written bodies;
   - readability-pages: 89 real pages (news, magazines, blogs, many languages) with
     Mozilla Readability's expected text as a second opinion on the body.
   Metric (from ../shared/README.md): lower-case \\w+ tokens, 4-gram shingles as multisets;
   per page tp = shared count, fp = extra predicted, fn = missed; precision is the mean over
   pages with a prediction, recall the mean over pages with gold; F1 from those two means.
   Every corpus is also scored on its even and odd halves (pages sorted by id), so that a
   rule that helps one half by luck shows up. In the same run, plain trafilatura
   (`trafilatura.extract`, comments off) in default, favor_precision and fast mode, and the
   CPU seconds per page of each (process time, in this process, same pages).
2. The bundled sample sites (seeds/sites): body recall against each article's expected
   text, and leaks (the site's declared boilerplate strings found in the stored text). These
   are measured on a real crawl, so that site-level learning has seen the whole site.

    python bench/extraction_quality.py [--no-sites] [--set NAME=VALUE ...]

``--set`` passes crawl settings to the extraction and the crawl, e.g.
``--set NEWSCRAWL_PRECISION_AGREEMENT=False`` to measure without the precision pass.
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path

import trafilatura

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
BENCHMARKS = REPO.parent / "shared" / "benchmarks"
CORPORA = ("article-extraction", "readability-pages")
BENCH_DIR = BENCHMARKS / "article-extraction"
NEWSCRAWL = str(Path(sys.executable).parent / "newscrawl")

_WORD = re.compile(r"\w+")


def shingles(text: str, n: int = 4) -> Counter:
    tokens = _WORD.findall((text or "").lower())
    return Counter(tuple(tokens[i : i + n]) for i in range(max(len(tokens) - n + 1, 0)))


def page_scores(predicted: str, gold: str) -> tuple[float | None, float | None]:
    pred, ref = shingles(predicted), shingles(gold)
    tp = sum((pred & ref).values())
    fp = sum(pred.values()) - tp
    fn = sum(ref.values()) - tp
    precision = tp / (tp + fp) if (tp + fp) else None
    recall = tp / (tp + fn) if (tp + fn) else None
    return precision, recall


def score(predictions: dict[str, str], truth: dict[str, dict]) -> tuple[float, float, float]:
    precisions, recalls = [], []
    for page_id, entry in truth.items():
        p, r = page_scores(predictions.get(page_id, ""), entry["articleBody"])
        if p is not None:
            precisions.append(p)
        if r is not None:
            recalls.append(r)
    precision = sum(precisions) / len(precisions) if precisions else 0.0
    recall = sum(recalls) / len(recalls) if recalls else 0.0
    return precision, recall, 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def load_corpus(name: str) -> tuple[dict[str, dict], dict[str, bytes]]:
    """(ground truth by page id, raw HTML bytes by page id) of one corpus in ../shared/benchmarks."""
    root = BENCHMARKS / name
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    pages = {i: gzip.decompress((root / "html" / f"{i}.html.gz").read_bytes()) for i in sorted(truth)}
    return truth, pages


def halves(truth: dict[str, dict]) -> dict[str, dict[str, dict]]:
    ids = sorted(truth)
    return {"even": {i: truth[i] for i in ids[0::2]}, "odd": {i: truth[i] for i in ids[1::2]}}


def page_url(corpus: str, page_id: str, entry: dict) -> str:
    return entry.get("url") or f"https://{corpus}.invalid/{page_id}"


def run_newscrawl(corpus: str, truth: dict, pages: dict, options) -> tuple[dict[str, str], float]:
    """newscrawl's extraction in this process: (text by page id, CPU seconds)."""
    from crawler.page.extract import ExtractionError, extract_article

    predictions = {}
    started = time.process_time()
    for i, html in pages.items():
        try:
            predictions[i] = extract_article(html, page_url(corpus, i, truth[i]), options).text
        except ExtractionError:
            predictions[i] = ""
    return predictions, time.process_time() - started


TRAFILATURA_MODES = {
    "trafilatura": {},
    "trafilatura favor_precision": {"favor_precision": True},
    "trafilatura fast": {"fast": True},
}


def run_trafilatura(corpus: str, truth: dict, pages: dict, kwargs: dict) -> tuple[dict[str, str], float]:
    predictions = {}
    started = time.process_time()
    for i, html in pages.items():
        predictions[i] = trafilatura.extract(html, url=page_url(corpus, i, truth[i]), include_comments=False, **kwargs) or ""
    return predictions, time.process_time() - started


def extraction_options_from(settings: list[str]):
    import dataclasses

    from crawler.config import CrawlConfig
    from crawler.ops.run import build_settings, parse_setting_overrides

    built = build_settings(overrides=parse_setting_overrides(settings))
    return dataclasses.replace(CrawlConfig.from_settings(built).extraction, min_text_chars=1)  # as `newscrawl extract`


def corpora_benchmark(settings: list[str]) -> None:
    options = extraction_options_from(settings)
    for corpus in CORPORA:
        truth, pages = load_corpus(corpus)
        rows = [(label, *run_trafilatura(corpus, truth, pages, kwargs)) for label, kwargs in TRAFILATURA_MODES.items()]
        rows.append(("newscrawl", *run_newscrawl(corpus, truth, pages, options)))
        parts = {"all": truth, **halves(truth)}
        print(f"{corpus}: {len(pages)} pages ({BENCHMARKS / corpus})")
        print(f"  {'extractor':<28} {'part':<5} {'pages':>5} {'precision':>9} {'recall':>7} {'F1':>7}  {'CPU ms/page':>11}")
        for label, predictions, seconds in rows:
            for part, part_truth in parts.items():
                p, r, f = score(predictions, part_truth)
                cpu = f"{1000 * seconds / len(pages):11.1f}" if part == "all" else ""
                print(f"  {label:<28} {part:<5} {len(part_truth):>5} {p:9.4f} {r:7.4f} {f:7.4f}  {cpu}")
        gains = ", ".join(f"{part} {score(rows[-1][1], t)[2] - score(rows[0][1], t)[2]:+.4f}" for part, t in parts.items())
        print(f"  newscrawl - trafilatura (default): F1 {gains}; CPU {1000 * rows[-1][2] / len(pages):.1f} "
              f"vs {1000 * rows[0][2] / len(pages):.1f} ms/page = x{rows[-1][2] / rows[0][2]:.2f}")


def sample_sites(settings: list[str]) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from crawler.ops.sampleserver import serve_sample_sites
    from models import Article
    from models.db import make_engine

    with tempfile.TemporaryDirectory() as tmp, serve_sample_sites() as sites:
        db = f"sqlite:///{Path(tmp) / 'quality.db'}"
        subprocess.run(
            [NEWSCRAWL, "crawl", "--db", db, "--allow-private", "--set", "AUTOTHROTTLE_ENABLED=False",
             "--set", "DOWNLOAD_DELAY=0", *[arg for pair in settings for arg in ("--set", pair)], *sites.start_urls],
            capture_output=True, text=True, check=True,
        )
        engine = make_engine(db)
        with Session(engine) as session:
            stored = {a.canonical_url: a for a in session.scalars(select(Article))}
            recalls, leaks, missing, wrong_titles, wrong_dates = [], [], 0, 0, 0
            plain_recalls, plain_leaks = [], 0
            for site in sites:
                boilerplate = site.manifest.get("boilerplate", [])
                for article in site.manifest.get("article", []):
                    row = stored.get(site.url(article["path"]))
                    if row is None:
                        missing += 1
                        continue
                    expected = (site.root / article["expected"]).read_text(encoding="utf-8")
                    recalls.append(page_scores(row.text, expected)[1] or 0.0)
                    plain = trafilatura.extract(zlib.decompress(row.raw_html), include_comments=False) or ""
                    plain_recalls.append(page_scores(plain, expected)[1] or 0.0)
                    plain_leaks += sum(b in plain for b in boilerplate)
                    leaks += [(site.slug, article["path"], b) for b in boilerplate if b in row.text]
                    wrong_titles += row.title != article["title"]
                    import datetime as dt

                    wrong_dates += row.published_at != dt.datetime.fromisoformat(article["published"])
        engine.dispose()
    print(f"Sample sites: {len(recalls)} articles stored, {missing} missing")
    print(f"  body recall (4-gram): newscrawl mean {sum(recalls) / len(recalls):.4f} (min {min(recalls):.4f}), "
          f"plain trafilatura {sum(plain_recalls) / len(plain_recalls):.4f}")
    print(f"  boilerplate leaks (declared boilerplate strings found): newscrawl {len(leaks)}, plain trafilatura {plain_leaks}")
    for slug, path, text in leaks[:10]:
        print(f"    {slug}{path}: {text!r}")
    print(f"  wrong titles: {wrong_titles}, wrong dates: {wrong_dates}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-sites", action="store_true", help="only the corpora, not the sample sites")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                        help="a crawl setting for `newscrawl extract` and the crawl (repeatable)")
    args = parser.parse_args()
    corpora_benchmark(args.settings)
    if not args.no_sites:
        sample_sites(args.settings)


if __name__ == "__main__":
    main()
