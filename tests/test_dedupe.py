import datetime as dt
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dedupe import DedupeSettings, content_hash, minhash_from_bytes, minhash_to_bytes
from dedupe.grouping import Deduper, DocumentRecord, cluster_records
from dedupe.index import BandIndex, candidate_params
from dedupe.signature import compare, jaccard, minhash_values, order_codes, shingle_hashes, tokens
from dedupe.story import story_terms, weighted_jaccard
from tests.helpers import seed_texts

UTC = dt.timezone.utc
WIRE = (
    "The central bank raised its key interest rate by half a percentage point on Thursday, the third increase "
    "this year, as policymakers sought to contain inflation that has stayed above target for eighteen months. "
    "Governor Maria Keller said the decision was unanimous and that further tightening could not be ruled out "
    "if price pressures in services and housing failed to ease. Analysts polled before the meeting had been "
    "split between a quarter-point and a half-point move. The currency strengthened after the announcement "
    "while government bond yields rose across the curve."
)
SEED_DATES = {
    "000": "2025-04-25T14:00:00+00:00",
    "001": "2025-01-28T19:14:00+02:00",
    "002": "2025-01-28T21:00:00+02:00",
    "003": "2025-01-29T09:10:00+03:00",
    "004": "2024-12-11T13:05:00+03:00",
}


def at(hours: float) -> dt.datetime:
    return dt.datetime(2025, 3, 1, tzinfo=UTC) + dt.timedelta(hours=hours)


def test_wire_copy_with_edits_joins_group_and_other_story_does_not():
    deduper = Deduper()
    first = deduper.add(DocumentRecord(1, WIRE, at(0)))
    copy = deduper.add(DocumentRecord(2, "Updated: " + WIRE + " Follow us for more business news.", at(2)))
    other = deduper.add(DocumentRecord(3, seed_texts()["001"], at(3)))
    assert first.dup_group_id == 1 and first.similarity is None
    assert copy.dup_group_id == 1 and copy.similarity >= 0.8
    assert copy.story_id == 1
    assert other.dup_group_id == 3


def test_exact_copy_found_by_content_hash_even_when_short():
    deduper = Deduper()
    deduper.add(DocumentRecord("a", "Short notice: office closed."))
    same = deduper.add(DocumentRecord("b", "short   notice:  OFFICE closed."))
    assert same.dup_group_id == "a" and same.similarity == 1.0
    assert same.minhash is None  # too short to shingle meaningfully
    assert content_hash("A b") == content_hash("a\nB")


def test_seeds_exact_one_story_two_singletons_no_near_duplicates():
    seeds = seed_texts()
    records = [DocumentRecord(k, v, dt.datetime.fromisoformat(SEED_DATES[k])) for k, v in seeds.items()]
    result = {a.key: a for a in cluster_records(records)}
    assert len({a.dup_group_id for a in result.values()}) == 5
    assert result["001"].story_id == result["002"].story_id == result["003"].story_id
    assert len({result[k].story_id for k in ("000", "001", "004")}) == 3


def test_seeds_in_any_arrival_order():
    seeds = seed_texts()
    records = [DocumentRecord(k, v, dt.datetime.fromisoformat(SEED_DATES[k])) for k, v in seeds.items()]
    for order in ([4, 3, 2, 1, 0], [2, 0, 3, 1, 4], [3, 1, 2, 4, 0]):
        deduper = Deduper()
        result = {a.key: a for a in (deduper.add(records[i]) for i in order)}
        assert result["001"].story_id == result["002"].story_id == result["003"].story_id
        assert result["000"].story_id not in (result["001"].story_id, result["004"].story_id)


def test_same_topic_outside_the_time_window_is_another_story():
    deduper = Deduper()
    a = deduper.add(DocumentRecord(1, WIRE, at(0), title="Central bank raises rates again"))
    # The next decision, a month later, reported with the same names and vocabulary: a new event.
    later = (
        "Governor Maria Keller and the central bank held the key interest rate on Thursday after three increases, "
        "saying inflation above target for eighteen months had begun to ease in services and housing. The currency "
        "weakened and government bond yields fell across the curve as analysts had expected a pause in tightening."
    )
    assert deduper.assign(DocumentRecord(2, later, at(2))).story_id == 1
    b = deduper.add(DocumentRecord(2, later, at(24 * 30)))
    assert b.dup_group_id == 2 and b.story_id != a.story_id


