"""The dedupe index on the real Redis (datasketch's Redis storage), as workers share it."""
import datetime as dt

from dedupe import DedupeSettings
from dedupe.grouping import Deduper, DocumentRecord, cluster_records
from tests.helpers import seed_texts
from tests.test_dedupe import SEED_DATES, WIRE, at


def _records():
    records = [DocumentRecord(k, v, dt.datetime.fromisoformat(SEED_DATES[k])) for k, v in seed_texts().items()]
    records += [DocumentRecord("wire", WIRE, at(0)), DocumentRecord("wire-copy", "Updated: " + WIRE, at(5))]
    return records


def test_redis_index_groups_like_the_memory_index(redis_storage):
    records = _records()
    memory = {a.key: (a.dup_group_id, a.story_id) for a in cluster_records(records)}
    redis = {a.key: (a.dup_group_id, a.story_id)
             for a in cluster_records(records, DedupeSettings(storage=redis_storage))}
    assert redis == memory
    assert memory["wire-copy"][0] == "wire"
    assert memory["001"][1] == memory["002"][1] == memory["003"][1]


def test_two_workers_share_one_redis_index(redis_storage):
    """Worker B finds what worker A indexed, and reads its groups through ``lookup`` (the database in a crawl)."""
    settings = DedupeSettings(storage=redis_storage)
    shared_store = {}  # stands in for the articles table both workers write to

    def lookup(keys):
        return [shared_store[k] for k in keys if k in shared_store]

    worker_a, worker_b = Deduper(settings, lookup), Deduper(settings, lookup)
    first = worker_a.add(DocumentRecord("a1", WIRE, at(0)))
    shared_store["a1"] = ("a1", first.signature, first.dup_group_id, first.story_id)
    copy = worker_b.add(DocumentRecord("b1", WIRE + " Follow us for more.", at(1)))
    assert copy.dup_group_id == "a1" and copy.story_id == "a1"
    assert "a1" in worker_b  # loaded on demand
