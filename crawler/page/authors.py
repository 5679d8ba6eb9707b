"""Who wrote the article: people, and organisations only when no person is named.

Sources, in order, until one names a person: the article's JSON-LD ``author``
(strings, ``Person`` objects with ``name`` or ``givenName``/``familyName``, nested
lists, ``@id`` references into the page's ``@graph``), the author ``<meta>`` tags,
the byline markup (``rel=author``, ``itemprop=author``, byline/author classes), and
trafilatura's author heuristics.

A byline is trimmed, not discarded: "By NAME 30 August 2023 • 4:45pm" is NAME; a
date, a time, an e-mail address, a profile URL, a role ("Senior Staff Technologist",
"Games Editor"), a degree ("Ph.D.", "MD"), the outlet after "for" or after a full name
("Victor Tangermann, Futurism"), a picture credit ("Fotos: NAME") or UI text ("Show Authors",
"Follow", "3 Min. Lesezeit") is cut out of it, in the languages bylines are written in.

Organisations are not people: JSON-LD ``Organization`` authors, the site's own name
and its variants, desks ("Metro Desk", "Redaktion", "Science X staff"), groups signing in
the plural ("Android Developers") and news agencies (AFP, Reuters).
They are returned separately, and only when the page names no person at all.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from lxml import etree

from crawler.page.htmlmeta import jsonld_objects, jsonld_types
from crawler.page.titles import names_site

_BY_PREFIX = re.compile(
    r"^(?:(?:written|reported|posted|published|text|story|words|edited|compiled)\s+by|by|from|von|par|por|di|door|"
    r"av|af|przez|автор|авторы|текст|text|texte|texto|tekst|testo|autor|autorin|auteur|author|authors|reporter|"
    r"reporting|scritto da|a cura di|escrito por|écrit par|rédigé par|geschrieben von)\b\s*[:\-–—]?\s*",
    re.IGNORECASE,
)
# A credit for the pictures, not the text: "Text: Jana Berger, Fotos: Tom Ruiz" names one author.
_PICTURE_CREDIT = re.compile(
    r"^(?:photos?|photographs?|photography|pictures?|images?|illustrations?|graphics?|video|videos|fotos?|"
    r"fotograf[ií]as?|fotografie|bild|bilder|grafik|infografik|zdjęci[ae]|фото|иллюстрации)\s*(?:[:\-–—]|by\b|von\b|de\b)",
    re.IGNORECASE)
# "Tech Industry by Steven Musil": a byline inside a longer line.
_INNER_BY = re.compile(r"(?:^|\s)(?:by|By|BY|par|Par|por|Por|von|Von)\s+(?=[^\W\d_])")
# Separators between names and between a name and what follows it. The conjunctions also
# start a new name after a role ("Jane Doe, Editor, and John Smith").
_CONJUNCTION = re.compile(r"\s+(?:and|und|et|y|e|i|и|og|en|och|ja|avec|with|mit|con|com)\s+|\s*&\s*|\s*;\s*|\n", re.IGNORECASE)
# A full stop after a word of three letters or more ends a name ("Finian Cunningham. Sputnik
# International"); after an initial, "St" or a title ("Prof. Jane Doe") it does not.
_SEPARATOR = re.compile(
    r"\s*,\s*|\s+[|•·–—-]\s+|\s*[|•·]\s*|\s+/\s+"
    r"|(?<=\w{3})(?<!Prof)(?<!Mrs)(?<!Rev)(?<!Gen)(?<!Col)(?<!Sgt)(?<!Capt)(?<!Hon)\.\s+")
_EMAIL = re.compile(r"\S+@\S+")
_URL = re.compile(r"(?:https?://|www\.)\S*|\S+\.(?:com|org|net|co|uk|de|fr|io)(?:/\S*)?\b", re.IGNORECASE)
_HANDLE = re.compile(r"(?:^|\s)@\w+")
_BRACKETS = re.compile(r"\(([^)]*)\)|\[([^\]]*)\]")
_MONTHS = (
    "jan january feb february mar march apr april may jun june jul july aug august sep sept september oct october "
    "nov november dec december januar februar märz juni juli oktober dezember janvier février mars avril mai juin "
    "juillet août septembre octobre novembre décembre enero febrero marzo abril mayo junio julio agosto septiembre "
    "octubre noviembre diciembre gennaio febbraio aprile maggio giugno luglio settembre ottobre dicembre janeiro "
    "fevereiro março maio junho julho setembro outubro dezembro"
).split()
_MONTH_SET = set(_MONTHS)
# Words that end a name: what follows is a date, a time or UI text.
_STOP_WORDS = {
    "updated", "published", "posted", "last", "ago", "hours", "minutes", "min", "read", "reading", "share", "follow",
    "view", "show", "more", "posts", "profile", "email", "contact", "comments", "comment", "twitter", "facebook",
    "instagram", "linkedin", "am", "pm", "utc", "gmt", "est", "edt", "pst", "pdt", "cet", "cest", "today", "yesterday",
    "před", "vor", "il", "hace", "há", "назад",
    # "published", "updated" and "reading time" in the languages of the bylines above
    "aktualisiert", "veröffentlicht", "stand", "lesezeit", "uhr", "publié", "publiée", "modifié", "modifiée", "lecture",
    "actualizado", "actualizada", "publicado", "publicada", "lectura", "pubblicato", "aggiornato", "lettura",
    "atualizado", "atualizada", "leitura", "gepubliceerd", "bijgewerkt", "leestijd", "opublikowano",
    "zaktualizowano", "опубликовано", "обновлено",
}
# Job titles: a fragment holding one is a role, not a name.
_ROLE_WORDS = {
    "editor", "editors", "reporter", "reporters", "correspondent", "correspondents", "writer", "writers", "columnist",
    "contributor", "contributors", "contributing", "photographer", "producer", "analyst", "technologist", "staff",
    "senior", "chief", "managing", "deputy", "associate", "executive", "director", "president", "vice", "head",
    "journalist", "redakteur", "redakteurin", "korrespondent", "korrespondentin", "rédacteur", "rédactrice",
    "journaliste", "envoyé", "envoyée", "spécial", "spéciale", "periodista", "corresponsal", "giornalista",
    "author", "authors", "intern", "freelance", "freelancer", "guest", "special", "bureau", "founder", "ceo",
    "professor", "fellow", "researcher", "manager", "officer", "engineer", "developer", "host", "anchor",
}
# Words of organisation names: desks, agencies, newsrooms, companies.
_ORG_WORDS = {
    "desk", "news", "newsroom", "agency", "agencies", "press", "wire", "wires", "media", "editorial", "redaktion",
    "rédaction", "redacción", "redazione", "redactie", "redakcja", "редакция", "service", "services", "online",
    "digital", "group", "inc", "ltd", "llc", "gmbh", "corp", "corporation", "company", "foundation", "association",
    "society", "institute", "university", "magazine", "times", "post", "daily", "journal", "network", "tv", "radio",
    "team", "project", "projects", "works", "organization", "organisation", "office", "ministry", "department",
    "council", "committee", "wikimedia", "sport", "sports", "politics", "business", "world", "opinion", "partner",
    "partners", "sponsored", "content", "studio", "studios", "community", "club", "blog", "international",
    "internacional", "gazette", "herald", "tribune", "chronicle", "zeitung", "nachrichten",
    # newspapers' names, in the languages of the bylines above: "Sioux Falls Argus Leader" on
    # the line after the names is the reporters' paper, not a third reporter
    "courier", "register", "observer", "sentinel", "inquirer", "enquirer", "examiner", "dispatch", "bulletin",
    "argus", "telegraph", "telegram", "republic", "independent", "mirror", "express", "monitor", "courant",
    "advertiser", "presse", "rundschau", "anzeiger", "kurier", "tageblatt", "tagblatt", "morgenpost", "abendblatt",
    "quotidien", "gazzetta", "corriere", "giornale", "stampa", "diario", "periódico", "periodico", "jornal",
    "gazeta", "dagblad", "tidning", "tidende", "novosti", "izvestia",
    # a group signs in the plural: "Android Developers", "The Volunteers"
    "developers", "engineers", "researchers", "volunteers", "members", "staffers",
}
# News agencies, by their usual byline form (lower case).
_AGENCIES = {
    "afp", "ap", "reuters", "dpa", "apa", "ansa", "efe", "xinhua", "tass", "ria novosti", "interfax", "pa", "upi",
    "bloomberg", "associated press", "the associated press", "agence france-presse", "agence france presse",
    "press association", "kyodo", "yonhap", "anadolu", "bernama", "ukrinform", "kna", "epd", "sda", "ats", "belga",
    "anp", "ctk", "čtk", "pap", "mti", "bta", "hina", "tanjug", "ntb", "tt", "lusa", "europa press", "aa", "ips",
    "cnn", "bbc", "nyt", "wsj", "ft", "sid", "kna", "ria", "rtr", "unian", "ani", "pti", "ians", "cna", "aap",
}
_NAME_PARTICLES = {
    "de", "da", "das", "do", "dos", "du", "del", "della", "der", "den", "di", "van", "von", "ter", "ten", "la", "le",
    "bin", "ibn", "al", "el", "y", "e", "st", "zu", "af", "av",
}
_NOT_NAME_STARTS = {"the", "our", "your", "a", "an", "le", "la", "les", "der", "die", "das", "el", "il", "lo"}
MAX_NAME_WORDS = 5
MAX_NAME_CHARS = 60


@dataclass
class Byline:
    people: list[str] = field(default_factory=list)
    organisations: list[str] = field(default_factory=list)


def _fold(text: str) -> str:
    return " ".join(re.findall(r"\w+", unicodedata.normalize("NFKC", text).casefold()))


def _has_case(token: str) -> bool:
    return token.lower() != token.upper()


def is_organisation(name: str, site_keys: set[str]) -> bool:
    """An agency, a desk, a company or the site itself, not a person."""
    folded = _fold(name)
    if not folded:
        return False
    if folded in _AGENCIES or (site_keys and names_site(name, site_keys)):
        return True
    words = folded.split()
    # "The Water Coolest", "Our Foreign [Staff]": a person's name has no article; "AP Auto
    # [Writer]": an agency's desk.
    if words[0] in _NOT_NAME_STARTS or (name.split()[0].isupper() and words[0] in _AGENCIES and len(words) > 1):
        return True
    if any(w in _ORG_WORDS or w in _COLLECTIVE_ROLES for w in words):
        return True
    # A single all-capitals token of a few letters is an acronym: "BBC", "ANSA".
    return len(words) == 1 and name.isupper() and len(name) <= 5


def _looks_like_name(name: str, single_word_ok: bool) -> bool:
    tokens = name.split()
    if not tokens or len(tokens) > MAX_NAME_WORDS or len(name) > MAX_NAME_CHARS or len(name) < 2:
        return False
    if any(ch.isdigit() for ch in name) or any(ch in name for ch in "@/=*"):
        return False
    cased = [t for t in tokens if _has_case(t)]
    if cased:
        for t in cased:
            bare = t.strip(".'’-")
            if bare and bare[0].islower() and bare.lower() not in _NAME_PARTICLES:
                return False  # prose, not a name: "civil conversation. Abusive"
        if len(tokens) == 1 and not single_word_ok:
            return False
    return not any(_fold(t) in _STOP_WORDS | _ROLE_WORDS for t in tokens)


def _trim(fragment: str) -> str:
    """Cut a fragment at the first date, time or UI word: "Nathan Willis March 25, 2015"."""
    tokens = fragment.split()
    kept: list[str] = []
    for i, token in enumerate(tokens):
        bare = _fold(token)
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if any(ch.isdigit() for ch in token) or bare in _STOP_WORDS:
            if kept and _fold(kept[-1]) in _MONTH_SET and len(kept) > 1:
                kept.pop()  # "July 10, 2015": the month goes with its day
            break
        if bare in _MONTH_SET and any(ch.isdigit() for ch in following) and kept:
            break
        kept.append(token)
    cut = len(kept) < len(tokens)
    # Trailing lower-case words are the start of a phrase ("před", "updated"), not a name; where
    # a date was cut off, so are particles ("Jean Dupont le 12 mars": "le" goes with the date).
    while kept and _has_case(kept[-1]) and kept[-1][0].islower() and (
            cut or _fold(kept[-1]) not in _NAME_PARTICLES):
        kept.pop()
    return " ".join(kept).strip(" .,:;|-–—•·")


def _without_role(tokens: list[str]) -> list[str]:
    """"Ben Silverman Games Editor" -> "Ben Silverman": a role at the end takes the word before
    it along when that word is a common noun (a section: "Games", "Politics")."""
    for i, token in enumerate(tokens):
        if _fold(token) in _ROLE_WORDS:
            kept = tokens[:i]
            if len(kept) >= 3 and _is_common_word(kept[-1]):
                kept = kept[:-1]
            return kept
    return tokens


def _is_common_word(token: str) -> bool:
    try:
        from wordfreq import zipf_frequency
    except ImportError:  # wordfreq is a dependency; without its data, keep the word
        return False
    return zipf_frequency(token.lower(), "en") >= COMMON_WORD_ZIPF


COMMON_WORD_ZIPF = 4.0  # "games", "politics", "world"; surnames such as "Silverman" are far rarer


def split_byline(raw: str, *, single_word_ok: bool = True) -> list[str]:
    """Names in one byline string, trimmed of prefixes, dates, roles, e-mails and UI text."""
    text = unicodedata.normalize("NFKC", str(raw))

    def bracket(match: re.Match) -> str:
        inner = match.group(1) or match.group(2) or ""
        # "(avec Damien Leloup et Morgane Tual)" names co-authors; "(obe)", "(bkuhn)" and
        # "(http://example.org/~jane/)" do not.
        first, _, rest = inner.strip().partition(" ")
        return f" & {rest} " if _CONJUNCTION.match(f" {first} ") else " "

    # Brackets first: a URL or e-mail address inside them would otherwise take the
    # closing bracket along and leave an unbalanced "(" that no name passes with.
    text = _BRACKETS.sub(bracket, text)
    text = _EMAIL.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _HANDLE.sub(" ", text)
    inner = _INNER_BY.search(text)
    if inner and inner.start() > 0 and not _PICTURE_CREDIT.match(text.lstrip()):
        text = text[inner.end():]
    names: list[str] = []
    after_full_name = False  # across "and" too: "Juan Pérez, corresponsal en Madrid" ("en": Dutch "and")
    for group in _CONJUNCTION.split(text):
        after_role = False
        for fragment in _SEPARATOR.split(group):
            fragment = _BY_PREFIX.sub("", " ".join(fragment.split())).strip()
            if not fragment or _PICTURE_CREDIT.match(fragment):
                continue
            tokens = fragment.split()
            if any(_fold(t) in _ROLE_WORDS for t in tokens):
                after_role = True  # what follows a role in this group is an affiliation
                if len(tokens) > 1 and _fold(tokens[-1]) in _COLLECTIVE_ROLES:
                    # "Science X staff", "Times reporters": a desk, kept whole for the
                    # organisations (see is_organisation), not cut to "Science X"
                    names.append(fragment)
                    continue
                trimmed = _without_role(tokens)
                fragment = " ".join(trimmed)
                if not fragment:
                    continue
            elif after_role:
                continue
            person, *outlet = _AFFILIATION.split(fragment, maxsplit=1)
            if outlet and is_organisation(outlet[0], set()):
                # "Jane Doe for The Post, Washington"; not "Center for Strategic Studies"
                fragment, after_role = person, True
            fragment = _without_post_nominals(_trim(_BY_PREFIX.sub("", fragment)))
            if not fragment or all(_is_post_nominal(t) for t in fragment.split()):
                continue  # "Jane Doe, Ph.D.": a degree, not a second author
            if _fold(fragment) in _GENERATIONAL and names:
                names[-1] = f"{names[-1]} {fragment}"  # "Martin Luther King, Jr."
            elif len(fragment.split()) == 1 and after_full_name:
                # "Victor Tangermann, Futurism", "Anna Schmidt, Berlin": after a full name, a single
                # word is the outlet or the place; co-authors in a list are named in full.
                continue
            elif _looks_like_name(fragment, single_word_ok):
                names.append(fragment)
                after_full_name = after_full_name or len(fragment.split()) > 1
    return names


# Roles that name a group: "Times staff" and "Metro reporters" sign for a desk.
_COLLECTIVE_ROLES = {"staff", "editors", "reporters", "writers", "correspondents", "contributors", "journalists"}


# Degrees and honours after a name ("Brenda Goodman, MA", "Jane Doe, Ph.D.", "John Smith MD"):
# neither names of their own nor part of the name. Not "pa" or "ap": agencies.
_POST_NOMINALS = {
    "phd", "dphil", "md", "mbbs", "mba", "mph", "msc", "ma", "ba", "bsc", "bs", "ms", "mfa", "mpa", "mpp", "llm",
    "jd", "esq", "rn", "np", "dds", "dmd", "dvm", "pharmd", "psyd", "edd", "lcsw", "cpa", "cfa", "facp", "frcp",
    "mrcp", "faan", "obe", "mbe", "cbe", "kbe", "dbe", "frs",
}
# Generational suffixes are part of the name before them.
_GENERATIONAL = {"jr", "sr", "ii", "iii", "iv"}
# "Jane Doe for The Coast Daily", "Jana Berger für die Zeit": what follows is the outlet,
# when it is named like one (an organisation: see is_organisation).
_AFFILIATION = re.compile(r"\s+(?:for|für|pour|para)\s+(?=[^\W\d_])")


def _is_post_nominal(token: str) -> bool:
    """A degree or an honour as bylines write them: "PhD", "Ph.D.", "MD", "M.D.", "OBE";
    not a capitalised word that spells one ("Ma", a surname)."""
    bare = token.strip(".,")
    letters = re.sub(r"[\W_]", "", bare).lower()
    return letters in _POST_NOMINALS and ("." in bare or not bare[1:].islower())


def _without_post_nominals(fragment: str) -> str:
    """"John Smith MD" -> "John Smith": a trailing degree after a full name."""
    tokens = fragment.split()
    while len(tokens) >= 3 and _is_post_nominal(tokens[-1]):
        tokens.pop()
    return " ".join(tokens)


# --- sources --------------------------------------------------------------------

_PERSON_TYPES = {"person"}


def _ld_entries(value, by_id: dict, depth: int = 0):
    """(name, kind) for every author in a JSON-LD value; kind is "person", "org" or None."""
    if depth > 4 or value is None:
        return
    if isinstance(value, list):
        for entry in value:
            yield from _ld_entries(entry, by_id, depth + 1)
        return
    if isinstance(value, str):
        if value.strip() and not value.strip().startswith(("http://", "https://")):
            yield value, None
        return
    if not isinstance(value, dict):
        return
    for wrapper in ("@list", "@set"):  # JSON-LD's ordered and unordered collections
        if wrapper in value:
            yield from _ld_entries(value[wrapper], by_id, depth + 1)
            return
    if set(value) <= {"@id", "@type"} and value.get("@id") in by_id:
        value = by_id[value["@id"]]
    # "Person", "schema:Person", "http://schema.org/Person"
    types = {t.rsplit("/", 1)[-1].rsplit(":", 1)[-1] for t in jsonld_types(value)}
    kind = "person" if types & _PERSON_TYPES else ("org" if types and not types & _PERSON_TYPES else None)
    name = _ld_string(value.get("name"))
    if not name:
        parts = [_ld_string(value.get(k)) for k in ("givenName", "additionalName", "familyName")]
        name = " ".join(p for p in parts if p)
    if name:
        yield name, kind
    elif "author" in value:  # a nested wrapper
        yield from _ld_entries(value.get("author"), by_id, depth + 1)


def _ld_string(value) -> str | None:
    """A JSON-LD text: a string, a {"@value": ...} object, or the first of a list of them."""
    if isinstance(value, list):
        return next((text for text in map(_ld_string, value) if text), None)
    if isinstance(value, dict):
        value = value.get("@value")
    return value.strip() if isinstance(value, str) and value.strip() else None


_META_AUTHOR = ("author", "article:author", "og:article:author", "parsely-author", "dc.creator", "DC.creator",
                "sailthru.author", "byl", "cXenseParse:author", "citation_author")
# Byline markup: rel/itemprop author, classes naming an author, a byline or a contributor
# ("author", "Author", "byline", "FeatureByline"). Compiled once; the attribute test first
# keeps it at about 1 ms on a large page.
# Elements whose class names an author, a byline or a contributor, or with rel or itemprop
# "author", in document order. Selected by their attributes (each attribute's element is its
# parent): libxml2 then tests only the attributes that exist, not every element of the page,
# in half the time of the equivalent //*[contains(@class, "uthor") or ...].
_BYLINE_XPATH = etree.XPath(
    '//@class[contains(., "uthor") or contains(., "yline") or contains(., "ontributor")]/..'
    ' | //@rel[. = "author"]/.. | //@itemprop[. = "author"]/..'
)
MAX_BYLINE_ELEMENTS = 40
_NOT_BYLINE_TAGS = {"meta", "link", "script", "style", "img", "body", "html", "form", "label", "input", "textarea",
                    "button", "select", "option"}


def _meta_entries(tree) -> list[str]:
    wanted = {n.lower() for n in _META_AUTHOR}
    found = []
    for el in tree.iter("meta"):
        name = (el.get("name") or el.get("property") or el.get("itemprop") or "").lower()
        content = (el.get("content") or "").strip()
        if name in wanted and content and not content.startswith(("http://", "https://")):
            found.append(content)
    return found


def _byline_texts(tree) -> Iterator[str]:
    """The text of each byline element, in document order (read lazily: the first
    element that names a person ends the search)."""
    for el in _BYLINE_XPATH(tree)[:MAX_BYLINE_ELEMENTS]:
        if el.tag in _NOT_BYLINE_TAGS or "omment" in (el.get("class") or ""):
            continue  # a comment's author or the comment form's "Name *" field
        # The innermost names: a template may nest one itemprop="name" in another.
        named = el.xpath('.//*[@itemprop="name"][not(.//*[@itemprop="name"])]')
        text = " ".join(" ".join(n.text_content().split()) for n in named) if named else _text_lines(el)
        # Keep the lines of block markup apart: a name line, then a date line.
        text = "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())
        if text and len(text) <= 300 and not _is_story_card(text):
            yield text


# Elements that start a new line where they open and close: a name and a headline in two
# <div>s, or split by <br>, are two lines even when the markup has no newline between them.
_LINE_BREAKS = {"br", "div", "p", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article",
                "header", "footer", "figure", "figcaption", "blockquote", "dd", "dt", "tr", "table"}


def _text_lines(element) -> str:
    """The element's text with a line break at each block element or <br> (iterative:
    hostile pages nest thousands deep)."""
    parts: list[str] = []
    for event, node in etree.iterwalk(element, events=("start", "end")):
        if not isinstance(node.tag, str):
            continue
        if node.tag in _LINE_BREAKS:
            parts.append("\n")
        if event == "start":
            parts.append(node.text or "")
        elif node is not element:
            parts.append(node.tail or "")
    return "".join(parts)


HEADLINE_MIN_WORDS = 5


def _is_story_card(text: str) -> bool:
    """Whether a byline element is a related story's card: an author's name over a
    headline ("Katie Couric" / "New Yorkers post their feelings about ..."), not the
    article's byline, whose further lines are dates ("Updated April 29, 2019 at 3:33 pm")."""
    for line in text.split("\n")[1:]:
        words = line.split()
        if len(words) >= HEADLINE_MIN_WORDS and not _BY_PREFIX.match(line) and \
                not any(_fold(w) in _MONTH_SET or _TIME.search(w) for w in words):
            return True
    return False


