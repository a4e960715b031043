"""``flask households ...``: the registry's command-line tools.

A command has no request boundary, so each command is its own: it commits what succeeded and
rolls back everything otherwise.
"""

import sys
from datetime import date
from functools import partial
from pathlib import Path

import click
from flask.cli import AppGroup
from tqdm import tqdm

from marketplace.extensions import db
from marketplace.households import importing, status

households_cli = AppGroup("households", help="The household registry.")


@households_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate and report; write nothing.")
@click.option(
    "--skip-existing",
    is_flag=True,
    help="Skip rows whose 建档立卡编号 is already registered with the same 身份证号, leaving "
    "them unchanged, instead of reporting them; lets an import be run again.",
)
def import_command(file: Path, dry_run: bool, skip_existing: bool) -> None:
    """Import households from a registry CSV file (UTF-8, with or without BOM, or GB18030).

    Every row is checked first; a single bad row imports nothing and each problem is reported
    with its line and column (exit status 1). A registry number already in the registry is
    reported as a problem, never updated: edit registered households through the API, or pass
    --skip-existing.

    \b
    Columns (headers in the first line, any order; * required):
      建档立卡编号*   registry number
      户主姓名*       head of household
      身份证号*       head's national ID number (also: 户主身份证号)
      家庭人数*       members count (also: 家庭人口数)
      村代码*         12-digit division code of the village
      户类型*         贫困户 / 未脱贫户, 脱贫户 / 已脱贫户, 监测户 / 监测对象 (also: 状态)
      状态生效日期*   when that status took effect: 2016-12-31, 2016/12/31 or 20161231
      监测类型        for 监测户: 脱贫不稳定户, 边缘易致贫户 or 突发严重困难户
      致贫原因        因病、因残、因学、因灾、缺土地、缺水、缺技术、缺劳力、缺资金、
                      交通条件落后、自身发展动力不足、其他 (separated by 、 ; or ,)
      联系电话, 详细地址, 帮扶责任人, 帮扶人电话
      开户银行, 一卡通卡号, 持卡人姓名, 持卡人身份证号, 与户主关系
                      the one-card payout account, optional; 与户主关系 defaults to 本人,
                      whose name and ID number default to the head's
    """
    progress = partial(tqdm, file=sys.stderr, leave=False)
    report = importing.import_registry(
        db.session,
        file.read_bytes(),
        dry_run=dry_run,
        skip_existing=skip_existing,
        progress=progress,
    )
    if not report.ok:
        db.session.rollback()
        for problem in report.problems:
            click.echo(str(problem), err=True)
        lines = len({problem.line for problem in report.problems})
        raise click.ClickException(
            f"{len(report.problems)} problems on {lines} lines; nothing was imported."
        )
    if dry_run:
        db.session.rollback()
        click.echo(
            f"Dry run: {report.rows} rows are valid ({report.skipped} already registered); "
            "nothing was written."
        )
        return
    db.session.commit()
    click.echo(
        f"Imported {report.created} households ({report.with_payout_account} with a payout "
        f"account); skipped {report.skipped} already registered."
    )


@households_cli.command("apply-status-changes")
@click.option(
    "--date",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day to apply changes up to (default: today in Asia/Shanghai).",
)
def apply_status_changes_command(as_of) -> None:
    """Make status changes dated in the future take effect when their day comes (run daily)."""
    today: date | None = as_of.date() if as_of else None
    changed = status.apply_due_status_changes(db.session, today=today)
    db.session.commit()
    click.echo(f"{changed} households changed status.")
