"""Near-duplicate and same-story grouping quality on labelled sets.

Runs ``dedupe.grouping.cluster_records`` (batch: publication order) on

1. the five seeds (as they are, boilerplate included),
2. the bundled sample sites' articles (clean expected bodies),
3. a synthetic set of ~3000 documents built from the 181 real benchmark texts
   (see bench/labelled_sets.py for how it is made and why),

and then feeds the synthetic set in a seeded random order through one
``Deduper.add`` per document (arrival order, as in a crawl) to check order
dependence.

For each relation (near-duplicate: ``dup_group_id`` vs the dup labels; story:
``story_id`` vs the story labels) it prints

- pairwise precision / recall / F1 over all pairs of items (positive = same
  label). Counted from the contingency table (sum over cells of C(n, 2)), never
  by enumerating the O(n^2) pairs;
- BCubed precision / recall / F1 (per-item precision and recall, averaged).

"n/a" marks a ratio with a zero denominator (e.g. recall when no two items
share a label). For the seeds it also prints which seeds share dup/story ids;
for the synthetic set, how many hard-negative pairs (same topic, different
events, published ~1 h apart) were wrongly grouped.

    python bench/dedupe_quality.py [--n 3000] [--seed 0]
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Hashable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from dedupe import DedupeSettings  # noqa: E402

try:  # the public API; Deduper may not be re-exported from dedupe yet
    from dedupe import Deduper  # type: ignore[attr-defined]  # noqa: E402
except ImportError:  # pragma: no cover
    from dedupe.grouping import Deduper  # noqa: E402
from dedupe.grouping import cluster_records  # noqa: E402

import labelled_sets  # noqa: E402


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _f1(p: float | None, r: float | None) -> float | None:
    if p is None or r is None:
        return None
    return 2 * p * r / (p + r) if p + r else 0.0


def scores(predicted: Sequence[Hashable], truth: Sequence[Hashable]) -> dict[str, float | None]:
    """Pairwise and BCubed precision/recall/F1 of one clustering against labels, in O(n)."""
    n = len(truth)
    cells = Counter(zip(predicted, truth))
    pred_sizes, true_sizes = Counter(predicted), Counter(truth)
    tp = sum(_pairs(c) for c in cells.values())
    pred_pos = sum(_pairs(c) for c in pred_sizes.values())
    true_pos = sum(_pairs(c) for c in true_sizes.values())
    p, r = _ratio(tp, pred_pos), _ratio(tp, true_pos)
    bp = sum(c * c / pred_sizes[pk] for (pk, _), c in cells.items()) / n
    br = sum(c * c / true_sizes[tk] for (_, tk), c in cells.items()) / n
    return {"p": p, "r": r, "f1": _f1(p, r), "bp": bp, "br": br, "bf1": _f1(bp, br),
            "tp": tp, "pred_pairs": pred_pos, "true_pairs": true_pos,
            "pred_clusters": len(pred_sizes), "true_clusters": len(true_sizes)}


def _fmt(x: float | None) -> str:
    return "  n/a" if x is None else f"{x:.3f}"


def report(name: str, items, assignments) -> dict[str, dict]:
    out = {}
    print(f"\n== {name}: {len(items)} documents")
    print(f"  {'relation':<15} {'pair P':>6} {'pair R':>6} {'pair F1':>7}   {'B3 P':>5} {'B3 R':>5} {'B3 F1':>5}"
          f"   {'pairs TP/pred/true':>22}   {'clusters pred/true':>18}")
    for relation, label_index, attr in (("near-duplicate", 1, "dup_group_id"), ("story", 2, "story_id")):
        s = scores([getattr(a, attr) for a in assignments], [item[label_index] for item in items])
        out[relation] = s
        print(f"  {relation:<15} {_fmt(s['p']):>6} {_fmt(s['r']):>6} {_fmt(s['f1']):>7}   "
              f"{_fmt(s['bp']):>5} {_fmt(s['br']):>5} {_fmt(s['bf1']):>5}   "
              f"{s['tp']:>7}/{s['pred_pairs']:>6}/{s['true_pairs']:>6}   {s['pred_clusters']:>8}/{s['true_clusters']:>8}")
    return out


def seeds_grouping(items, assignments) -> None:
    print("  grouping (seed id -> group founder's id):")
    for (record, dup, story), a in zip(items, assignments):
        print(f"    {record.key}: dup group {a.dup_group_id!s:<4} story {a.story_id!s:<4}"
              f"   (labels: {dup}, {story})")
    for attr, what in (("dup_group_id", "dup"), ("story_id", "story")):
        groups: dict = {}
        for (record, _, _), a in zip(items, assignments):
            groups.setdefault(getattr(a, attr), []).append(record.key)
        print(f"  {what} groups: " + "  ".join("{" + ", ".join(g) + "}" for g in groups.values()))


def hard_negatives(items, assignments) -> None:
    by_key = {record.key: a for (record, _, _), a in zip(items, assignments)}
    pairs = labelled_sets.hard_negative_key_pairs(items)
    dup = sum(by_key[a].dup_group_id == by_key[b].dup_group_id for a, b in pairs)
    story = sum(by_key[a].story_id == by_key[b].story_id for a, b in pairs)
    print(f"  hard negatives (same topic, different events, ~1 h apart): {len(pairs)} pairs of originals; "
          f"wrongly in one dup group: {dup}, wrongly in one story: {story}")


def cross_outlet(items, assignments) -> None:
    """Story recall on the real cross-outlet reports (distinct dup labels, shared story label)."""
    originals = [(item, a) for item, a in zip(items, assignments) if str(item[0].key).endswith("-c0")]
    by_story: dict = {}
    for (record, dup, story), a in originals:
        by_story.setdefault(story, []).append(a.story_id)
    groups = [ids for ids in by_story.values() if len(ids) > 1]
    together = sum(_pairs(c) for ids in groups for c in Counter(ids).values())
    total = sum(_pairs(len(ids)) for ids in groups)
    print(f"  real cross-outlet reports of one event (originals only): {len(groups)} groups, {total} pairs, "
          f"pairs put in one story: {together} ({_fmt(_ratio(together, total))})")


def copy_recall_by_similarity(items, assignments) -> None:
    """Is each copy in its original's dup group, by the copy's true 5-shingle Jaccard to the original?"""
    text = {record.key: record.text for record, _, _ in items}
    group = {record.key: a.dup_group_id for (record, _, _), a in zip(items, assignments)}
    bins: dict[str, list[int]] = {"J >= 0.9": [0, 0], "0.8 <= J < 0.9": [0, 0], "J < 0.8": [0, 0]}
    for record, _, _ in items:
        key = str(record.key)
        if key.endswith("-c0") or not key.startswith("syn-"):
            continue
        original = key.rsplit("-c", 1)[0] + "-c0"
        if original not in text:
            continue
        a, b = labelled_sets.shingles(text[original]), labelled_sets.shingles(record.text)
        j = len(a & b) / len(a | b) if a | b else 1.0
        name = "J >= 0.9" if j >= 0.9 else "0.8 <= J < 0.9" if j >= 0.8 else "J < 0.8"
        bins[name][0] += 1
        bins[name][1] += group[record.key] == group[original]
    print("  copies joined to their original's dup group, by true 5-shingle Jaccard J to it: " + "; ".join(
        f"{name}: {hit}/{n} ({_fmt(_ratio(hit, n))})" for name, (n, hit) in bins.items()))


def agreement(a_ids, b_ids) -> str:
    s = scores(a_ids, b_ids)
    return f"pairwise F1 {_fmt(s['f1'])}, BCubed F1 {_fmt(s['bf1'])}"


_BOOLEANS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


def setting_overrides(pairs: list[str]) -> dict:
    """``--set NAME=VALUE`` pairs as DedupeSettings fields, each VALUE read as its field's type.
    A flag takes true/false (also 1/0, yes/no, on/off): ``bool("False")`` would be True."""
    overrides = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        kind = type(getattr(DedupeSettings(), name))
        if kind is bool:
            if value.strip().lower() not in _BOOLEANS:
                raise SystemExit(f"--set {name}: expected true or false, got {value!r}")
            overrides[name] = _BOOLEANS[value.strip().lower()]
        else:
            overrides[name] = kind(value)
    return overrides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3000, help="synthetic documents (default 3000)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic-set and shuffle seed (default 0)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="override a DedupeSettings field, e.g. --set near_duplicate_threshold=0.6")
    args = parser.parse_args()
    settings = DedupeSettings(**setting_overrides(args.overrides))
    print(f"settings: {settings}")

    items = labelled_sets.seeds_set()
    assignments = cluster_records([i[0] for i in items], settings)
    report("seeds (as they are, boilerplate included)", items, assignments)
    seeds_grouping(items, assignments)

    items = labelled_sets.sample_sites_set()
    report("sample sites (expected clean bodies)", items, cluster_records([i[0] for i in items], settings))

    items = labelled_sets.synthetic_set(args.n, seed=args.seed)
    started = time.perf_counter()
    batch = cluster_records([i[0] for i in items], settings)
    seconds = time.perf_counter() - started
    report(f"synthetic, batch cluster_records (publication order; {seconds:.1f} s)", items, batch)
    hard_negatives(items, batch)
    cross_outlet(items, batch)
    copy_recall_by_similarity(items, batch)

    order = list(range(len(items)))
    random.Random(args.seed + 1).shuffle(order)
    deduper = Deduper(settings)
    shuffled: list = [None] * len(items)
    started = time.perf_counter()
    for i in order:
        shuffled[i] = deduper.add(items[i][0])
    seconds = time.perf_counter() - started
    report(f"synthetic, shuffled order through Deduper.add (seed {args.seed + 1}; {seconds:.1f} s)", items, shuffled)
    hard_negatives(items, shuffled)
    cross_outlet(items, shuffled)
    print("  agreement of shuffled with batch grouping: "
          f"dup {agreement([a.dup_group_id for a in shuffled], [a.dup_group_id for a in batch])}; "
          f"story {agreement([a.story_id for a in shuffled], [a.story_id for a in batch])}")


if __name__ == "__main__":
    main()
