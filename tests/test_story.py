"""Story membership (issue 18): against the story's members with a core guard, terms
weighted by the recent stream, follow-ups, headlines; and partial copies at the
containment threshold decided on the exact texts."""
import datetime as dt
import zlib

import numpy as np
import pytest

from dedupe import DedupeSettings
from dedupe.grouping import Deduper, DocumentRecord, cluster_records
from dedupe.story import headline, story_terms, weighted_jaccard, weighted_jaccard_scaled
from tests.test_dedupe import _paragraphs, _text

UTC = dt.timezone.utc


def at(hours: float) -> dt.datetime:
    return dt.datetime(2025, 3, 1, tzinfo=UTC) + dt.timedelta(hours=hours)


def text(words: list[str]) -> str:
    """One sentence per made-up word: the words are the only salient terms."""
    return " ".join(f"Officials said the {w} report was published." for w in words)


def retold(words: list[str]) -> str:
    """The same words in other sentences: another outlet's report, not a copy of the text."""
    return " ".join(f"Reporters noted that {w} came up again on Tuesday." for w in words)


def term(word: str) -> np.ndarray:
    return np.array([zlib.crc32(word.encode())], dtype=np.uint32)


def similarity(a: list[str], b: list[str]) -> float:
    return weighted_jaccard(*story_terms(None, text(a), None, 24), *story_terms(None, text(b), None, 24))


FIRST = [f"alpha{c}" for c in "abcdefghij"]  # the founding report's details
SECOND = FIRST[:5] + [f"beta{c}" for c in "abcde"]  # a second report: half the same details, half new
THIRD = FIRST[:1] + SECOND[5:] + [f"gamma{c}" for c in "abcdefg"]  # close to the second, little of the first
DRIFT = SECOND[5:] + [f"delta{c}" for c in "abcdefg"]  # close to the second, nothing of the first


def test_fixture_similarities_are_what_the_tests_need():
    threshold = DedupeSettings().story_threshold
    assert similarity(FIRST, SECOND) >= threshold
    assert threshold * DedupeSettings().story_core_fraction <= similarity(FIRST, THIRD) < threshold
    assert similarity(SECOND, THIRD) >= threshold and similarity(SECOND, DRIFT) >= threshold
    assert similarity(FIRST, DRIFT) < threshold * DedupeSettings().story_core_fraction  # the template's words only


def test_an_article_joins_through_the_member_it_matches_not_only_the_founder():
    deduper = Deduper()
    deduper.add(DocumentRecord("first", text(FIRST), at(0)))
    assert deduper.add(DocumentRecord("second", text(SECOND), at(2))).story_id == "first"
    third = deduper.add(DocumentRecord("third", text(THIRD), at(4)))
    assert third.story_id == "first"  # below the threshold against the founder, above against the second
    assert third.story_similarity == pytest.approx(similarity(SECOND, THIRD), abs=0.02)


def test_a_story_core_guards_against_drift():
    """The other side: close to a member but with nothing of the founder's core is another story."""
    deduper = Deduper()
    deduper.add(DocumentRecord("first", text(FIRST), at(0)))
    deduper.add(DocumentRecord("second", text(SECOND), at(2)))
    drift = deduper.add(DocumentRecord("drift", text(DRIFT), at(4)))
    assert drift.story_id == "drift"
    strict = Deduper(DedupeSettings(story_core_fraction=1.0))  # a stricter core turns the third away too
    strict.add(DocumentRecord("first", text(FIRST), at(0)))
    strict.add(DocumentRecord("second", text(SECOND), at(2)))
    assert strict.add(DocumentRecord("third", text(THIRD), at(4))).story_id == "third"


def test_members_count_only_within_the_window_of_the_new_article():
    deduper = Deduper(DedupeSettings(story_followup_factor=0))
    deduper.add(DocumentRecord("first", text(FIRST), at(0)))
    deduper.add(DocumentRecord("second", text(SECOND), at(2)))
    # 100 h after the second report: outside the window of every member, and follow-ups are off.
    assert deduper.assign(DocumentRecord("late", retold(SECOND), at(102))).story_id == "late"
    # The other side: 97 h after the founder but within 96 h of the second report, it joins.
    assert deduper.assign(DocumentRecord("close", retold(SECOND), at(97))).story_id == "first"


