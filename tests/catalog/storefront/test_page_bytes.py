"""A storefront page's body is written by orjson; its bytes (and so its ETag, a digest of them)
are the standard encoder's compact UTF-8, for any text a card may hold."""

import json

from hypothesis import given
from hypothesis import strategies as st

from marketplace.catalog.storefront.listing import render_page

# What a card holds: text (any code point a request may carry, so no lone surrogates),
# integers of the database's range, booleans and nulls, nested in lists and objects.
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)))
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20,
)


@given(cards=st.lists(st.dictionaries(_TEXT, _VALUES, max_size=6), max_size=5))
def test_a_page_is_the_standard_encoders_bytes(cards):
    body, _ = render_page(cards, len(cards), None)
    assert body == json.dumps(cards, ensure_ascii=False, separators=(",", ":")).encode()