_TIME = re.compile(r"\d{1,2}[:.h]\d{2}|\d{4}")


def find_authors(tree, ld: dict, site_keys: set[str], fallback: Callable[[], list[str]] | None = None) -> Byline:
    """People from the first source that names one; else the organisations found."""
    graph: list[dict] = []  # the page's JSON-LD objects, parsed only when needed

    def objects() -> list[dict]:
        if not graph:
            graph.extend(jsonld_objects(tree) or [{}])
        return graph

    by_id = _LazyIds(objects)
    if not ld.get("author"):
        # The author may sit on another object of the page's graph (a VideoObject, a WebPage).
        ld = next((o for o in objects() if o.get("author")), ld)
    # Each group is read whole; the byline markup one element at a time, since a page's
    # later bylines belong to related stories.
    groups = [
        ("jsonld", lambda: [list(_ld_entries(ld.get("author"), by_id)) + list(_ld_entries(ld.get("creator"), by_id))]),
        ("meta", lambda: [[(v, None) for v in _meta_entries(tree)]]),
        ("markup", lambda: ([(v, None)] for v in _byline_texts(tree))),
        ("heuristic", lambda: [[(v, None) for v in (fallback() if fallback else [])]]),
    ]
    organisations: list[str] = []
    for source, read in groups:
        for group in read():
            people: list[str] = []
            for raw, kind in group:
                names = split_byline(raw, single_word_ok=source in ("jsonld", "meta"))
                # A JSON-LD Person with a full name that is also the site's is the author of a
                # personal site ("Haki Benita" on hakibenita.com); a one-word one is the site
                # standing in for its writers ("AppleInsider" as a Person).
                entry_people = [n for n in names if kind != "org" and not is_organisation(
                    n, set() if kind == "person" and len(n.split()) >= 2 else site_keys)
                    and not _names_organisation(n, organisations)]
                for name in entry_people:
                    _add(people, name)
                whole = organisation_name(raw) if not entry_people and source != "markup" else None
                if whole and (kind == "org" or is_organisation(whole, site_keys)):
                    # An organisation's name is no person's, and fails the name test when
                    # split: "Organization for Transformative Works", "Mac & i". Kept whole
                    # when the source says it is one (JSON-LD Organization) or its words
                    # do; a markup line is too loose to trust that way.
                    _add_organisation(organisations, whole)
                else:
                    for name in names:
                        if name not in entry_people:
                            _add_organisation(organisations, name)
            if people:
                return Byline(people, [])
            if source == "markup" and organisations:
                # The first byline element names a desk ("Our Foreign Staff"): the byline
                # elements after it are related stories' and columnists', not this article's.
                break
    return Byline([], organisations)