def test_follow_ups_join_on_strong_evidence_and_stay_bounded():
    deduper = Deduper()  # the default: follow-ups at twice the threshold (see DedupeSettings)
    deduper.add(DocumentRecord("first", text(FIRST), at(0)))
    # Six days later, the same people and details (similarity 0.38 >= 2 x 0.12): a follow-up.
    follow = deduper.add(DocumentRecord("follow", retold(SECOND), at(6 * 24)))
    assert follow.story_id == "first"
    # Weak evidence after the window is not enough: the third report scores 0.10 against the story.
    assert deduper.assign(DocumentRecord("weak", retold(FIRST[:2] + [f"eps{c}" for c in "abcdefghi"]),
                                         at(6 * 24 + 100))).story_id == "weak"
    # Beyond story_max_span_hours (240 h from the first report) nothing joins, however close.
    assert deduper.add(DocumentRecord("month", retold(FIRST), at(11 * 24))).story_id == "month"
    off = Deduper(DedupeSettings(story_followup_factor=0))  # 0 turns follow-ups off
    off.add(DocumentRecord("first", text(FIRST), at(0)))
    assert off.add(DocumentRecord("follow", retold(SECOND), at(6 * 24))).story_id == "follow"


def test_follow_ups_come_within_the_follow_up_span_of_the_first_report():
    late = DocumentRecord("late", retold(SECOND), at(7 * 24))  # a week on: past the 144 h follow-up span
    bounded = Deduper(DedupeSettings(story_followup_factor=2.0))
    bounded.add(DocumentRecord("first", text(FIRST), at(0)))
    assert bounded.assign(late).story_id == "late"
    # The other side: the same article joins when the follow-up span reaches it.
    wide = Deduper(DedupeSettings(story_followup_factor=2.0, story_followup_span_hours=240))
    wide.add(DocumentRecord("first", text(FIRST), at(0)))
    assert wide.assign(late).story_id == "first"


def test_a_same_topic_article_days_later_with_only_topic_words_is_no_follow_up():
    deduper = Deduper(DedupeSettings(story_followup_factor=2.0))
    deduper.add(DocumentRecord("first", text(FIRST), at(0)))
    # Three of the story's terms (its topic) and nothing else of it: the day after, that passes
    # the plain threshold; six days on, a follow-up needs twice the threshold.
    topic = FIRST[:3] + [f"zeta{c}" for c in "abcdefg"]
    assert deduper.assign(DocumentRecord("next day", retold(topic), at(24))).story_id == "first"
    assert deduper.assign(DocumentRecord("topic", retold(topic), at(6 * 24))).story_id == "topic"


def test_a_chain_of_follow_ups_does_not_grow_one_story_unbounded():
    deduper = Deduper(DedupeSettings(story_followup_factor=2.0))
    templates = ("Officials said the {} report was published.", "Reporters noted that {} came up again on Tuesday.",
                 "A spokesman confirmed {} late on Friday evening.", "Critics of the plan pointed to {} once more.",
                 "The agency's filing named {} among its findings.", "Analysts in the region expect {} to matter.")
    stories = []
    for i, template in enumerate(templates):  # every 5 days, the same details retold: each a follow-up of the last
        record = DocumentRecord(f"r{i}", " ".join(template.format(w) for w in FIRST), at(i * 5 * 24))
        stories.append(deduper.add(record).story_id)
    assert stories[1] == stories[0]  # 5 days on: a follow-up
    # No story reaches past the follow-up span of its first report: three stories of two, not one of six.
    assert stories == ["r0", "r0", "r2", "r2", "r4", "r4"]


def _topic_stream(deduper: Deduper, topic: str, count: int, hours: float) -> None:
    for i in range(count):  # reports of other events that all name the topic
        own = [f"own{i}x{c}" for c in "abcdefgh"]
        deduper.add(DocumentRecord(f"other{i}", text([topic, topic] + own), at(hours + i * 0.1)))


def test_terms_common_in_the_recent_stream_weigh_less():
    deduper = Deduper()
    _topic_stream(deduper, "quorvex", 20, 0)
    terms = np.sort(np.concatenate([term("zimbrel"), term("quorvex")]))
    factors = dict(zip(terms.tolist(), deduper._stream_factors_of(terms, at(3).timestamp()).tolist()))
    # 20 recent documents carry it, 5 would keep the full weight: 1 / (1 + 15 / 5).
    assert factors[int(term("quorvex")[0])] == pytest.approx(0.25)
    assert factors[int(term("zimbrel")[0])] == 1.0
    # Far from the stream's days, nothing is discounted.
    assert deduper._stream_factors_of(terms, at(24 * 30).timestamp()).tolist() == [1.0, 1.0]


def test_a_topic_word_everyone_uses_this_week_does_not_make_a_story():
    """Two reports of different events sharing the week's topic name and little else."""
    a_words = ["quorvex", "quorvex", "quorvex"] + [f"north{c}" for c in "abcdef"]
    b_words = ["quorvex", "quorvex", "quorvex"] + [f"south{c}" for c in "abcdef"]
    assert similarity(a_words, b_words) >= DedupeSettings().story_threshold  # on terms alone: one story
    quiet = Deduper()
    quiet.add(DocumentRecord("a", text(a_words), at(1)))
    assert quiet.add(DocumentRecord("b", text(b_words), at(2))).story_id == "a"
    busy = Deduper()
    _topic_stream(busy, "quorvex", 30, 0)
    busy.add(DocumentRecord("a", text(a_words), at(5)))
    assert busy.add(DocumentRecord("b", text(b_words), at(6))).story_id == "b"


