"""A co-operative's or an enterprise's payout account: the organisation's own bank account, in
its registered name, that its payout lines go to through the bank's batch file.

Only admins set or change it (a wrong account sends an organisation's money elsewhere), and
every setting is kept with who made it, from where, and the account as it was and as it became
(masked). Its number is stored encrypted, with a keyed hash to find it and a mask to show; the
organisation's credit code (统一社会信用代码, public) is what the bank's return names it by, so
it must have one. Readers in the producer's scope see the mask; admins the number.
"""

import sqlalchemy as sa

from marketplace import pii
from marketplace.accounts.auth import Actor
from marketplace.errors import NotFound, PermissionDenied, ValidationFailed
from marketplace.producers.models import (
    Producer,
    ProducerKind,
    ProducerPayoutAccount,
    ProducerPayoutAccountChange,
)
from marketplace.producers.scoping import PRODUCERS
from marketplace.reasons import reason

SET_BY_ADMINS = reason(
    "producer_payout_account.admins_only",
    "A producer's payout account is set by admins only: it decides where its money goes.",
)
NO_ACCOUNT = reason(
    "producer_payout_account.not_found", "Producer {producer_id} has no payout account."
)
NOT_AN_ORGANISATION = reason(
    "producer_payout_account.not_an_organisation",
    "a household selling its own produce is paid to its one-card account, as a household",
)
NO_CREDIT_CODE = reason(
    "producer_payout_account.no_credit_code",
    "the producer has no credit code (统一社会信用代码), which the bank's return names it by: "
    "record it first",
)


def get_account(session, actor: Actor, producer_id: int) -> ProducerPayoutAccount:
    producer = PRODUCERS.get(session, producer_id, actor)
    account = account_of(session, producer.id)
    if account is None:
        raise NotFound(NO_ACCOUNT(producer_id=producer.id))
    return account


def account_of(session, producer_id: int) -> ProducerPayoutAccount | None:
    return session.execute(
        sa.select(ProducerPayoutAccount).where(ProducerPayoutAccount.producer_id == producer_id)
    ).scalar_one_or_none()


def put_account(
    session, actor: Actor, producer_id: int, data: dict, *, remote_addr: str | None
) -> ProducerPayoutAccount:
    """Set or replace the producer's payout account (admins only), keeping the change."""
    if not actor.is_admin:
        raise PermissionDenied(SET_BY_ADMINS())
    producer = PRODUCERS.get(session, producer_id, actor)
    session.execute(sa.select(Producer.id).where(Producer.id == producer.id).with_for_update())
    if producer.kind is ProducerKind.household:
        raise ValidationFailed({"producer_id": [NOT_AN_ORGANISATION()]})
    if not producer.credit_code:
        raise ValidationFailed({"producer_id": [NO_CREDIT_CODE()]})
    account = account_of(session, producer.id)
    before = _shown(account) if account is not None else None
    if account is None:
        account = ProducerPayoutAccount(producer_id=producer.id)
        session.add(account)
    number = data["account_number"]
    cipher = pii.cipher()
    account.bank_name = data["bank_name"]
    account.account_name = data["account_name"]
    account.account_encrypted = cipher.encrypt(number)
    account.account_lookup = cipher.lookup_hash(number)
    account.account_masked = pii.mask(number)
    account.updated_by_id = actor.user_id
    session.add(
        ProducerPayoutAccountChange(
            producer_id=producer.id,
            changed_by_id=actor.user_id,
            before=before,
            after=_shown(account),
            remote_addr=(remote_addr or "")[:64] or None,
        )
    )
    session.flush()
    return account


def changes(session, actor: Actor, producer_id: int) -> list[ProducerPayoutAccountChange]:
    """Every setting of the producer's account, latest first (admins only: who changed what)."""
    if not actor.is_admin:
        raise PermissionDenied(SET_BY_ADMINS())
    producer = PRODUCERS.get(session, producer_id, actor)
    return list(
        session.execute(
            sa.select(ProducerPayoutAccountChange)
            .where(ProducerPayoutAccountChange.producer_id == producer.id)
            .order_by(ProducerPayoutAccountChange.id.desc())
        ).scalars()
    )


def _shown(account: ProducerPayoutAccount) -> dict:
    return {
        "bank_name": account.bank_name,
        "account_name": account.account_name,
        "account_masked": account.account_masked,
    }
