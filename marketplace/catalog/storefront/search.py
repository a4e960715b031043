"""Search of the storefront (``?q=``): which products match, and in what order.

**What matches.** The query is cut into terms: each Chinese character on its own, and each run
of other letters and digits as a word. A product matches when its search text (name, subtitle,
producer, village and category, case-folded: ``Product.search_text``) holds every term. So
``蓝莓`` finds 野生蓝莓 and also 蓝色浆果·红莓 (both characters, apart), and ``honey`` finds
"Organic HONEY".

**How it is indexed.** On PostgreSQL, a GIN index over ``product_search_lexemes(search_text)``
(a SQL function of migration 0022) of the active products (migration 0024): a ``tsvector`` of
the text's Chinese characters one by one and its other words whole, built from the characters
themselves, never by a text-search parser or ``pg_trgm``, whose splitting of CJK text depends on
the database's locale. The query is the same terms AND-ed (a word as a prefix: ``hon:*``).
SQLite reads the search text with ``instr`` (no index: the embedded database serves a county's
catalog, not a province's); a word there matches anywhere in the text, not only at a word's
start.

**In what order.** With ``q`` and no other sort asked, by relevance: the products whose name
holds the whole query first, then those whose other text holds it as typed (a producer's or a
village's name), then those holding its terms apart; within each, newest first, then by id.

**What a page of it costs.** Ranking every match to show twenty is what made a search of a
common word cost what its matches hold (a province's catalog holds 蓝莓 tens of thousands of
times). So a relevance page is first sought in one class alone (the cursor's, or the name
matches for a first page), walking the newest index through at most ``WINDOW`` products: when
they hold the page, they are exactly its rows, since every product of the class outside them
is older and every other class comes after. Only when they do not (a rare or scattered match,
a class near its end) is the page ranked from every match, as the reference
``listing.list_storefront(..., reference=True)`` always does; the walk's only cost is then its
``WINDOW`` rows. The walk, the page's cards and the bounded count are one statement. In the
walk, every term as a substring (``MayHoldEveryTerm``, a cheap
``LIKE``) is what a query of Chinese characters needs; a query with a word tests the exact
lexemes too, after it (their function costs tens of microseconds a row).
"""

import re

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from marketplace.catalog.models import fold_for_search

#: The characters searched one by one: the CJK unified ideographs (with extension A) and the
#: compatibility ideographs. Runs of Latin letters and digits form words; the rest separates.
#: (Migration 0022's ``product_search_lexemes`` cuts the products' text by the same classes.)
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TERM = re.compile(rf"[{_CJK}]|[0-9a-z\u00c0-\u024f]+")
_ONE_CJK = re.compile(rf"[{_CJK}]")

#: Relevance classes, best first.
IN_NAME, AS_TYPED, TERMS_APART = 0, 1, 2
CLASSES = (IN_NAME, AS_TYPED, TERMS_APART)

#: How many of the newest products a relevance page is sought in before every match is ranked.
WINDOW = 2_000


def terms(query: str) -> list[str]:
    """The query's terms, case-folded, each once, in the order typed."""
    return list(dict.fromkeys(_TERM.findall(fold_for_search(query))))


def parameters(query: str) -> dict:
    """The bound values a search needs: the terms (as a tsquery for PostgreSQL, as JSON for
    the others) and the query as a LIKE pattern for the relevance classes."""
    found = terms(query)
    escaped = query.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return {
        # A character is a lexeme of its own; a word may be the start of a longer one.
        "q_tsquery": " & ".join(
            f"'{term}'" if _ONE_CJK.fullmatch(term) else f"'{term}':*" for term in found
        ),
        "q_terms": "[" + ",".join(f'"{term}"' for term in found) + "]",
        # Terms hold no LIKE wildcard: they are letters, digits and ideographs only.
        "q_patterns": [f"%{term}%" for term in found],
        "q": f"%{fold_for_search(escaped)}%",
    }


