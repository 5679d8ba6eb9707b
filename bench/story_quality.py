"""Story grouping quality on real news, against a TF-IDF baseline, in one run.

Sets (bench/labelled_sets.py):

1. the real labelled set: the 181 article-extraction pages, the 89
   readability pages and the five seeds, stories labelled by hand by EVENT
   (bench/story_labels.json, with a rationale per multi-article story);
2. the seeds alone (001, 002, 003 one story; 000 and 004 others);
3. the synthetic set (real texts made into originals and copies at scale), with
   its hard negatives: same topic, same outlet, same week, different event.

For each it prints story pairwise and BCubed precision / recall / F1 of
``dedupe.grouping.cluster_records`` (publication order), and of a baseline:
TF-IDF cosine, single pass in publication order, each document joining the
most similar story whose centroid is above a threshold and whose latest
article is within 96 h (documents without a time only meet each other). The
baseline's threshold is swept and every value printed; its best F1 on the set
itself (an oracle choice, the hardest comparison) is what ours must reach.
scikit-learn is needed here only (``pip install -e '.[bench]'``).

It also lists, for the real set, every pair wrongly put in one story and
every labelled pair missed, with titles, to read.

    python bench/story_quality.py [--n 3000] [--seed 0] [--set NAME=VALUE ...] [--quiet]
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import time
import zlib
from collections import defaultdict
from itertools import combinations
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from dedupe import DedupeSettings  # noqa: E402
from dedupe.grouping import cluster_records  # noqa: E402

import labelled_sets  # noqa: E402
from dedupe_quality import _fmt, scores, setting_overrides  # noqa: E402

WINDOW_HOURS = 96.0
THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)


def tfidf_single_pass(records, threshold: float, window_hours: float = WINDOW_HOURS) -> list[str]:
    """Story ids by the TF-IDF single-pass baseline (see the module docstring)."""
    import numpy as np
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [f"{r.title or ''}\n{r.text}" for r in records]
    vectors = TfidfVectorizer(sublinear_tf=True, min_df=1).fit_transform(texts)  # rows L2-normalised
    times = [r.published_at.timestamp() if r.published_at else (r.fetched_at.timestamp() if r.fetched_at else None)
             for r in records]
    order = sorted(range(len(records)), key=lambda i: (math.inf if times[i] is None else times[i], i))
    window = window_hours * 3600
    centroids: list = []  # summed member vectors
    latest: list = []
    ids: list[str] = []
    story_of: dict[int, int] = {}
    active: list[int] = []  # stories still within the window (documents come in time order)
    norms: list[float] = []
    for i in order:
        best, best_score = None, threshold
        t = times[i]
        if t is not None:
            active = [c for c in active if latest[c] is not None and t - latest[c] <= window]
        usable = [c for c in active if (t is None) == (latest[c] is None)]
        if usable:
            dots = (sp.vstack([centroids[c] for c in usable]) @ vectors[i].T).toarray().ravel()
            cosines = dots / np.maximum([norms[c] for c in usable], 1e-12)
            j = int(np.argmax(cosines))
            if cosines[j] >= best_score:
                best, best_score = usable[j], float(cosines[j])
        if best is None:
            centroids.append(vectors[i].copy())
            norms.append(1.0)
            latest.append(t)
            active.append(len(centroids) - 1)
            ids.append(records[i].key)
            story_of[i] = len(centroids) - 1
        else:
            centroids[best] = centroids[best] + vectors[i]
            norms[best] = float(np.sqrt(centroids[best].multiply(centroids[best]).sum()))
            if t is not None:
                latest[best] = max(latest[best], t)
            story_of[i] = best
    return [ids[story_of[i]] for i in range(len(records))]


def line(name: str, s: dict) -> str:
    return (f"  {name:<34} {_fmt(s['p']):>6} {_fmt(s['r']):>6} {_fmt(s['f1']):>7}   "
            f"{_fmt(s['bp']):>5} {_fmt(s['br']):>5} {_fmt(s['bf1']):>5}   "
            f"{s['tp']:>5}/{s['pred_pairs']:>5}/{s['true_pairs']:>5}")


HEADER = (f"  {'':<34} {'pair P':>6} {'pair R':>6} {'pair F1':>7}   {'B3 P':>5} {'B3 R':>5} {'B3 F1':>5}"
          f"   {'pairs TP/pred/true':>17}")


def evaluate(name: str, items, settings: DedupeSettings, baseline: bool = True) -> dict:
    records = [item[0] for item in items]
    truth = [item[2] for item in items]
    started = time.perf_counter()
    ours = [a.story_id for a in cluster_records(records, settings)]
    seconds = time.perf_counter() - started
    print(f"\n== {name}: {len(items)} documents, {len(set(truth))} labelled stories "
          f"({sum(1 for s in set(truth) if truth.count(s) > 1) if len(items) < 5000 else '?'} with 2+)")
    print(HEADER)
    result = {"ours": scores(ours, truth), "predicted": ours}
    print(line(f"newscrawl ({seconds:.1f} s)", result["ours"]))
    if baseline:
        best = None
        for threshold in THRESHOLDS:
            s = scores(tfidf_single_pass(records, threshold), truth)
            print(line(f"TF-IDF single pass, cos >= {threshold:.2f}", s))
            if best is None or (s["f1"] or 0) > (best["f1"] or 0):
                best = s
        result["baseline"] = best
        print(f"  best baseline pairwise F1 {_fmt(best['f1'])}; newscrawl {_fmt(result['ours']['f1'])}")
    return result


def halves(items, predicted) -> None:
    """Scores on each half of the stories (even / odd CRC-32 of the story label): a rule
    kept must hold on both, not on the set as a whole only. A pair across halves is
    in neither."""
    for parity, name in ((0, "even"), (1, "odd")):
        chosen = [i for i, item in enumerate(items) if zlib.crc32(item[2].encode()) % 2 == parity]
        s = scores([predicted[i] for i in chosen], [items[i][2] for i in chosen])
        print(line(f"newscrawl, {name} half ({len(chosen)} docs)", s))


def rounds(items, predicted) -> None:
    """Synthetic scores on round 0 (the real texts verbatim, with their real titles) and on the
    later rounds (scale-originals: a generated lead, half the units dropped; see
    bench/labelled_sets.py). A gap between the two is the generator's, not the real pages'."""
    for name, first in (("round 0", True), ("rounds 1+", False)):
        chosen = [i for i, item in enumerate(items) if item[0].key.startswith("syn-r0000-") == first]
        if chosen:
            s = scores([predicted[i] for i in chosen], [items[i][2] for i in chosen])
            print(line(f"newscrawl, {name} ({len(chosen)} docs)", s))


def errors(items, predicted) -> None:
    """The wrongly merged and the missed pairs of the real set, with titles."""
    by_pred, by_true = defaultdict(list), defaultdict(list)
    for (record, _, story), pid in zip(items, predicted):
        by_pred[pid].append((record, story))
        by_true[story].append((record, pid))
    def title(r):
        return f"{r.key[:14]} {(r.title or r.text[:60])[:70]!r}"
    wrong = [(a, b) for members in by_pred.values() for (a, sa), (b, sb) in combinations(members, 2) if sa != sb]
    missed = [(a, b) for members in by_true.values() for (a, pa), (b, pb) in combinations(members, 2) if pa != pb]
    print(f"  wrongly in one story ({len(wrong)} pairs):")
    for a, b in wrong:
        print(f"    {title(a)}  +  {title(b)}")
    print(f"  labelled one story, kept apart ({len(missed)} pairs):")
    for a, b in missed:
        print(f"    {title(a)}  |  {title(b)}")


def hard_negatives(items, predicted) -> int:
    by_key = {record.key: pid for (record, _, _), pid in zip(items, predicted)}
    pairs = labelled_sets.hard_negative_key_pairs(items)
    merged = sum(by_key[a] == by_key[b] for a, b in pairs)
    print(f"  hard negatives (same topic, same outlet, same week, different events): {len(pairs)} pairs; "
          f"wrongly in one story: {merged}")
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3000, help="synthetic documents (default 3000)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic-set seed (default 0)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="override a DedupeSettings field")
    parser.add_argument("--quiet", action="store_true", help="do not list the real set's errors")
    parser.add_argument("--no-synthetic", action="store_true", help="real set and seeds only")
    parser.add_argument("--no-baseline", action="store_true", help="skip the TF-IDF baseline")
    args = parser.parse_args()
    if not args.no_baseline and importlib.util.find_spec("sklearn") is None:
        parser.exit(2, "story_quality.py: the TF-IDF baseline needs scikit-learn: "
                       "pip install -U pip && pip install -e '.[bench]' (or pass --no-baseline)\n")
    settings = DedupeSettings(**setting_overrides(args.overrides))
    print(f"settings: {settings}")

    real = labelled_sets.real_story_set()
    result = evaluate("real pages, stories labelled by hand (both corpora and the seeds)", real, settings,
                      baseline=not args.no_baseline)
    halves(real, result["predicted"])
    if not args.quiet:
        errors(real, result["predicted"])
    seeds = labelled_sets.seeds_set()
    s = evaluate("seeds", seeds, settings, baseline=False)
    exact = s["ours"]["p"] == 1.0 and s["ours"]["r"] == 1.0
    print(f"  seeds exact: {'yes' if exact else 'NO'}")
    if not args.no_synthetic:
        synthetic = labelled_sets.synthetic_set(args.n, seed=args.seed)
        syn = evaluate(f"synthetic ({args.n} documents, seed {args.seed})", synthetic, settings,
                       baseline=not args.no_baseline)
        halves(synthetic, syn["predicted"])
        rounds(synthetic, syn["predicted"])
        hard_negatives(synthetic, syn["predicted"])


if __name__ == "__main__":
    main()
