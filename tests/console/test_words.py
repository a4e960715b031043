"""Every state and kind the console shows has a word its users speak."""

import pytest

from marketplace.console.words import WORDS, zh
from marketplace.livestreams.models import Platform
from marketplace.orders.models import OrderStatus


@pytest.mark.parametrize("kind", list(WORDS), ids=lambda kind: kind.__name__)
def test_every_member_has_a_word(kind):
    missing = [member.value for member in kind if member.value not in WORDS[kind]]
    assert not missing


def test_words_for_members_and_for_values_naming_their_enum():
    assert zh(OrderStatus.pending_payment) == "待付款"
    assert zh("douyin", "Platform") == zh(Platform.douyin) == "抖音"
    assert zh("something new", "Platform") == "something new"
    assert zh(None) == "—"