def test_copies_count_once_in_the_stream():
    deduper = Deduper()
    for i in range(12):  # one text republished 12 times is one document of the stream
        deduper.add(DocumentRecord(f"copy{i}", text(["quorvex"] * 3 + [f"north{c}" for c in "abcdef"]), at(i)))
    assert deduper._stream_factors_of(term("quorvex"), at(3).timestamp()).tolist() == [1.0]


def test_headline_drops_the_outlet_and_section_names():
    assert headline("Sweden drops Assange rape investigation | Al Bawaba") == "Sweden drops Assange rape investigation"
    assert headline("Opinion | Republicans Are Following Trump to Nowhere") == "Republicans Are Following Trump to Nowhere"
    assert headline("WeWork to lay off staff – TechCrunch") == "WeWork to lay off staff"
    assert headline("Spider-Man returns to cinemas") == "Spider-Man returns to cinemas"  # no spaced separator
    assert headline(None) == ""
    # The outlet's name is not a story term; the headline's words are, doubled.
    terms = story_terms("Harbour strike ends | Zorblatt Gazette", "Dockers returned to work.", "en", 24)[0]
    assert story_terms("Harbour strike ends", "Dockers returned to work.", "en", 24)[0].tolist() == terms.tolist()


# --- partial copies at the containment threshold -----------------------------------------

FULL = _paragraphs(11, 10)
# Nine of its ten paragraphs and three new ones: exact containment 0.899, MinHash estimate 0.879.
TRIMMED = _text(FULL[:9] + _paragraphs(23, 3))
AT_THRESHOLD = DedupeSettings(containment_threshold=0.89)


def test_a_partial_copy_estimated_a_hair_under_the_threshold_joins_on_its_exact_containment():
    texts = {"full": _text(FULL)}
    calls = []

    def text_of(key):
        calls.append(key)
        return texts.get(key)

    estimated = Deduper(AT_THRESHOLD)  # no text source: the estimate (0.879 < 0.89) decides
    estimated.add(DocumentRecord("full", _text(FULL), at(0)))
    assert estimated.add(DocumentRecord("trimmed", TRIMMED, at(1))).dup_group_id == "trimmed"
    exact = Deduper(AT_THRESHOLD, text_of=text_of)
    exact.add(DocumentRecord("full", _text(FULL), at(0)))
    joined = exact.add(DocumentRecord("trimmed", TRIMMED, at(1)))
    assert joined.dup_group_id == "full" and calls == ["full"]
    assert joined.similarity == pytest.approx(0.69, abs=0.01)  # the exact Jaccard, no longer the estimate


def test_exact_containment_below_the_threshold_keeps_a_text_out_and_far_candidates_cost_nothing():
    calls = []
    texts = {"full": _text(FULL)}
    deduper = Deduper(DedupeSettings(containment_threshold=0.9), text_of=lambda k: calls.append(k) or texts.get(k))
    deduper.add(DocumentRecord("full", _text(FULL), at(0)))
    assert deduper.add(DocumentRecord("trimmed", TRIMMED, at(1))).dup_group_id == "trimmed"  # exact 0.899 < 0.9
    assert calls == ["full"]
    calls.clear()
    deduper.add(DocumentRecord("other", _text(_paragraphs(40, 10)), at(3)))  # unrelated: no text needed
    assert calls == []


def test_a_missing_stored_text_keeps_the_estimate():
    deduper = Deduper(AT_THRESHOLD, text_of=lambda key: None)
    deduper.add(DocumentRecord("full", _text(FULL), at(0)))
    assert deduper.add(DocumentRecord("trimmed", TRIMMED, at(1))).dup_group_id == "trimmed"


def test_cluster_records_checks_exact_containment_on_the_batch_texts():
    result = cluster_records([DocumentRecord("full", _text(FULL), at(0)), DocumentRecord("trimmed", TRIMMED, at(1))],
                             AT_THRESHOLD)
    assert result[1].dup_group_id == "full"


# --- the crawl's store gives the Deduper the stored texts ---------------------------------

@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request):
    from models.db import make_engine, upgrade

    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _save(store, n: int, paragraphs: list[str], hours: float):
    from crawler.page.extract import ExtractedArticle

    article = ExtractedArticle(title=f"Report {n}", authors=[], published_at=at(hours), language="en",
                               text="\n".join(paragraphs), canonical_url=None, site_name=None, blocks=paragraphs)
    html = "<html><body><article>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "</article></body></html>"
    return store.save(url=f"http://s{n}.example/a", canonical_url=f"http://s{n}.example/a", site=f"s{n}.example",
                      article=article, raw_body=html.encode(), encoding="utf-8", fetched_at=at(hours))


