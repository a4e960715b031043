"""Maker-checker, the one rule every approval goes through: whoever made a thing, changed it
or set it off (proposed a payout run, recorded a pledge, funded it or ended the session that
funded it, drafted or edited a rule version) cannot approve it. A user the service cannot name
(the command line acting without ``--as``) approves nothing.
"""

from collections.abc import Iterable

from marketplace.accounts.auth import Actor
from marketplace.errors import PermissionDenied
from marketplace.reasons import Message, reason

UNNAMED_APPROVER = reason(
    "approval.approver_unnamed", "An approval must be made by a named user, not anonymously."
)


def check_not_a_maker(actor: Actor, makers: Iterable[int | None], refusal: Message) -> None:
    """Refuse ``actor``'s approval (403, ``refusal``) if they are among ``makers``: the users
    who made, changed or set off the thing approved."""
    if actor.user_id is None:
        raise PermissionDenied(UNNAMED_APPROVER())
    if actor.user_id in {maker for maker in makers if maker is not None}:
        raise PermissionDenied(refusal)