def test_story_does_not_chain_into_a_topic():
    """A~B and B~C must not put C in A's story when C does not verify against A."""
    settings = DedupeSettings()
    deduper = Deduper(settings)
    base = ["harbour", "ferry", "strike", "dockers", "union", "wages", "portside", "cranes", "Lowtown", "Kessler"]
    drift = ["election", "mayor", "ballot", "turnout", "candidates", "Brennan", "polling", "recount", "Marlow", "Okafor"]

    def text(words):
        return " ".join(f"The {w} matter was discussed at length by officials." for w in words * 3)

    a = deduper.add(DocumentRecord("a", text(base), at(0)))
    b = deduper.add(DocumentRecord("b", text(base[:5] + drift[:5]), at(10)))
    c = deduper.add(DocumentRecord("c", text(drift), at(20)))
    assert c.story_id != a.story_id
    assert b.story_id in ("a", "b")


def test_representative_is_earliest_published():
    deduper = Deduper()
    deduper.add(DocumentRecord("late", WIRE, at(10)))
    early = deduper.add(DocumentRecord("early", WIRE + " Extra line.", at(1)))
    assert early.dup_group_id == "late"  # ids are stable: the founder keeps naming the group
    assert early.representative == "early" and early.previous_representative == "late"
    third = deduper.add(DocumentRecord("third", WIRE, at(20)))
    assert third.representative == "early" and third.previous_representative is None


def test_assign_does_not_index_until_commit():
    deduper = Deduper()
    pending = deduper.assign(DocumentRecord(1, WIRE))
    assert deduper.assign(DocumentRecord(2, WIRE)).dup_group_id == 2  # 1 is not committed yet
    deduper.commit(pending)
    assert deduper.assign(DocumentRecord(2, WIRE)).dup_group_id == 1


def test_replace_reindexes_changed_text():
    deduper = Deduper()
    deduper.add(DocumentRecord(1, "x " * 5 + seed_texts()["004"], at(0)))
    deduper.replace(1, deduper.signature(DocumentRecord(1, WIRE, at(0))))
    assert deduper.assign(DocumentRecord(2, WIRE, at(1))).dup_group_id == 1


def test_cluster_order_is_by_publication_time():
    result = cluster_records([DocumentRecord("late", WIRE, at(24)), DocumentRecord("early", WIRE + " Extra.", at(0))])
    assert [a.dup_group_id for a in result] == ["early", "early"]


def test_numpy_minhash_estimates_jaccard():
    a, b = tokens(WIRE), tokens(WIRE.replace("Thursday", "Friday").replace("eighteen", "nineteen"))
    sa, sb = set(map(int, shingle_hashes(a, 5))), set(map(int, shingle_hashes(b, 5)))
    true = len(sa & sb) / len(sa | sb)
    estimate = jaccard(minhash_values(shingle_hashes(a, 5), 256, 1), minhash_values(shingle_hashes(b, 5), 256, 1))
    assert abs(estimate - true) < 0.1


def test_signature_bytes_are_datasketch_leanminhash_bytes():
    from datasketch import LeanMinHash

    values = minhash_values(shingle_hashes(tokens(WIRE), 5), 128, 1)
    data = minhash_to_bytes(values, 7)
    assert np.array_equal(minhash_from_bytes(data), values)
    # datasketch reads what we write ...
    lean = LeanMinHash.deserialize(data, byteorder="<")
    assert lean.seed == 7 and lean.scheme == "affine32" and np.array_equal(lean.hashvalues, values)
    # ... we read what datasketch writes, and the bytes are the same
    theirs = LeanMinHash(seed=7, hashvalues=values.astype(np.uint64), scheme="affine32")
    buf = bytearray(theirs.bytesize(byteorder="<"))
    theirs.serialize(buf, byteorder="<")
    assert bytes(buf) == data
    assert np.array_equal(minhash_from_bytes(bytes(buf)), values)
    # datasketch's pre-2.0 layout (no scheme byte) still reads
    legacy = LeanMinHash(seed=7, hashvalues=values.astype(np.uint64), scheme="legacy")
    buf = bytearray(legacy.bytesize(byteorder="<"))
    legacy.serialize(buf, byteorder="<")
    assert np.array_equal(minhash_from_bytes(bytes(buf)), values)


def test_crawl_processes_do_not_import_datasketch():
    # datasketch's package import pulls in scipy: ~47 MB in every process that imports it
    code = ("import sys, crawler.ops.cli, crawler.ops.run, crawler.workers, crawler.pipelines, crawler.spiders.news; "
            "print('datasketch' in sys.modules)")
    repo = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo).stdout
    assert out.strip() == "False"