def test_store_decides_a_partial_copy_at_the_threshold_on_the_stored_texts(engine):
    from crawler.store.articles import ArticleStore

    store = ArticleStore(engine, AT_THRESHOLD)
    first = _save(store, 1, FULL, 0)
    trimmed = _save(store, 2, FULL[:9] + _paragraphs(23, 3), 1)
    assert trimmed.outcome == "new" and trimmed.dup_group_id == first.article_id
    # A restarted crawl rebuilds its index from the database and still reads the texts.
    again = ArticleStore(engine, AT_THRESHOLD)
    third = _save(again, 3, FULL[:9] + _paragraphs(24, 3), 2)
    assert third.dup_group_id == first.article_id


def test_reports_of_one_event_share_a_headline_word():
    """Same details in the text; headlines decide: sharing a salient word, one story; none, two."""
    deduper = Deduper()
    deduper.add(DocumentRecord("first", text(FIRST), at(0), title="Harbour strike ends after Kessler deal"))
    assert deduper.assign(DocumentRecord("same", retold(SECOND), at(2),
                                         title="Dockers back at work as Kessler deal ends strike")).story_id == "first"
    assert deduper.assign(DocumentRecord("other", retold(SECOND), at(2),
                                         title="Mayor announces budget review")).story_id == "other"
    # Without a title on either side the headline test does not apply: the terms decide.
    assert deduper.assign(DocumentRecord("untitled", retold(SECOND), at(2))).story_id == "first"
    off = Deduper(DedupeSettings(story_headline_overlap=False))
    off.add(DocumentRecord("first", text(FIRST), at(0), title="Harbour strike ends after Kessler deal"))
    assert off.assign(DocumentRecord("other", retold(SECOND), at(2),
                                     title="Mayor announces budget review")).story_id == "first"


def test_headline_terms_ignore_the_outlet_and_everyday_words():
    from dedupe.story import headline_terms

    assert headline_terms(None, "en") is None and headline_terms("  ", "en") is None
    with_outlet = headline_terms("Kessler deal ends harbour strike | Zorblatt Gazette", "en")
    assert with_outlet.tolist() == headline_terms("Kessler deal ends harbour strike", "en").tolist()
    assert int(term("zorblatt")[0]) not in with_outlet.tolist()
    assert int(term("the")[0]) not in headline_terms("The deal and the strike", "en").tolist()


def test_scaled_jaccard_is_the_plain_one_with_unit_factors_and_discounts_shared_topic_terms():
    from dedupe.story import weighted_jaccard_scaled

    a = story_terms(None, text(FIRST), None, 24)
    b = story_terms(None, text(SECOND), None, 24)
    ones = np.ones(len(a[0]), dtype=np.float32)
    assert weighted_jaccard_scaled(a[0], a[1], ones, *b) == pytest.approx(weighted_jaccard(*a, *b), rel=1e-6)
    shared = np.isin(a[0], b[0])
    discounted = np.where(shared, 0.2, 1.0).astype(np.float32)  # every shared term is this week's topic
    assert weighted_jaccard_scaled(a[0], a[1], discounted, *b) < weighted_jaccard(*a, *b) / 2


def test_the_stream_keeps_its_newest_buckets_and_late_old_articles_do_not_evict_them():
    from dedupe.grouping import _STREAM_BUCKETS

    deduper = Deduper()
    week = DedupeSettings().story_window_hours
    for i in range(_STREAM_BUCKETS + 3):
        deduper.add(DocumentRecord(f"d{i}", text([f"word{i}x{c}" for c in "abc"]), at(i * week)))
    kept = sorted(deduper._stream)
    assert len(kept) == _STREAM_BUCKETS and kept[-1] == deduper._bucket(at((_STREAM_BUCKETS + 2) * week).timestamp())
    deduper.add(DocumentRecord("late", text(["latecomer"]), at(-10 * week)))
    assert sorted(deduper._stream) == kept


# --- event evidence over topic evidence -------------------------------------------------

def test_names_are_words_written_with_a_capital_and_never_in_lower_case_or_in_addresses():
    from dedupe.story import _names

    names = _names("Employees met Zorblatt staff. The employees of WeWork said the Hong Kong office was calm. "
                   "Copyright venturebeat.com, follow @Kessler and #harbourstrike.")
    assert {"zorblatt", "wework", "hong", "kong", "venturebeat", "kessler", "harbourstrike"} <= names
    assert "employees" not in names  # capitalised only where a sentence starts
    assert "the" not in names


def test_the_title_outlet_words_are_not_story_terms():
    body = "Dockers returned to work on the quay. Copyright Zorblatt Gazette, all rights reserved."
    terms = story_terms("Harbour strike ends | Zorblatt Gazette", body, "en", 24)[0].tolist()
    assert int(term("zorblatt")[0]) not in terms
    assert int(term("zorblatt")[0]) in story_terms("Harbour strike ends", body, "en", 24)[0].tolist()
    assert int(term("dockers")[0]) in terms


