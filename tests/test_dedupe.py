import datetime as dt

import numpy as np
import pytest

from dedupe import DedupeSettings, content_hash, minhash_from_bytes, minhash_to_bytes
from dedupe.grouping import Deduper, DocumentRecord, cluster_records
from dedupe.index import BandIndex
from dedupe.signature import jaccard, minhash_values, shingle_hashes, tokens
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


def test_signature_bytes_roundtrip_as_leanminhash():
    values = minhash_values(shingle_hashes(tokens(WIRE), 5), 128, 1)
    data = minhash_to_bytes(values, 1)
    assert np.array_equal(minhash_from_bytes(data), values)


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
    ],
)
def test_settings_validation_messages(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DedupeSettings(**kwargs)
