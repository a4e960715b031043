"""``flask livestreams import``: a platform's export from the command line, for files too large
to upload and for a station's back catalogue of exports.

It does exactly what the upload does (``importing.import_export``), with a progress bar, and
prints every problem by line. Without ``--as`` it acts with an admin's authority, recorded as
the command line (the person running it holds the server already); with ``--as`` it acts as
that station or admin user, who must be allowed to import for the station.
"""

import sys
from pathlib import Path

import click
from flask.cli import AppGroup
from tqdm import tqdm

from marketplace.accounts.auth import Actor, actor_for_username
from marketplace.accounts.models import Role
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.livestreams.models import Platform
from marketplace.platform_sales import importing

livestreams_cli = AppGroup("livestreams", help="Livestream sessions and platform sales.")


def _actor(username: str | None) -> Actor:
    if username is None:
        return Actor(user_id=None, username="command line", role=Role.admin)
    actor = actor_for_username(db.session, username)
    if actor is None or actor.role not in (Role.admin, Role.station):
        raise click.ClickException(f"{username} is not an active station or admin user.")
    return actor


@livestreams_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--platform",
    type=click.Choice([p.value for p in Platform if p is not Platform.own]),
    required=True,
)
@click.option("--station", "station_id", type=int, required=True, help="The station's id.")
@click.option(
    "--items",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Taobao: its item report, beside the order report FILE.",
)
@click.option("--session", "session_id", type=int, help="The session every live row is of.")
@click.option("--layout", "layout_name", help="The station's layout for an unknown export.")
@click.option("--dry-run", is_flag=True, help="Report what would happen; write nothing.")
@click.option("--as", "username", help="The station or admin user the import is recorded under.")
def import_command(
    file: Path,
    platform: str,
    station_id: int,
    items: Path | None,
    session_id: int | None,
    layout_name: str | None,
    dry_run: bool,
    username: str | None,
) -> None:
    """Import a platform's order export FILE for a station."""
    actor = _actor(username)
    with (
        file.open("rb") as stream,
        items.open("rb") if items else _Nothing() as item_stream,
        tqdm(
            total=file.stat().st_size,
            unit="B",
            unit_scale=True,
            desc=file.name,
            disable=None,  # no bar when the output is not a terminal
        ) as bar,
    ):
        upload = importing.Upload(
            platform=Platform(platform),
            stream=stream,
            filename=file.name,
            items=item_stream,
            layout_name=layout_name,
            session_id=session_id,
            dry_run=dry_run,
        )
        try:
            report = importing.import_export(
                db.session,
                actor,
                station_id,
                upload,
                on_bytes=bar.update,
                on_problem=lambda problem: tqdm.write(_problem_line(problem), file=sys.stderr),
            )
        except DomainError as error:
            db.session.rollback()
            for name, messages in (error.errors or {}).items():
                click.echo(f"{name}: {'; '.join(messages)}", err=True)
            raise click.ClickException(error.detail) from None
    db.session.commit()
    click.echo(_summary(report))


class _Nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _problem_line(problem) -> str:
    where = f"line {problem.line}" + (f", {problem.column}" if problem.column else "")
    return f"{where}: {problem.reason}"


def _summary(report: importing.Report) -> str:
    head = "Dry run: nothing written. " if report.dry_run else f"Import {report.id}: "
    return (
        f"{head}{report.rows} rows: {report.created_lines} created, {report.updated_lines} "
        f"updated, {report.unchanged_lines} unchanged, {report.duplicate_lines} duplicate, "
        f"{report.skipped_lines} not paid, {report.failed_lines} failed."
    )
