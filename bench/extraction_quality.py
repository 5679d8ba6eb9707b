"""Article-body quality: `newscrawl extract` against plain trafilatura, in one run.

1. The public benchmark (../shared/benchmarks/article-extraction, 181 real news pages).
   Metric from its README: lower-case \\w+ tokens, 4-gram shingles as multisets; per page
   tp = shared count, fp = extra predicted, fn = missed; precision is the mean over pages
   with a prediction, recall the mean over pages with gold; F1 comes from those two means.
2. The bundled sample sites (seeds/sites): body recall against each article's expected
   text, and leaks (the site's declared boilerplate strings found in the stored text). These
   are measured on a real crawl, so that site-level learning has seen the whole site.

    python bench/extraction_quality.py [--no-sites] [--set NAME=VALUE ...]

``--set`` passes crawl settings to both `newscrawl extract` and the crawl, e.g.
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
BENCH_DIR = REPO.parent / "shared" / "benchmarks" / "article-extraction"
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
    precision = sum(precisions) / len(precisions)
    recall = sum(recalls) / len(recalls)
    return precision, recall, 2 * precision * recall / (precision + recall)


def public_benchmark(settings: list[str]) -> None:
    truth = json.loads((BENCH_DIR / "ground-truth.json").read_text(encoding="utf-8"))
    ids = sorted(truth)
    files = [str(BENCH_DIR / "html" / f"{i}.html.gz") for i in ids]

    started = time.perf_counter()
    sets = [arg for pair in settings for arg in ("--set", pair)]
    out = subprocess.run([NEWSCRAWL, "extract", *sets, *files], capture_output=True, text=True, check=True).stdout
    ours_seconds = time.perf_counter() - started
    records = [json.loads(line) for line in out.splitlines()]
    ours = {i: r.get("text") or "" for i, r in zip(ids, records)}

    baselines = {}
    for label, kwargs in [("trafilatura", {}), ("trafilatura favor_precision", {"favor_precision": True})]:
        started = time.perf_counter()
        predictions = {}
        for i, f in zip(ids, files):
            html = gzip.decompress(Path(f).read_bytes())
            predictions[i] = trafilatura.extract(html, include_comments=False, **kwargs) or ""
        baselines[label] = (predictions, time.perf_counter() - started)

    halves = {"even": {i: truth[i] for i in ids[0::2]}, "odd": {i: truth[i] for i in ids[1::2]}}
    print(f"Public benchmark: {len(ids)} pages ({BENCH_DIR})")
    print(f"  {'extractor':<30} {'precision':>9} {'recall':>7} {'F1':>7}  {'F1 even':>7} {'F1 odd':>7}  {'time':>7}")
    rows = [(label, predictions, f"{seconds:6.1f}s") for label, (predictions, seconds) in baselines.items()]
    rows.append(("newscrawl extract", ours, f"{ours_seconds:6.1f}s (incl. process start)"))
    for label, predictions, seconds in rows:
        p, r, f = score(predictions, truth)
        f_even, f_odd = (score(predictions, half)[2] for half in halves.values())
        print(f"  {label:<30} {p:9.4f} {r:7.4f} {f:7.4f}  {f_even:7.4f} {f_odd:7.4f}  {seconds}")


def sample_sites(settings: list[str]) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from crawler.sampleserver import serve_sample_sites
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
    parser.add_argument("--no-sites", action="store_true", help="only the public benchmark")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                        help="a crawl setting for `newscrawl extract` and the crawl (repeatable)")
    args = parser.parse_args()
    public_benchmark(args.settings)
    if not args.no_sites:
        sample_sites(args.settings)


if __name__ == "__main__":
    main()
