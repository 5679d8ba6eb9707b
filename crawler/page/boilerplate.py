"""Boilerplate inside the article container: generic rules and site-level blocks.

trafilatura removes the page chrome but keeps what sits inside the article
body: donation appeals, newsletter boxes, "Read also" lines, share prompts,
domain notices. Two mechanisms remove them:

- generic rules (this module): line patterns of the common families, for a
  site's first pages, before anything has been learned about it;
- site-level learning (crawler.store.learning): blocks that recur across distinct
  pages of one site are that site's template, whatever their wording.

Both work on *blocks*: the paragraphs/lines of trafilatura's text output.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

_SPACE = re.compile(r"\s+")
_DIGITS = re.compile(r"\d+")
_PUNCT = re.compile(r"[^\w\s]")


# Blocks of at most this many words have their numbers folded. Counters and stamps
# in a template are short ("12 comments", "Updated 3 hours ago", "Photo 2 of 9");
# in a longer block the numbers are its content: serial reports, market and sports
# results, weather and earnings reports repeat whole sentences with new figures,
# and folding them made those sentences one "boilerplate" block across the site.
MAX_FOLDED_WORDS = 6


def normalise_block(block: str) -> str:
    """The block's identity across pages: case, spacing and punctuation folded, and
    in short blocks numbers too, so "12 comments" and "3 comments" are one block."""
    text = unicodedata.normalize("NFKC", block).lower()
    if len(text.split()) <= MAX_FOLDED_WORDS:
        text = _DIGITS.sub("0", text)
    return _SPACE.sub(" ", _PUNCT.sub(" ", text)).strip()


def block_hash(block: str) -> str:
    return hashlib.blake2b(normalise_block(block).encode(), digest_size=8).hexdigest()


def split_blocks(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@dataclass(frozen=True)
class Removal:
    reason: str  # "generic:<family>" or "learned"
    text: str

    def as_dict(self) -> dict:
        return {"reason": self.reason, "text": self.text[:300]}


# --- generic rules ------------------------------------------------------------
# Each family is a list of patterns matched against one block. A pattern must
# describe the *kind* of text (its function on the page), never a particular
# site's wording. Patterns anchored at ^ only fire when the block starts that
# way; unanchored ones are phrases that do not occur in news prose.

_I = re.IGNORECASE
# The headings of a box of links to other stories, alone on their line (a "related" family rule).
_BOX_HEADINGS = [
    re.compile(r"^(?:related|recommended|trending)(?: (?:articles?|stories|news|searches|topics))?:?$", _I),
    re.compile(r"^you (?:may|might) (?:also )?(?:like|enjoy)\W{0,3}$", _I),  # a recommendations box's heading
    re.compile(r"^(?:read more|see more|see also|more from|don'?t miss|most read|most popular|watch|listen)\W{0,3}$", _I),
]
GENERIC_RULES: dict[str, list[re.Pattern]] = {
    "appeal": [
        re.compile(r"^(?:a )?(?:message|note|letter) from (?:the )?[\w .'’-]{2,40}:?$", _I),
        re.compile(r"^dear (?:readers?|friends|subscribers)\b[,!:]?", _I),
        re.compile(r"\b(?:please )?(?:support|donate to|contribute to) (?:us|our (?:work|journalism|newsroom|reporting)|independent journalism)\b", _I),
        re.compile(r"\b(?:your|a) (?:support|donation|contribution),? (?:no matter how small|of any size|today)\b", _I),
        re.compile(r"\b(?:make|become) a (?:one[- ]time|monthly|recurring|regular) (?:donation|contribution|supporter|donor)\b", _I),
        re.compile(r"^not ready to (?:support|donate|subscribe)\b", _I),
        re.compile(r"^(?:remind me later|maybe later|no,? thanks?)\.?$", _I),
        re.compile(r"^(?:support|donate|contribute|become a (?:member|supporter|patron))(?: (?:now|today|us|here))?[.!]?$", _I),
        re.compile(r"\bwe need your (?:help|support)\b", _I),
        re.compile(r"\b(?:support|fund) (?:our|independent|quality) (?:journalism|reporting|work)\b", _I),
        re.compile(r"^if you (?:enjoyed|liked|value|appreciate) (?:this|our)\b", _I),
        re.compile(r"\b(?:become|join as) a (?:member|subscriber|patron)\b", _I),
    ],
    "newsletter": [
        re.compile(r"\b(?:sign up|subscribe)(?: now)? (?:to|for) (?:our|the|my)\b.{0,60}\b(?:newsletter|digest|briefing|bulletin|mailing list|updates)\b", _I),
        re.compile(r"\b(?:newsletter|briefing|digest)\b.{0,60}\b(?:in|to) your inbox\b", _I),
        re.compile(r"\b(?:in|to|into) your inbox\b", _I),
        re.compile(r"^(?:enter|type) your e-?mail(?: address)?\b", _I),
        re.compile(r"^(?:subscribe|sign up|join)(?: now| here| today)?[.!]?$", _I),
        re.compile(r"^.{0,120}\b(?:sign(?:ing)? up|subscribe|subscribing|subscription)\b.{0,80}\b(?:newsletter|inbox|e-?mail alerts?|updates)\b.{0,60}$", _I),
        re.compile(r"^thanks? (?:you )?for (?:signing up|subscribing)", _I),
        re.compile(r"^keep an eye on your inbox", _I),
    ],
    "related": [
        re.compile(r"^(?:read|see|watch|listen)(?: also| more| next| too)\b\s*[:\-–—]?", _I),
        re.compile(r"^also (?:read|see|watch)\b\s*[:\-–—]?", _I),
        # "Also on example.com: <headline>", a cross-promotion of the site's own story
        re.compile(r"^(?:also|more) on (?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,12}\b", _I),
        re.compile(r"^(?:tags?|topics?|filed under|categories|more about)\s*:?$", _I),
        # the story's tag line: "Topics: uber, libertarians, Sydney", "Filed under: Politics |"
        re.compile(r"^(?:tags?|topics?|filed under|categories)\s*:\s*[^.!?]{1,200}$", _I),
        *_BOX_HEADINGS,
        re.compile(r"^(?:related|recommended|more on this(?: story| topic)?|more from [\w ]{2,30}|you (?:may|might) also like|further reading)(?: articles?| posts?| stories| coverage| reading| content)?\s*[:\-–—]", _I),
    ],
    "share": [
        re.compile(r"^(?:share|tweet|email|print|post)(?: (?:this|it))?(?: (?:article|story|post|page))?(?: (?:on|via|with))?\b[\w ,|/:]{0,60}$", _I),
        re.compile(r"^(?:you can )?share this (?:article|story|post)\b.{0,60}$", _I),
        re.compile(r"^(?:like|liked|enjoy|enjoyed|love|loved) this (?:article|story|post|piece)\?.{0,80}\b(?:share|send|forward|tell)\b.{0,60}$", _I),
        re.compile(r"^follow (?:us|[\w .'’-]{2,40}) on (?:twitter|x|telegram|facebook|instagram|google news|whatsapp|linkedin|youtube|threads|bluesky)\b.{0,40}$", _I),
        re.compile(r"^(?:facebook|twitter|x|telegram|whatsapp|linkedin|email|reddit)(?:[\s,|/]+(?:facebook|twitter|x|telegram|whatsapp|linkedin|email|reddit|print|copy link))+$", _I),
    ],
    "notice": [
        # A cross-post's pointer to a web address ("Originally published at www.example.com on
        # May 2"); a credit to a publication ("Originally published on Live Science", "This article
        # first appeared in The Atlantic") is attribution, which both benchmarks' gold text keeps.
        re.compile(r"^(?:this (?:article|story|post|piece|report) )?(?:was |is )?(?:originally|first) (?:published|appeared|posted) (?:at|on) "
                   r"(?:https?://)?(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,12}\b", _I),
        re.compile(r"\b(?:now|currently) hosted at\b", _I),
        # A site telling where it lives: "X is now at example.net", "was hosted at example.org".
        re.compile(
            r"^.{0,160}\b(?:is|was|were|are|now|moved|relocated|hosted|available|located)\b"
            r"(?![^.]{0,30}\b(?:re)?(?:published|printed|posted)\b|[^.]{0,30}\bappeared\b)[^.]{0,30}\b(?:at|to|on)\s+"
            r"(?:https?://)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,12}(?![\w.-]*\w)[.!]?.{0,20}$",
            _I,
        ),
        re.compile(r"\bdomain(?: name)? (?:had been|has been|was) (?:blocked|seized|suspended)\b", _I),
        re.compile(r"\b(?:when|if) using (?:our |these )?materials\b.{0,80}\b(?:hyperlink|link|reference)\b", _I),
        re.compile(r"\b(?:found|notice|spot) (?:a|an) (?:mistake|typo|error)\b.{0,60}\b(?:ctrl|highlight|select)\b", _I),
        re.compile(r"^(?:_{5,}|-{5,}|\*{3,}|={5,})$"),
    ],
    # The text a web video player renders for screen readers (video.js's dialogs), taken for a paragraph.
    "player": [
        re.compile(r"^this is a modal window\b", _I),
        re.compile(r"^(?:beginning|end) of dialog window\b", _I),
    ],
    # Interface text a script replaces or shows on demand: carousel and gallery buttons,
    # a player's text-track menu (video.js), loading and error messages.
    "interface": [
        re.compile(r"^(?:previous|prev|close|fullscreen|full screen|exit full ?screen|thumbnails|show thumbnails)$", _I),
        re.compile(r"^(?:captions|subtitles|descriptions) (?:off|settings)(?:, selected)?$", _I),
        re.compile(r"^default, selected$", _I),
        re.compile(r"^(?:please wait|loading(?: comments)?)\W{0,3}$", _I),
        re.compile(r"\b(?:an error (?:has )?occurred|is temporarily unavailable)\b.{0,40}\btry again\b.{0,20}$", _I),
        # a sign-up or send-to-a-friend form's confirmation, shown once it is sent
        re.compile(r"^(?:thank you|thanks)\W{0,3}$", _I),
        re.compile(r"^this (?:article|story|page) has been sent to\b", _I),
    ],
    # A CMS shortcode the page failed to render: "[button link=... type=big]Send us your review[/button]".
    "residue": [
        re.compile(r"^\[[a-z_-]+(?:\s+[a-z_-]+=[^\]\s]+)+\]", _I),
    ],
    "comments": [
        re.compile(r"^\d+ (?:comments?|replies|responses)$", _I),
        re.compile(r"^(?:leave|post|add|write) a (?:comment|reply|response)\b", _I),
        re.compile(r"^your email address will not be published\b", _I),
        re.compile(r"^(?:you must be )?log(?:ged)? in to (?:post a )?(?:comment|reply)\b", _I),
        re.compile(r"^comments?(?: \(\d+\))?:?$", _I),
        re.compile(r"^(?:tell us what you think|join the (?:discussion|conversation))\W*$", _I),
        re.compile(r"^have a (?:news )?tip\b", _I),
        # a blog's invitation under the post: "Submit comments on this post to <address>"
        re.compile(r"^(?:please )?(?:submit|send|post|e-?mail) (?:your |any )?(?:comments?|feedback) (?:on|about) this (?:post|article|story|entry)\b.{0,80}$", _I),
    ],
    "credit": [
        re.compile(r"^(?:advertisement|advertising|sponsored(?: content)?|ad)$", _I),
        re.compile(r"^(?:copyright|©|\(c\))\s", _I),
        re.compile(r"\ball rights reserved\b", _I),
        # reprint and redistribution terms that wires and publishers attach to every story
        re.compile(r"\bfor (?:your )?personal,? non-?commercial use only\b", _I),
        re.compile(r"\bmay not be (?:re)?published, broadcast, (?:rewritten|written) or redistributed\b", _I),
        re.compile(r"^source\s*:\s*[\w ,.&'-]{1,60}$", _I),
        re.compile(r"^(?:photo|image|picture|video|graphic)s?(?: credit)?\s*:\s*[^.]{1,80}$", _I),
        re.compile(r"^(?:updated|published|posted|last updated)(?: at| on)?\s*:?\s*[\w ,.:/-]{0,40}\d[\w ,.:/-]{0,20}$", _I),
        re.compile(r"^(?:reading time|lesezeit|temps de lecture|tempo de leitura)\b.{0,30}$", _I),
        re.compile(r"\bmay be reached at\b.{0,80}$", _I),
        # the platform or widget credit in a template's footer: "| Site | Powered by Tumblr |"
        re.compile(r"^\W*(?:[^|•·]{1,60}[|•·]\s*)*powered by [\w .&'-]{2,40}?\W*$", _I),
    ],
}


# Reported speech is news prose even when the quote says "we need your support".
_ATTRIBUTION = re.compile(r"\b(?:said|says|told|added|according to|asked|wrote|stated)\b", _I)


def _any_pattern(patterns: list[re.Pattern]) -> re.Pattern:
    """One regex that matches where any of ``patterns`` does (all case-insensitive or caseless)."""
    assert all(p.flags & ~(re.I | re.U) == 0 for p in patterns)
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns), _I)


# Most blocks match no rule: two scans (the patterns anchored at the start, tried there
# only, then the others) tell so at half the cost of trying the ~50 patterns one by one.
def _anchored(pattern: str) -> bool:
    """Whether a regex matches only at the start: it opens with ^ and has no | outside groups."""
    depth, in_class, escaped = 0, False, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return False
    return pattern.startswith("^")


def is_links_box_heading(block: str) -> bool:
    """Whether ``block`` is the heading of a box of links to other stories ("Don't miss",
    "Related stories", "You might also like")."""
    return len(block) <= 40 and any(p.match(block) for p in _BOX_HEADINGS)


_ALL_RULES = [p for patterns in GENERIC_RULES.values() for p in patterns]
_ANY_ANCHORED_RULE = _any_pattern([p for p in _ALL_RULES if _anchored(p.pattern)])
_ANY_OTHER_RULE = _any_pattern([p for p in _ALL_RULES if not _anchored(p.pattern)])


# trafilatura writes a list item as "- text": the rules read the item's own text.
_ITEM_MARKER = re.compile(r"^-\s+")


def generic_family(block: str) -> str | None:
    if block.startswith("-"):
        block = _ITEM_MARKER.sub("", block, count=1)
    if len(block) > 600:  # a paragraph this long is prose, whatever phrase it contains
        return None
    if not (_ANY_ANCHORED_RULE.match(block) or _ANY_OTHER_RULE.search(block)):
        return None
    if _ATTRIBUTION.search(block):
        return None
    for family, patterns in GENERIC_RULES.items():
        for pattern in patterns:
            if pattern.search(block):
                return family
    return None


# An appeal is several blocks: after its opening ("A message from...", "Dear
# readers,") the blocks that speak to the reader in the first and second person
# ("we", "our", "you") and its short button labels belong to it too. News prose
# reports in the third person, so the run ends at the first block that does.
_APPEAL_OPENERS = (GENERIC_RULES["appeal"][0], GENERIC_RULES["appeal"][1])
_ADDRESSING = re.compile(r"\b(?:we|we're|our|us|you|you're|your)\b", _I)


def _continues_appeal(block: str) -> bool:
    return len(block) <= 600 and (bool(_ADDRESSING.search(block)) or len(block.split()) <= 4)


def apply_generic_rules(blocks: list[str]) -> tuple[list[str], list[Removal]]:
    kept: list[str] = []
    removed: list[Removal] = []
    in_appeal = False
    for block in blocks:
        family = generic_family(block)
        if family is None and in_appeal and _continues_appeal(block):
            family = "appeal"
        in_appeal = (family == "appeal") and (in_appeal or any(p.search(block) for p in _APPEAL_OPENERS))
        if family is None:
            kept.append(block)
        else:
            removed.append(Removal(f"generic:{family}", block))
    return kept, removed


def apply_learned(
    blocks: list[str], boilerplate: set[str] | frozenset[str], hashes: dict[str, str] | None = None
) -> tuple[list[str], list[Removal]]:
    """Remove the blocks whose hash is learned boilerplate. ``hashes`` maps blocks to
    their hashes when the caller has them already (computed in the extraction worker)."""
    if not boilerplate:
        return blocks, []
    hashes = hashes or {}
    kept: list[str] = []
    removed: list[Removal] = []
    for block in blocks:
        if (hashes.get(block) or block_hash(block)) in boilerplate:
            removed.append(Removal("learned", block))
        else:
            kept.append(block)
    return kept, removed