def test_a_contraction_piece_is_as_common_as_its_word_not_a_rare_name():
    from dedupe.story import _rarity_table

    rarity = _rarity_table("en")
    # tokens() splits "shouldn't" into "shouldn" + "t"; wordfreq knows only the whole word.
    assert rarity["shouldn"] < 1.0 and rarity["hasn"] < 1.0 and rarity["isn"] < 1.0
    title = "Harbour strike: why you shouldn't worry"
    body = "Dockers returned to the Zorblatt quay. The strike hasn't hurt exports, and it isn't over."
    terms = story_terms(title, body, "en", 24)[0].tolist()
    assert int(term("dockers")[0]) in terms and int(term("zorblatt")[0]) in terms
    weights = dict(zip(*[a.tolist() for a in story_terms(title, body, "en", 24)]))
    assert weights.get(int(term("shouldn")[0]), 0.0) < weights[int(term("dockers")[0])]


def test_ordinals_are_event_details_and_other_digit_words_are_not_terms():
    body = "The band announced its 50th anniversary tour. The show runs at 60fps in 1080p from 5pm."
    terms = story_terms(None, body, "en", 24)[0].tolist()
    assert int(term("50th")[0]) in terms
    assert not {int(term(w)[0]) for w in ("60fps", "1080p", "5pm")} & set(terms)


def test_headline_phrases_join_words_the_text_writes_together():
    from dedupe.story import headline_phrases, headline_terms
    from dedupe.signature import tokens

    title = "Hong Kong police besiege Polytechnic campus"
    body = tokens("Police in Hong Kong surrounded the campus. Hong Kong students stayed inside. "
                  "The Polytechnic said police fired teargas.")
    heads = headline_terms(title, "en")
    phrase = dict(zip(heads.tolist(), headline_phrases(title, heads, body).tolist()))
    number = {w: phrase[int(term(w)[0])] for w in ("hong", "kong", "polytechnic", "besiege")}
    assert number["hong"] == number["kong"]  # one name, always written together
    assert len({number["hong"], number["polytechnic"], number["besiege"]}) == 3  # neighbours, not a fixed phrase


NAMES = ["Zorblatt", "Kesslerov", "Marbury", "Quindle", "Trevanne"]


def named(names: list[str], words: list[str]) -> str:
    """Sentences of everyday words: the names and the made-up words are the only salient terms."""
    return " ".join(f"And there is {n} here." for n in names) + " " + " ".join(f"And it is {w} now." for w in words)


def test_reports_that_share_only_names_are_one_topic_not_one_event():
    """Same people, nothing else in common: two events. Same people and what happened: one."""
    first = named(NAMES, [f"alpha{c}" for c in "abcde"])
    settings = DedupeSettings(story_headline_overlap=False)
    names_only = Deduper(settings)
    names_only.add(DocumentRecord("first", first, at(0)))
    other = named(NAMES, [f"beta{c}" for c in "abcde"])
    sig_first, sig_other = names_only.signature(DocumentRecord("a", first)), names_only.signature(DocumentRecord("b", other))
    assert weighted_jaccard(sig_first.terms, sig_first.weights, sig_other.terms, sig_other.weights) >= 0.2
    assert names_only.assign(DocumentRecord("other", other, at(2))).story_id == "other"
    event = named(NAMES, ["alphaa", "alphab"] + [f"beta{c}" for c in "abc"])
    assert names_only.assign(DocumentRecord("event", event, at(2))).story_id == "first"
    off = Deduper(DedupeSettings(story_headline_overlap=False, story_specific_share=0.0))
    off.add(DocumentRecord("first", first, at(0)))
    assert off.assign(DocumentRecord("other", other, at(2))).story_id == "first"


def test_headlines_sharing_one_name_need_stronger_evidence_than_headlines_sharing_more():
    settings = DedupeSettings()
    fewer = FIRST[:2] + [f"beta{c}" for c in "abcdefgh"]  # two details of ten in common
    assert settings.story_threshold <= similarity(FIRST, fewer) < settings.story_threshold * settings.story_one_phrase_factor
    deduper = Deduper(settings)
    deduper.add(DocumentRecord("first", text(FIRST), at(0), title="Kesslerov dockers walk out over pay"))
    one_name = DocumentRecord("one-name", retold(fewer), at(2), title="Kesslerov board resigns")
    assert deduper.assign(one_name).story_id == "one-name"
    more = DocumentRecord("more", retold(fewer), at(2), title="Kesslerov dockers end walk-out")
    assert deduper.assign(more).story_id == "first"
    off = Deduper(DedupeSettings(story_one_phrase_factor=1.0))
    off.add(DocumentRecord("first", text(FIRST), at(0), title="Kesslerov dockers walk out over pay"))
    assert off.assign(one_name).story_id == "first"


