import datetime as dt

import pytest

from dedupe import DedupeSettings, Deduper, DocumentRecord, content_hash, minhash_from_bytes, minhash_to_bytes
from dedupe.grouping import cluster_records
from tests.helpers import seed_texts

WIRE = (
    "The central bank raised its key interest rate by half a percentage point on Thursday, the third increase "
    "this year, as policymakers sought to contain inflation that has stayed above target for eighteen months. "
    "Governor Maria Keller said the decision was unanimous and that further tightening could not be ruled out "
    "if price pressures in services and housing failed to ease. Analysts polled before the meeting had been "
    "split between a quarter-point and a half-point move. The currency strengthened after the announcement "
    "while government bond yields rose across the curve."
)


def test_wire_copy_with_edits_joins_group_and_other_story_does_not():
    deduper = Deduper()
    first = deduper.add(DocumentRecord(1, WIRE))
    copy = deduper.add(DocumentRecord(2, "Updated: " + WIRE + " Follow us for more business news."))
    other = deduper.add(DocumentRecord(3, seed_texts()["001"]))
    assert first.dup_group_id == 1 and first.similarity is None
    assert copy.dup_group_id == 1 and copy.similarity >= 0.8
    assert other.dup_group_id == 3


def test_exact_copy_found_by_content_hash_even_when_short():
    deduper = Deduper()
    deduper.add(DocumentRecord("a", "Short notice: office closed."))
    same = deduper.add(DocumentRecord("b", "short   notice:  OFFICE closed."))
    assert same.dup_group_id == "a"
    assert same.minhash is None  # too short to shingle meaningfully
    assert content_hash("A b") == content_hash("a\nB")


def test_seeds_are_not_near_duplicates_of_each_other():
    seeds = seed_texts()
    assignments = cluster_records([DocumentRecord(k, v) for k, v in seeds.items()])
    assert len({a.dup_group_id for a in assignments}) == len(seeds)


def test_assign_does_not_index_until_commit():
    deduper = Deduper()
    pending = deduper.assign(DocumentRecord(1, WIRE))
    assert deduper.assign(DocumentRecord(2, WIRE)).dup_group_id == 2  # 1 is not committed yet
    deduper.commit(pending)
    assert deduper.assign(DocumentRecord(2, WIRE)).dup_group_id == 1


def test_cluster_order_is_by_publication_time():
    early = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    late = dt.datetime(2025, 1, 2, tzinfo=dt.timezone.utc)
    result = cluster_records([DocumentRecord("late", WIRE, late), DocumentRecord("early", WIRE + " Extra.", early)])
    assert [a.dup_group_id for a in result] == ["early", "early"]


def test_signature_bytes_roundtrip():
    deduper = Deduper()
    mh = deduper.signature(WIRE)
    data = minhash_to_bytes(mh)
    assert len(data) == mh.bytesize()
    assert minhash_from_bytes(data).jaccard(mh) == 1.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_perm": 4}, "num_perm must be between"),
        ({"scheme": "md5"}, "scheme must be one of"),
        ({"near_duplicate_threshold": 1.0}, "strictly between 0 and 1"),
        ({"shingle_size": 0}, "shingle_size must be between"),
        ({"storage": {"type": "mongo"}}, "storage type must be"),
    ],
)
def test_settings_validation_messages(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DedupeSettings(**kwargs)
