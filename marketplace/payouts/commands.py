"""``flask payouts ...``: the bank files from the command line, for the county's finance office.

Commands act as a named admin user, so every download and import is attributed and audited
exactly as through the API. Each command commits what succeeded and rolls back otherwise.
"""

from pathlib import Path

import click
from flask.cli import AppGroup

from marketplace.accounts.auth import Actor, actor_for_username
from marketplace.accounts.models import Role
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.payouts import settlement

payouts_cli = AppGroup("payouts", help="Payout runs and the bank's files.")

_AS_ADMIN = click.option(
    "--as", "username", required=True, help="The admin user the action is recorded under."
)


def _admin(username: str) -> Actor:
    actor = actor_for_username(db.session, username)
    if actor is None or actor.role is not Role.admin:
        raise click.ClickException(f"{username} is not an active admin user.")
    return actor


def _fail(error: DomainError) -> None:
    db.session.rollback()
    for field, messages in (error.errors or {}).items():
        click.echo(f"{field}: {'; '.join(messages)}", err=True)
    raise click.ClickException(error.detail)


@payouts_cli.command("export")
@click.argument("run_id", type=int)
@click.argument("output", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option(
    "--format",
    "file_format",
    type=click.Choice(settlement.FILE_FORMATS),
    default=settlement.YIKATONG,
    show_default=True,
)
@_AS_ADMIN
def export_command(run_id: int, output: Path, file_format: str, username: str) -> None:
    """Write an approved run's batch file (full ID and card numbers; the export is audited)."""
    try:
        content = settlement.batch_file(
            db.session, _admin(username), run_id, file_format, remote_addr="cli"
        )
    except DomainError as error:
        _fail(error)
    output.write_bytes(content)
    db.session.commit()
    click.echo(f"Wrote {output} ({len(content)} bytes).")


@payouts_cli.command("import-return")
@click.argument("run_id", type=int)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_AS_ADMIN
def import_return_command(run_id: int, file: Path, username: str) -> None:
    """Apply the bank's return xlsx to a run: 成功 pays a line, 失败 re-credits the household.
    The same file twice changes nothing."""
    try:
        result = settlement.import_return(db.session, _admin(username), run_id, file.read_bytes())
    except DomainError as error:
        _fail(error)
    db.session.commit()
    if result.replayed:
        click.echo(f"Already imported (import {result.record.id}); nothing changed.")
        return
    click.echo(
        f"Import {result.record.id}: {result.record.succeeded} paid, "
        f"{result.record.failed} failed; run {result.run.id} is {result.run.status.value}."
    )