def test_a_single_article_story_is_adopted_by_the_story_a_later_report_shows_it_belongs_to():
    """x and y share no headline word, so y cannot join x; z matches both: x moves into z's story,
    with its republished copies. A story of two reports never moves (that would merge topics)."""
    x = DocumentRecord("x", text(FIRST), at(0), title="Harbour strike ends")
    y = DocumentRecord("y", retold(SECOND), at(1), title="Kesslerov deal signed")
    z = DocumentRecord("z", " ".join(f"Unions confirmed {w} late on Monday." for w in SECOND),
                       at(2), title="Harbour strike ends as Kesslerov deal signed")
    stories = {a.key: a.story_id for a in cluster_records([x, y, z])}
    assert stories == {"x": "y", "y": "y", "z": "y"}
    deduper = Deduper()
    deduper.add(x)
    deduper.add(y)
    assignment = deduper.add(z)
    assert assignment.story_id == "y" and assignment.adopted == ("x",) and deduper.story_of("x") == "y"
    off = {a.key: a.story_id for a in cluster_records([x, y, z], DedupeSettings(story_adopt_singles=False))}
    assert off == {"x": "x", "y": "y", "z": "y"}
    # x with a copy is still one article: both move.
    copy = DocumentRecord("x-copy", text(FIRST), at(0.5), title="Harbour strike ends")
    moved = {a.key: a.story_id for a in cluster_records([x, copy, y, z])}
    assert moved == {"x": "y", "x-copy": "y", "y": "y", "z": "y"}
    deduper = Deduper()
    for record in (x, copy, y):
        deduper.add(record)
    assert deduper.add(z).adopted == ("x",) and deduper.story_of("x-copy") == "y"
    # x with a second report is a story of two: it stays.
    report = DocumentRecord("x-report", retold(FIRST), at(0.5), title="Harbour strike ends")
    kept = {a.key: a.story_id for a in cluster_records([x, report, y, z])}
    assert kept["x"] == kept["x-report"] == "x" and kept["z"] == "y"


def test_store_moves_an_adopted_single_article_story(engine):
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from crawler.page.extract import ExtractedArticle
    from crawler.store.articles import ArticleStore
    from models.article import Article, ArticleSignature

    def save(store, n, title, body, hours):
        paragraphs = [body]
        article = ExtractedArticle(title=title, authors=[], published_at=at(hours), language="en", text=body,
                                   canonical_url=None, site_name=None, blocks=paragraphs)
        html = f"<html><body><article><p>{body}</p></article></body></html>"
        return store.save(url=f"http://t{n}.example/a", canonical_url=f"http://t{n}.example/a", site=f"t{n}.example",
                          article=article, raw_body=html.encode(), encoding="utf-8", fetched_at=at(hours))

    store = ArticleStore(engine, DedupeSettings())
    x = save(store, 1, "Harbour strike ends", text(FIRST), 0)
    copy = save(store, 4, "Harbour strike ends", text(FIRST) + " Subscribe for more.", 0.5)
    assert copy.dup_group_id == copy.story_id == x.article_id
    y = save(store, 2, "Kesslerov deal signed", retold(SECOND), 1)
    assert y.story_id == y.article_id  # no headline word in common with x
    z = save(store, 3, "Harbour strike ends as Kesslerov deal signed",
             " ".join(f"Unions confirmed {w} late on Monday." for w in SECOND), 2)
    assert z.story_id == y.article_id
    with Session(engine) as session:
        stories = dict(session.execute(select(Article.id, Article.story_id)).all())
        signed = dict(session.execute(select(ArticleSignature.article_id, ArticleSignature.story_id)).all())
    everyone = {x.article_id, copy.article_id, y.article_id, z.article_id}
    # x moves with its copy, and their stored signatures with them (the history reloads stories from those).
    assert stories == signed == dict.fromkeys(everyone, y.article_id)


def test_rarity_table_answers_as_the_dict_it_was_built_from_and_stays_in_its_process():
    import pickle

    import pytest

    from dedupe.story import RarityTable

    words = {"harbour": 2.5, "the": 0.0, "zorblatt": 4.75, "quay": 3.25}
    table = RarityTable(words)
    assert len(table) == 4
    assert table.lookup(["quay", "unknown", "the", "harbour", "zorblatt"], 9.0) == [3.25, 9.0, 0.0, 2.5, 4.75]
    assert table["zorblatt"] == 4.75
    with pytest.raises(KeyError):
        table["unknown"]
    assert RarityTable({}).lookup(["a", "b"], 1.5) == [1.5, 1.5]
    with pytest.raises(TypeError):  # keyed by this process's salted str hashes
        pickle.dumps(table)