class HoldsEveryTerm(ColumnElement):
    """``search_text`` holds every term of the query: through the GIN index on PostgreSQL,
    by ``instr`` elsewhere."""

    type = sa.Boolean()
    inherit_cache = True
    # The column is the statement's cache key's part: without it SQLAlchemy compiles every
    # statement holding the element anew on each execution ("no key").
    _traverse_internals = [("search_text", InternalTraversal.dp_clauseelement)]

    def __init__(self, search_text):
        self.search_text = search_text


@compiles(HoldsEveryTerm, "postgresql")
def _holds_on_postgresql(element, compiler, **kw):
    text = compiler.process(element.search_text, **kw)
    # The query goes into the text as a literal (its terms are letters, digits and ideographs,
    # quoted by search.parameters): with a parameter, PostgreSQL cannot judge how many rows
    # match, finds its generic plan worse than any custom one and plans every execution anew
    # (about 2 ms of a searched page); with the literal, a query asked often is prepared once.
    query = compiler.process(sa.bindparam("q_tsquery", type_=sa.Text(), literal_execute=True), **kw)
    return f"product_search_lexemes({text}) @@ CAST({query} AS tsquery)"


@compiles(HoldsEveryTerm)
def _holds_elsewhere(element, compiler, **kw):
    text = compiler.process(element.search_text, **kw)
    query = compiler.process(sa.bindparam("q_terms", type_=sa.Text()), **kw)
    # A query of no terms (only punctuation) matches nothing, as on PostgreSQL.
    return (
        f"(json_array_length({query}) > 0 AND NOT EXISTS (SELECT 1 FROM json_each({query})"
        f" AS term WHERE instr({text}, term.value) = 0))"
    )


class MayHoldEveryTerm(ColumnElement):
    """``search_text`` holds every term as a substring: what holding every term needs, cheap
    to test on rows already read (``LIKE ALL`` on PostgreSQL; elsewhere the exact test, which
    is ``instr`` already)."""

    type = sa.Boolean()
    inherit_cache = True
    # The column is the statement's cache key's part: without it SQLAlchemy compiles every
    # statement holding the element anew on each execution ("no key").
    _traverse_internals = [("search_text", InternalTraversal.dp_clauseelement)]

    def __init__(self, search_text):
        self.search_text = search_text


@compiles(MayHoldEveryTerm, "postgresql")
def _may_hold_on_postgresql(element, compiler, **kw):
    text = compiler.process(element.search_text, **kw)
    patterns = compiler.process(sa.bindparam("q_patterns", type_=ARRAY(sa.Text())), **kw)
    return f"({text} LIKE ALL ({patterns}))"


@compiles(MayHoldEveryTerm)
def _may_hold_elsewhere(element, compiler, **kw):
    return compiler.process(HoldsEveryTerm(element.search_text), **kw)


def _as_typed(columns) -> tuple:
    """Whether the name, and whether the whole search text, holds the query as typed."""
    pattern = sa.bindparam("q", type_=sa.Text())
    return (
        sa.func.lower(columns["name"]).like(pattern, escape="/"),
        columns["search_text"].like(pattern, escape="/"),
    )


def relevance(columns) -> sa.ColumnElement:
    """The relevance class of a matching product (``IN_NAME`` best)."""
    in_name, in_text = _as_typed(columns)
    return sa.case((in_name, IN_NAME), (in_text, AS_TYPED), else_=TERMS_APART)


def has_words(query: str) -> bool:
    """Whether the query has a word: a Chinese character is held exactly when the text holds
    it as a substring, a word only when a word of the text starts with it."""
    return any(not _ONE_CJK.fullmatch(term) for term in terms(query))


def of_class(columns, rank: int, words: bool) -> list:
    """The conditions for a matching product to be of class ``rank``, as ``relevance`` ranks
    it, the cheap ones first; the exact lexemes only when the query has ``words``."""
    in_name, in_text = _as_typed(columns)
    return [
        *{
            IN_NAME: [in_name],
            AS_TYPED: [sa.not_(in_name), in_text],
            TERMS_APART: [sa.not_(in_name), sa.not_(in_text)],
        }[rank],
        MayHoldEveryTerm(columns["search_text"]),
        *([HoldsEveryTerm(columns["search_text"])] if words else []),
    ]
