"""Maker-checker: one rule for every approval (accounts/approvals.py)."""

import pytest

from marketplace.accounts.approvals import check_not_a_maker
from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.errors import PermissionDenied
from marketplace.reasons import Message

REFUSED = Message("made it", "test.made_it")


def test_a_maker_is_refused_and_anyone_else_passes():
    checker = Actor(user_id=7, username="checker", role=Role.admin)
    with pytest.raises(PermissionDenied) as refused:
        check_not_a_maker(checker, [3, None, 7], REFUSED)
    assert refused.value.detail is REFUSED
    check_not_a_maker(checker, [3, None, 5], REFUSED)


def test_an_approver_the_service_cannot_name_approves_nothing():
    command_line = Actor(user_id=None, username="command line", role=Role.admin)
    with pytest.raises(PermissionDenied) as refused:
        check_not_a_maker(command_line, [3], REFUSED)
    assert refused.value.detail.code == "approval.approver_unnamed"
