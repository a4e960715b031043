from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.clock import shanghai_today
from marketplace.households.models import PayoutAccount
from marketplace.households.service import payout_account_columns
from marketplace.ledger import journal
from marketplace.ledger.journal import Entry, Leg
from marketplace.ledger.models import EntryKind, Posting
from marketplace.payouts import bank_files

DATA = Path(__file__).parent / "data"
#: the debit side of test accruals: as if the money came in through an offline payment
CLEARING = journal.gateway_clearing("offline")


def days_ago(n: int):
    return shanghai_today() - timedelta(days=n)


@pytest.fixture
def accrue(session):
    """``accrue(household_id, fen, on=date)``: income accrued to a household in the ledger."""

    def write(household_id: int, amount_fen: int, on=None):
        journal.write_entries(
            session,
            [
                Entry(
                    kind=EntryKind.attribution,
                    effective_on=on or days_ago(10),
                    legs=[
                        Leg(CLEARING, amount_fen),
                        Leg(
                            journal.household_income(household_id),
                            -amount_fen,
                            household_id=household_id,
                        ),
                    ],
                )
            ],
        )

    return write


@pytest.fixture
def claw_back(session):
    """``claw_back(household_id, fen)``: a refund reversal taking income back today."""

    def write(household_id: int, amount_fen: int):
        journal.write_entries(
            session,
            [
                Entry(
                    kind=EntryKind.refund_reversal,
                    effective_on=shanghai_today(),
                    legs=[
                        Leg(
                            journal.household_income(household_id),
                            amount_fen,
                            household_id=household_id,
                        ),
                        Leg(CLEARING, -amount_fen),
                    ],
                )
            ],
        )

    return write


@pytest.fixture
def balance(session):
    """``balance(key)``: the signed balance of a ledger account (credit negative)."""

    def read(key: str) -> int:
        return journal.balances(session, [key])[key]

    return read


@pytest.fixture
def posting_count(session):
    return lambda: session.execute(sa.select(sa.func.count(Posting.id))).scalar_one()


_cards = iter(range(10**6))


@pytest.fixture
def give_card(session):
    """``give_card(household, card_number=None)``: the household's one-card account, held by
    the head."""

    def make(household, card_number: str | None = None, bank_name="梅河口农商银行"):
        card_number = card_number or f"6217{next(_cards):015d}"
        columns = payout_account_columns(
            {
                "bank_name": bank_name,
                "card_number": card_number,
                "holder_name": household.head_name,
                "holder_id_number": household.plain_id_number,
                "holder_relation": "本人",
            }
        )
        account = PayoutAccount(household_id=household.id, **columns)
        session.add(account)
        session.flush()
        account.plain_card_number = card_number
        return account

    return make


@pytest.fixture
def people(regions, make_user, auth):
    """The officials and admins a payout run passes through."""

    class People:
        proposer = make_user(Role.official, region_id=regions.county.id)
        approver = make_user(Role.official, region_id=regions.county.id)
        township_official = make_user(Role.official, region_id=regions.township_b.id)
        other_county_official = make_user(Role.official, region_id=regions.other_county.id)
        admin = make_user(Role.admin)
        buyer = make_user(Role.buyer)

    for name in ("proposer", "approver", "township_official", "other_county_official", "admin"):
        setattr(People, f"{name}_headers", auth(getattr(People, name)))
    People.buyer_headers = auth(People.buyer)
    return People


def actor_for(user, region=None) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        role=user.role,
        region_id=region.id if region else None,
        region_path=region.path if region else None,
    )


def return_file(sent: bytes, outcomes: dict[int, tuple[str, str | None]] | None = None) -> bytes:
    """The bank's answer to a batch we wrote: every row 成功 unless ``outcomes`` maps its index
    (0-based) to (status, reason)."""
    rows = bank_files.read_yikatong(sent)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = bank_files.YIKATONG_SHEET
    sheet.append([*bank_files.YIKATONG_COLUMNS, bank_files.FAILURE_REASON_COLUMN])
    for index, row in enumerate(rows):
        status, reason = (outcomes or {}).get(index, (bank_files.RECEIPT_SUCCESS, None))
        sheet.append(
            [
                row.name,
                row.phone,
                row.id_number,
                row.card_number,
                row.project_name,
                bank_files.fen_to_yuan(row.amount_fen),
                row.county,
                row.township,
                row.address,
                row.batch_serial,
                status,
                reason,
            ]
        )
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
