"""The dedupe index on the real Redis (datasketch's Redis storage), as workers share it."""
import datetime as dt

from dedupe import DedupeSettings
from dedupe.grouping import Deduper, DocumentRecord, cluster_records
from tests.helpers import seed_texts
from tests.test_dedupe import ARTICLE, SEED_DATES, WIRE, _text, at


def _records():
    records = [DocumentRecord(k, v, dt.datetime.fromisoformat(SEED_DATES[k])) for k, v in seed_texts().items()]
    records += [DocumentRecord("wire", WIRE, at(0)), DocumentRecord("wire-copy", "Updated: " + WIRE, at(5))]
    # A partial copy (6 of 10 paragraphs, hours later) and an excerpt (3 of 10) that is not one.
    records += [DocumentRecord("long", _text(ARTICLE), at(0)), DocumentRecord("trimmed", _text(ARTICLE[:6]), at(3)),
                DocumentRecord("excerpt", _text(ARTICLE[:3]), at(4))]
    return records


def test_redis_index_groups_like_the_memory_index(redis_storage):
    records = _records()
    memory = {a.key: (a.dup_group_id, a.story_id) for a in cluster_records(records)}
    redis = {a.key: (a.dup_group_id, a.story_id)
             for a in cluster_records(records, DedupeSettings(storage=redis_storage))}
    assert redis == memory
    assert memory["wire-copy"][0] == "wire"
    assert memory["trimmed"][0] == "long" and memory["excerpt"][0] == "excerpt"
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


def test_redis_keys_carry_the_band_layout(redis_storage):
    """Band tables of another layout (e.g. before a settings change) are never queried with this one."""
    import redis

    cluster_records(_records()[:2], DedupeSettings(storage=redis_storage))
    client = redis.Redis(host=redis_storage["redis"]["host"], port=redis_storage["redis"]["port"])
    keys = {k for k in client.scan_iter(match=redis_storage["basename"] + b"*")}
    client.close()
    assert any(k.startswith(redis_storage["basename"] + b":dup:32x4") for k in keys)
    assert any(k.startswith(redis_storage["basename"] + b":story:16x1") for k in keys)