def test_band_index_finds_inserted_and_survives_flush():
    index = BandIndex(bands=8, rows=2)
    rng = np.random.RandomState(0)
    sigs = [rng.randint(0, 2**32 - 1, size=16, dtype=np.uint64).astype(np.uint32) for _ in range(2500)]
    for i, sig in enumerate(sigs):
        index.insert(i, sig)
    assert all(i in index.query(sig) for i, sig in enumerate(sigs[::97]) for i in [i * 97])
    index.remove(5)
    assert 5 not in index.query(sigs[5])


def test_story_terms_prefer_rare_names_and_title():
    terms, weights = story_terms("Bogdanov visits Damascus", seed_texts()["001"], "en", 24)
    other_terms, other_weights = story_terms(None, seed_texts()["002"], "en", 24)
    assert len(terms) == 24 and weights.dtype == np.float32
    assert 0 < weighted_jaccard(terms, weights, other_terms, other_weights) < 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_perm": 4}, "num_perm must be between"),
        ({"near_duplicate_threshold": 1.0}, "strictly between 0 and 1"),
        ({"shingle_size": 0}, "shingle_size must be between"),
        ({"storage": {"type": "mongo"}}, "storage type must be"),
        ({"story_num_perm": 10, "story_bands": 4}, "must be a multiple of story_bands"),
        ({"story_window_hours": 100, "story_max_span_hours": 10}, "story_max_span_hours >= story_window_hours"),
        ({"containment_min_jaccard": 0.8}, "containment_min_jaccard must be > 0 and <= near_duplicate_threshold"),
        ({"containment_threshold": 0.0}, "containment_threshold must be in"),
        ({"candidate_jaccard": 1.0}, "candidate_jaccard must be strictly between"),
        ({"containment_window_hours": -1}, "containment_window_hours must be >= 0"),
    ],
)
def test_settings_validation_messages(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DedupeSettings(**kwargs)


# --- partial copies (containment) ------------------------------------------------

def _paragraphs(seed: int, count: int, words: int = 40) -> list[str]:
    """Distinct made-up paragraphs (pseudo-words from a seeded generator), so that
    shingle overlap is exactly the shared paragraphs and nothing else."""
    rng = np.random.RandomState(seed)
    syllables = ["ka", "lo", "mi", "ter", "san", "vu", "dre", "po", "lin", "ga", "sho", "bel", "rum", "tiv"]
    return [" ".join("".join(rng.choice(syllables, size=rng.randint(2, 4))) for _ in range(words)) + "."
            for _ in range(count)]


ARTICLE = _paragraphs(7, 10)


def _text(paragraphs: list[str]) -> str:
    return "\n\n".join(paragraphs)


def test_trimmed_copy_within_the_window_is_a_near_duplicate():
    """The wire text cut to its first 6 of 10 paragraphs (Jaccard ~0.6, containment 1) hours later."""
    deduper = Deduper()
    deduper.add(DocumentRecord("full", _text(ARTICLE), at(0)))
    trimmed = deduper.add(DocumentRecord("trimmed", _text(ARTICLE[:6]), at(5)))
    assert trimmed.dup_group_id == "full"
    assert 0.45 < trimmed.similarity < 0.7  # below the whole-text threshold: found by containment
    # With a promo line added and its own last paragraph: still the same text.
    edited = deduper.add(DocumentRecord("edited", _text(ARTICLE[:7] + ["Subscribe to our newsletter for more."]), at(9)))
    assert edited.dup_group_id == "full"


def test_trimmed_copy_far_apart_in_time_is_not_a_near_duplicate():
    """Six of the ten paragraphs again a month later: reused background, not a republication."""
    deduper = Deduper()
    deduper.add(DocumentRecord("full", _text(ARTICLE), at(0)))
    later = deduper.add(DocumentRecord("later", _text(ARTICLE[:6]), at(24 * 30)))
    assert later.dup_group_id == "later"
    undated = Deduper()
    undated.add(DocumentRecord("full", _text(ARTICLE)))
    assert undated.add(DocumentRecord("no-time", _text(ARTICLE[:6]))).dup_group_id == "no-time"


def test_whole_text_copy_needs_no_time_window():
    deduper = Deduper()
    deduper.add(DocumentRecord("full", _text(ARTICLE), at(0)))
    assert deduper.add(DocumentRecord("repost", _text(ARTICLE[:9]), at(24 * 300))).dup_group_id == "full"


def test_excerpt_or_shared_half_is_not_a_near_duplicate():
    deduper = Deduper()
    deduper.add(DocumentRecord("full", _text(ARTICLE), at(0)))
    # Containment 1 but only 3 of 10 paragraphs (Jaccard ~0.3): an excerpt, not a copy.
    excerpt = deduper.add(DocumentRecord("excerpt", _text(ARTICLE[:3]), at(1)))
    assert excerpt.dup_group_id == "excerpt"
    # Half of the paragraphs plus as much new text: containment ~0.5.
    mixed = deduper.add(DocumentRecord("mixed", _text(ARTICLE[:5] + _paragraphs(8, 5)), at(2)))
    assert mixed.dup_group_id == "mixed"


def test_containment_threshold_both_sides():
    """6 of the 10 paragraphs plus k new ones: the copy is the smaller text, with
    containment 6/(6+k) in the original and Jaccard 6/(10+k)."""
    settings = DedupeSettings(near_duplicate_threshold=0.95)  # keep the whole-text path out of the way
    results = {}
    for extra in (1, 3):
        deduper = Deduper(settings)
        deduper.add(DocumentRecord("full", _text(ARTICLE), at(0)))
        copy = deduper.add(DocumentRecord("copy", _text(ARTICLE[:6] + _paragraphs(9, extra)), at(1)))
        results[extra] = copy.dup_group_id
    assert results == {1: "full", 3: "copy"}  # containment ~0.86 >= 0.8 joins; ~0.67 does not


def test_order_codes_keep_equality_and_order():
    values = np.random.RandomState(3).randint(0, 2**32 - 1, size=10_000, dtype=np.uint64).astype(np.uint32)
    codes = order_codes(values)
    order = np.argsort(values, kind="stable")
    assert np.all(np.diff(codes[order].astype(np.int64)) >= 0)  # monotone
    assert np.array_equal(order_codes(values.copy()), codes)


def test_compare_estimates_jaccard_and_containment():
    rng = np.random.RandomState(5)
    base = np.unique(rng.randint(0, 2**32 - 1, size=3000, dtype=np.uint64))
    subset = base[:1000]
    half = np.concatenate([base[:500], rng.randint(0, 2**32 - 1, size=500, dtype=np.uint64)])
    codes = {name: order_codes(minhash_values(np.unique(v), 256, 1)) for name, v in
             (("base", base), ("subset", subset), ("half", half))}
    similarity, containment = compare(codes["subset"], codes["base"][None, :])
    assert abs(similarity[0] - 1 / 3) < 0.1 and containment[0] > 0.9
    similarity, containment = compare(codes["half"], codes["base"][None, :])
    assert abs(containment[0] - 0.5) < 0.12 and similarity[0] < 0.25


def test_candidate_params_reach_the_recall():
    assert candidate_params(DedupeSettings().candidate_jaccard, 128) == (32, 4)  # as documented
    for threshold in (0.4, 0.5, 0.7):
        bands, rows = candidate_params(threshold, 128, recall=0.9)
        assert bands * rows <= 128
        assert 1 - (1 - threshold**rows) ** bands >= 0.9
        assert 1 - (1 - threshold ** (rows + 1)) ** (128 // (rows + 1)) < 0.9  # the most rows that do


def test_band_index_merges_levels_and_forgets_removed():
    index = BandIndex(bands=32, rows=4)
    rng = np.random.RandomState(1)
    sigs = rng.randint(0, 2**32 - 1, size=(BandIndex.MERGE_EVERY + 300, 128), dtype=np.uint64).astype(np.uint32)
    for i, sig in enumerate(sigs):
        index.insert(i, sig)
    assert len(index) == len(sigs)
    for i in (0, 17, BandIndex.MERGE_EVERY - 1, BandIndex.MERGE_EVERY + 5, len(sigs) - 1):  # main, young, pending
        assert i in index.query(sigs[i])
    index.remove(17)
    assert 17 not in index.query(sigs[17])
    assert index.query_array(sigs[[3, 4]]).tolist() == [3, 4]  # a matrix: any of its rows


def test_deduper_keys_of_any_type_are_found_after_growth():
    deduper = Deduper()
    for i in range(3000):  # past the key table's first growth
        deduper.add(DocumentRecord(i, f"item{i}"))  # no story terms: time-less notes sharing one would all be candidates
    assert 2999 in deduper and 3000 not in deduper and "7" not in deduper
    assert deduper.add(DocumentRecord(5000, "ITEM42")).dup_group_id == 42
    named = Deduper()
    for key in ("a", "b", ("tuple", 1), 7):  # mixed types fall back to a list
        named.add(DocumentRecord(key, f"text of {key}"))
    assert all(k in named for k in ("a", "b", ("tuple", 1), 7)) and "c" not in named
    assert named.add(DocumentRecord("again", "text of b")).dup_group_id == "b"


def test_partial_copies_do_not_chain_past_the_founder():
    """A 3-paragraph excerpt is a partial copy of a 6-paragraph cut, but not of the
    10-paragraph text that founded the cut's group: it must not join that group."""
    deduper = Deduper()
    deduper.add(DocumentRecord("full", _text(ARTICLE), at(0)))
    assert deduper.add(DocumentRecord("cut", _text(ARTICLE[:6]), at(1))).dup_group_id == "full"
    assert deduper.add(DocumentRecord("excerpt", _text(ARTICLE[:3]), at(2))).dup_group_id == "excerpt"
    alone = Deduper()  # the other side: with the cut as founder, the excerpt is its partial copy
    alone.add(DocumentRecord("cut", _text(ARTICLE[:6]), at(1)))
    assert alone.add(DocumentRecord("excerpt", _text(ARTICLE[:3]), at(2))).dup_group_id == "cut"


def test_load_many_indexes_as_load_one_by_one():
    """Deduper.load_many (the dedupe window at start) leaves the index as load() per document."""
    records = [DocumentRecord(n, _text(ARTICLE[n % 4:n % 4 + 5]) + f" Item {n}.", at(n * 7)) for n in range(12)]
    records.append(DocumentRecord(99, "Too short to shingle.", at(3)))
    one, many = Deduper(), Deduper()
    assigned = [one.add(r) for r in records]
    sigs = [a.signature for a in assigned]
    many.load_many([a.key for a in assigned], sigs, [a.dup_group_id for a in assigned],
                   [a.story_id for a in assigned])
    probe = DocumentRecord(100, _text(ARTICLE[1:6]) + " Item 100.", at(30))
    expected, got = one.assign(probe), many.assign(probe)
    assert (got.dup_group_id, got.story_id, got.similarity) == (expected.dup_group_id, expected.story_id,
                                                                 expected.similarity)
    for number in range(len(records)):
        for column in ("_sig", "_terms", "_nterms", "_group", "_story", "_rep", "_prefix"):
            assert np.array_equal(getattr(one, column)[number], getattr(many, column)[number]), column
        assert np.array_equal(one._span[number], many._span[number], equal_nan=True)
    assert sorted(one._dup_index.query_array(sigs[3].minhash)) == sorted(many._dup_index.query_array(sigs[3].minhash))
    # Thousands at once: the hash tables grow during the batch.
    big = Deduper()
    big.load_many(list(range(5000)), [sigs[0]] * 5000, list(range(5000)), list(range(5000)))
    assert len(big) == 5000 and big.assign(records[0]).dup_group_id == 0


def test_word_runs_are_the_regex_word_runs():
    """word_runs splits ASCII text in C (translate + split): the same runs as re.findall(r"\\w+")."""
    import random
    import re

    from dedupe.signature import word_runs

    every_ascii = "".join(map(chr, range(128)))
    samples = [every_ascii, "", "   ", "it's 2024_Q3: e-mail, a\x1cb\x1fc\x0bd", "caf\u00e9 na\u00efve \u00aa \u2014 ok",
               "\u4e2d\u6587 words mixed", "tab\there\nnew line", "__init__ x__y"]
    rng = random.Random(7)
    samples += ["".join(rng.choice(every_ascii) for _ in range(rng.randint(0, 200))) for _ in range(300)]
    for text in samples:
        assert word_runs(text) == re.findall(r"\w+", text), repr(text)


def test_word_runs_with_non_ascii_separators_or_letters_are_the_regex_word_runs():
    import random
    import re

    from dedupe.signature import word_runs

    pieces = ["word", "it’s", "“quoted”", " — ", "café", "naïve", "\u00a0", "\u2028", "e\u0301", "\u4e2d\u6587",
              "\u0661\u0662", "x_y", "42", "\ud800", "\U0001f600", ", ", "\n"]
    rng = random.Random(11)
    for _ in range(500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        assert word_runs(text) == re.findall(r"\w+", text), repr(text)