def _names_organisation(name: str, organisations: list[str]) -> bool:
    """Whether every word of ``name`` is a word of an organisation found in an earlier source:
    the site named as the meta author ("Beachbody") and again in the byline markup, its name
    in two fields ("Beachbody Beachbody"), is no person."""
    if not organisations:
        return False
    known = {w for org in organisations for w in _fold(org).split()}
    return set(_fold(name).split()) <= known


def organisation_name(raw: str) -> str | None:
    """A declared author string as an organisation's name: one line, without "By",
    URLs or e-mail addresses; None when nothing of a name is left or it is too long."""
    text = unicodedata.normalize("NFKC", str(raw))
    text = _URL.sub(" ", _EMAIL.sub(" ", text))
    text = _BY_PREFIX.sub("", " ".join(text.split())).strip(" .,:;|-–—•·()[]")
    if not text or len(text) > MAX_ORGANISATION_CHARS or any(ch.isdigit() for ch in text):
        return None
    return text


MAX_ORGANISATION_CHARS = 80


class _LazyIds(dict):
    """{@id: object} of the page's JSON-LD, built on the first look-up (most authors are inline)."""

    def __init__(self, objects: Callable[[], list[dict]]) -> None:
        super().__init__()
        self._objects = objects
        self._built = False

    def __contains__(self, key) -> bool:
        if not self._built:
            self._built = True
            self.update({o["@id"]: o for o in self._objects() if isinstance(o.get("@id"), str)})
        return super().__contains__(key)


def _add(names: list[str], name: str) -> None:
    if _fold(name) not in {_fold(n) for n in names}:
        names.append(name)


def _add_organisation(organisations: list[str], name: str) -> None:
    """Add ``name`` unless it is part of an organisation found already: the same desk read
    whole from JSON-LD ("Our Foreign Staff") and split by the byline markup ("Our Foreign")
    is one organisation. A longer form of one found already replaces it."""
    folded = f" {_fold(name)} "
    if set(folded.split()) <= {w for found in organisations for w in _fold(found).split()}:
        return  # its name in two fields: "Beachbody Beachbody" after "Beachbody"
    for i, found in enumerate(organisations):
        other = f" {_fold(found)} "
        if folded in other:
            return
        if other in folded:
            organisations[i] = name
            return
    organisations.append(name)