def test_headlines_whose_numbers_differ_need_stronger_evidence_and_updates_still_join():
    """"13-inch ... keyboard" and "16-inch ... keyboard": the shared words name a kind of thing,
    the numbers pick two. On the evidence a headline sharing more would need, they stay apart;
    on strong evidence (a count updated, 12 dead then 20) they join, and the same number joins."""
    settings = DedupeSettings()
    fewer = FIRST[:2] + [f"beta{c}" for c in "abcdefgh"]
    assert settings.story_threshold <= similarity(FIRST, fewer) < settings.story_threshold * settings.story_one_phrase_factor

    def first() -> Deduper:
        deduper = Deduper(settings)
        deduper.add(DocumentRecord("first", text(FIRST), at(0), title="13-inch Zorblatt laptop keyboard expected"))
        return deduper

    other = DocumentRecord("other", retold(fewer), at(2), title="16-inch Zorblatt laptop keyboard review")
    assert first().assign(other).story_id == "other"
    same = DocumentRecord("same", retold(fewer), at(2), title="13-inch Zorblatt laptop keyboard review")
    assert first().assign(same).story_id == "first"
    update = DocumentRecord("update", retold(FIRST), at(2), title="16-inch Zorblatt laptop keyboard review")
    assert first().assign(update).story_id == "first"
    no_number = DocumentRecord("plain", retold(fewer), at(2), title="Zorblatt laptop keyboard review")
    assert first().assign(no_number).story_id == "first"  # one side without a number: nothing conflicts


def test_headlines_sharing_one_name_need_more_than_names_in_the_text():
    """A headline link of one name, and texts that share the same people and one detail: one
    topic. The same texts under headlines that share more are one event."""
    cast = NAMES + ["Ostrava", "Pellucid", "Varnhold"]
    first = named(cast, [f"alpha{c}" for c in "abcde"])
    other = named(cast, ["alphaa"] + [f"beta{c}" for c in "abcd"])
    deduper = Deduper()
    sig_a = deduper.signature(DocumentRecord("a", first))
    sig_b = deduper.signature(DocumentRecord("b", other))
    share = Deduper._specific_share(sig_b.terms, sig_b.weights, np.ones(len(sig_b.terms), dtype=np.float32),
                                    sig_a.terms, sig_a.weights, sig_b.names)
    settings = DedupeSettings()
    assert settings.story_specific_share <= share < settings.story_specific_share * settings.story_one_phrase_factor
    assert weighted_jaccard(sig_a.terms, sig_a.weights, sig_b.terms, sig_b.weights) >= (
        settings.story_threshold * settings.story_one_phrase_factor)
    deduper.add(DocumentRecord("first", first, at(0), title="Zorblatt dockers walk out over pay"))
    assert deduper.assign(DocumentRecord("one-name", other, at(2), title="Zorblatt board resigns")).story_id == "one-name"
    more = DocumentRecord("more", other, at(2), title="Zorblatt dockers end walk out")
    assert deduper.assign(more).story_id == "first"


def test_a_headline_word_the_text_never_uses_is_not_evidence_of_what_happened():
    from dedupe.story import story_terms_and_names

    body = "The dockers voted on Monday. Dockers at the quay said the vote was close."
    terms, _, is_name = story_terms_and_names("[Quindlewort Series] Dockers vote", body, "en", 24)
    kind = dict(zip(terms.tolist(), is_name.tolist()))
    assert kind[int(term("quindlewort")[0])]  # a series label, or a word of unknown kind
    assert not kind[int(term("dockers")[0])]  # the text writes it in lower case: what happened


def test_words_only_in_a_paragraph_off_the_subject_weigh_half():
    from dedupe.story import _isolated_words

    on = ("Zorblatt dockers walked out at the Kesslerov quay.\n\nThe Kesslerov quay stood idle as Zorblatt "
          "talks stalled.\n\nZorblatt said the Kesslerov walk-out would end soon.")
    teaser = "\n\nQuindlewort festival opens with marmoset parade."
    weights = dict(zip(*[a.tolist() for a in story_terms(None, on + teaser, "en", 24)]))
    tied = dict(zip(*[a.tolist() for a in story_terms(
        None, on + "\n\nQuindlewort festival opens at the Kesslerov quay with marmoset parade.", "en", 24)]))
    quindlewort, zorblatt = int(term("quindlewort")[0]), int(term("zorblatt")[0])
    assert weights[quindlewort] == pytest.approx(tied[quindlewort] / 2)
    assert weights[zorblatt] == pytest.approx(tied[zorblatt])
    assert _isolated_words("Quindlewort festival.\n\nZorblatt dockers.", {"quindlewort": 4.5, "zorblatt": 4.5}) == set()


