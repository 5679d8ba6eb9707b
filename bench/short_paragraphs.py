"""CPU per page against page size: a page of many short paragraphs (a hostile page's shape).

For each size, times the whole extraction (`crawler.page.extract.extract_article`) and, as the
baseline measured in the same run, one plain trafilatura pass over the same tree
(`trafilatura.bare_extraction`, fast mode, what our extraction runs once or twice). Prints
seconds and the growth exponent between consecutive sizes (1.0 = linear).

    python bench/short_paragraphs.py [--sizes 4000,16000,64000]
"""
from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

import trafilatura

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from crawler.page.extract import extract_article  # noqa: E402
from crawler.page.htmlmeta import parse_html  # noqa: E402

WORDS = ("harbour council budget railway court ruling village mayor hospital school drought harvest "
         "inflation market pipeline bridge river museum report survey agency reform pension tax").split()


def page(paragraphs: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    body = "\n".join(f"<p>{' '.join(rng.choice(WORDS) for _ in range(8)).capitalize()}.</p>"
                     for _ in range(paragraphs))
    return (f"<html><head><title>Many short paragraphs</title></head><body><article>"
            f"<h1>Many short paragraphs</h1>{body}</article></body></html>")


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4000,16000,64000", help="paragraph counts, comma-separated")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'paragraphs':>10}  {'MB':>5}  {'extract_article s':>17}  {'exp':>5}  {'trafilatura pass s':>18}  {'exp':>5}  ratio")
    previous = None
    for n in sizes:
        html = page(n)
        ours = timed(lambda: extract_article(html, "http://example.com/news/a/"))
        tree = parse_html(html)
        theirs = timed(lambda: trafilatura.bare_extraction(tree, url="http://example.com/news/a/",
                                                           include_comments=False, fast=True))
        if previous:
            pn, po, pt = previous
            exp_ours = f"{math.log(ours / po) / math.log(n / pn):5.2f}"
            exp_theirs = f"{math.log(theirs / pt) / math.log(n / pn):5.2f}"
        else:
            exp_ours = exp_theirs = "    -"
        print(f"{n:>10}  {len(html) / 1e6:>5.1f}  {ours:>17.2f}  {exp_ours}  {theirs:>18.2f}  {exp_theirs}  "
              f"{ours / theirs:5.2f}", flush=True)
        previous = (n, ours, theirs)


if __name__ == "__main__":
    main()