def test_a_strong_headline_link_wins_over_a_stronger_text_on_one_name_and_one_name_is_not_adopted():
    """z's text matches x and y alike; its headline shares one name with x and the event with y.
    z joins y's story, and x (reached on one name only) is not moved into it."""
    x = DocumentRecord("x", text(FIRST), at(0), title="Kesslerov board resigns")
    y = DocumentRecord("y", retold(FIRST), at(1), title="Harbour strike ends")
    z = DocumentRecord("z", " ".join(f"Unions confirmed {w} late on Monday." for w in FIRST), at(2),
                       title="Harbour strike ends at Kesslerov")
    deduper = Deduper()
    deduper.add(x)
    assert deduper.add(y).story_id == "y"  # no headline word in common: two stories
    assignment = deduper.add(z)
    assert assignment.story_id == "y" and assignment.adopted == () and deduper.story_of("x") == "x"


def _three_reports(shared_with_first: int) -> dict[str, DocumentRecord]:
    """x and y share one name in their headlines (Zorblatt) and ``shared_with_first`` details;
    z's headline shares one word with x's (quay) and the event with y's (Kesslerov envoy), and
    its text has the details of both: the shape of three outlets' reports of one visit."""
    second = FIRST[:shared_with_first] + [f"beta{c}" for c in "abcdefghij"][:10 - shared_with_first]
    third = " ".join(f"Witnesses described {w} to the press on Monday." for w in FIRST + second[shared_with_first:])
    return {"x": DocumentRecord("x", text(FIRST), at(0), title="Zorblatt quay talks stall"),
            "y": DocumentRecord("y", retold(second), at(1), title="Kesslerov envoy backs Zorblatt"),
            "z": DocumentRecord("z", third, at(2), title="Kesslerov envoy arrives at quay")}


@pytest.mark.parametrize("order", ["xyz", "yxz", "xzy", "zxy"])
def test_a_single_reached_on_one_headline_word_is_adopted_when_it_stands_against_the_core(order):
    """x and y alone share one name in their headlines and too little text for that weak link;
    z matches x on its weak link's stronger evidence and y on the event. Whatever the order of
    arrival, the three are one story: had x come after z, it would have joined through z."""
    reports = _three_reports(shared_with_first=2)
    settings = DedupeSettings()
    sig = {k: Deduper().signature(r) for k, r in reports.items()}
    xy = weighted_jaccard(sig["x"].terms, sig["x"].weights, sig["y"].terms, sig["y"].weights)
    assert settings.story_threshold <= xy < settings.story_threshold * settings.story_one_phrase_factor
    deduper = Deduper(settings)
    for key in order:
        deduper.add(reports[key])
    assert len({deduper.story_of(k) for k in reports}) == 1


def test_a_single_reached_on_one_headline_word_is_not_adopted_when_only_the_new_article_bridges_it():
    """The other side: x shares the name in y's headline but under the threshold of text with
    y, the story's core; z alone bridges them on one headline word. x stays a story of its own
    (a strong link would adopt it at ``story_core_fraction`` of the threshold)."""
    reports = _three_reports(shared_with_first=0)
    settings = DedupeSettings()
    sig = {k: Deduper().signature(r) for k, r in reports.items()}
    xy = weighted_jaccard(sig["x"].terms, sig["x"].weights, sig["y"].terms, sig["y"].weights)
    assert settings.story_threshold * settings.story_core_fraction <= xy < settings.story_threshold
    deduper = Deduper(settings)
    for key in "xyz":
        deduper.add(reports[key])
    assert deduper.story_of("z") == deduper.story_of("y") != deduper.story_of("x")


def test_a_one_name_headline_link_needs_text_evidence_beyond_the_name():
    """A company's name, repeated in both texts and in both titles, is the heaviest term of
    every report on it: alone it lifts two of its events over a weak link's stronger bar.
    Without the shared headline name the texts must still reach the threshold."""
    def report(key: str, words: list[str], hours: float, title: str, template: str) -> DocumentRecord:
        body = " ".join(template.format(w) for w in words)
        return DocumentRecord(key, body + " Zorblatt said. Zorblatt added. A Zorblatt spokesman agreed.", at(hours),
                              title=title)

    first = report("first", FIRST, 0, "Zorblatt dockers walk out over pay", "Officials said the {} report was published.")
    settings = DedupeSettings()
    for shared, joins in ((2, False), (4, True)):
        words = FIRST[:shared] + [f"beta{c}" for c in "abcdefghij"][: 10 - shared]
        other = report("other", words, 2, "Zorblatt board resigns", "Reporters noted that {} came up again on Tuesday.")
        deduper = Deduper(settings)
        a, b = deduper.signature(first), deduper.signature(other)
        ones = np.ones(len(b.terms), dtype=np.float32)
        assert weighted_jaccard_scaled(b.terms, b.weights, ones, a.terms, a.weights) >= (
            settings.story_threshold * settings.story_one_phrase_factor)
        without_name = weighted_jaccard_scaled(b.terms, b.weights, ones, a.terms, a.weights,
                                               not_evidence=term("zorblatt"))
        assert (without_name >= settings.story_threshold) == joins
        deduper.add(first)
        assert (deduper.assign(other).story_id == "first") == joins
