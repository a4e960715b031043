"""Payout runs in the console, over the payouts' own services: the region's runs, proposing one,
a run's lines, its approval by another official (maker-checker: the proposer is refused, in
the service's words), the bank's batch files, and the bank's return file that settles the
lines; and the approvals page, where runs and funded pledges wait for a second user."""

from dataclasses import replace
from datetime import timedelta

import sqlalchemy as sa
from flask import Response, redirect, render_template, request, url_for
from marshmallow import ValidationError

from marketplace.accounts.models import Role, User
from marketplace.clock import shanghai_today
from marketplace.console import forms, listing, messages, signin
from marketplace.console.pages import blp
from marketplace.errors import DomainError, ValidationFailed, flatten_field_errors
from marketplace.extensions import db
from marketplace.ledger.pledges import funding as pledge_funding
from marketplace.ledger.pledges import service as pledges
from marketplace.payouts import proposals, settlement
from marketplace.payouts import service as payouts
from marketplace.payouts.api import MEDIA_TYPES
from marketplace.payouts.models import LineStatus, PayoutLine, RunStatus
from marketplace.payouts.schemas import PayoutRunIn, PayoutRunQuery, ReturnUploadIn
from marketplace.regions import service as regions
from marketplace.regions.models import Region, RegionLevel
from marketplace.request_cycle import writes_when_read

OFFICIALS = (Role.admin, Role.official)
#: runs and pledges listed on the approvals page
WAITING = 50
#: the regions an admin may propose for, listed in the form
REGIONS_LISTED = 200


# --- the region's runs, and proposing one ----------------------------------------------------


@blp.get("/payouts")
@signin.signed_in(*OFFICIALS)
def payout_runs():
    status = request.args.get("status", "")
    try:
        filters = forms.load(PayoutRunQuery(), request.args, whole=("region_id",))
    except DomainError as error:
        return _runs_page(status, errors=forms.refusal(error)["errors"]), error.status
    return _runs_page(status, filters=filters)


@blp.post("/payouts")
@signin.signed_in(*OFFICIALS)
def propose_payout_run():
    actor = signin.current_console_actor()
    try:
        data = forms.load(PayoutRunIn(), request.form, whole=("region_id",))
        proposal = proposals.propose_run(db.session, actor, data)
    except DomainError as error:
        return _runs_page("", filters={}, **forms.refusal(error)), error.status
    return redirect(
        url_for("console.payout_run", run_id=proposal.run.id, skipped=len(proposal.skipped))
    )


def _runs_page(status: str, *, filters=None, errors=None, message=None, values=None) -> str:
    actor = signin.current_console_actor()
    runs, pager = (
        ([], None)
        if filters is None
        else listing.paged(payouts.list_runs, db.session, actor, filters)
    )
    last_month_end = shanghai_today().replace(day=1) - timedelta(days=1)
    proposable = _payout_regions(actor)
    return render_template(
        "console/payout_runs.html",
        runs=runs,
        pager=pager,
        status=status,
        statuses=list(RunStatus),
        regions=proposable,
        region_names={
            **_region_names([run.region_id for run in runs]),
            **{region.id: region.name for region in proposable},
        },
        errors=errors or {},
        message=message,
        values=values or {},
        suggested={
            "period_end": last_month_end.isoformat(),
            "project_name": f"{last_month_end.year}年{last_month_end.month}月消费帮扶收益",
        },
    )


def _payout_regions(actor) -> list:
    """The counties and townships the actor may propose a run for (the service decides)."""
    if actor.role is Role.admin:
        found, _ = regions.list_regions(
            db.session, {"level": RegionLevel.county}, page=1, page_size=REGIONS_LISTED
        )
        townships, _ = regions.list_regions(
            db.session, {"level": RegionLevel.township}, page=1, page_size=REGIONS_LISTED
        )
        return sorted([*found, *townships], key=lambda region: region.id)
    own = regions.get_region(db.session, actor.region_id)
    if own.level is RegionLevel.village:
        return []
    children = []
    if own.level is RegionLevel.county:
        children, _ = regions.list_regions(
            db.session, {"parent_id": own.id}, page=1, page_size=REGIONS_LISTED
        )
    return [own, *children]


def _region_names(region_ids) -> dict[int, str]:
    return dict(
        db.session.execute(
            sa.select(Region.id, Region.name).where(Region.id.in_(set(region_ids)))
        ).all()
    )


# --- one run: its lines, approval, files, the bank's return ----------------------------------


@blp.get("/payouts/<int:run_id>")
@signin.signed_in(*OFFICIALS)
def payout_run(run_id: int):
    return _run_page(run_id)


def _run_page(run_id: int, **context) -> str:
    actor = signin.current_console_actor()
    run = payouts.get_run(db.session, actor, run_id)
    shown = request.args.get("lines", "")
    lines = [line for line in run.lines if not shown or line.status.value == shown]

    def page_of_lines(*, page: int, page_size: int):
        return lines[(page - 1) * page_size : page * page_size], len(lines)

    listed, pager = listing.paged(page_of_lines)
    # A refused form is answered on its own address: the page's links go to the page's.
    pager = replace(
        pager,
        endpoint="console.payout_run",
        arguments={"run_id": run.id, **({"lines": shown} if shown else {})},
    )
    context.setdefault("errors", {})
    return render_template(
        "console/payout_run.html",
        run=run,
        lines=listed,
        pager=pager,
        shown=shown,
        line_statuses=[status for status in LineStatus if status is not LineStatus.proposed],
        counts={
            status.value: sum(1 for line in run.lines if line.status is status)
            for status in LineStatus
        },
        people=_display_names([run.proposed_by_id, run.approved_by_id]),
        may_download=actor.is_admin or actor.user_id == run.approved_by_id,
        **context,
    )


def _display_names(user_ids) -> dict[int, str]:
    wanted = [user_id for user_id in user_ids if user_id is not None]
    return dict(
        db.session.execute(sa.select(User.id, User.display_name).where(User.id.in_(wanted))).all()
    )


@blp.post("/payouts/<int:run_id>/<any(approve, cancel):action>")
@signin.signed_in(*OFFICIALS)
def decide_payout_run(run_id: int, action: str):
    """Approve (never by the proposer: the service refuses, and the page says why) or cancel."""
    actor = signin.current_console_actor()
    decide = payouts.approve_run if action == "approve" else payouts.cancel_run
    try:
        decide(db.session, actor, run_id)
    except DomainError as error:
        forms.refusal(error)  # a NotFound goes on to the 404 page
        return _run_page(run_id, message=messages.chinese(error.detail)), error.status
    return redirect(url_for("console.payout_run", run_id=run_id, done=action))


@blp.get("/payouts/<int:run_id>/files/<any('yikatong.xlsx', 'bank.txt'):file_format>")
@writes_when_read  # every download is recorded, as the API's is
@signin.signed_in(*OFFICIALS)
def payout_run_file(run_id: int, file_format: str):
    """The bank's batch file, the very bytes the API serves (full ID and card numbers: the
    approving official and admins only)."""
    actor = signin.current_console_actor()
    content = settlement.batch_file(
        db.session, actor, run_id, file_format, remote_addr=request.remote_addr
    )
    response = Response(content, mimetype=MEDIA_TYPES[file_format])
    response.headers["Content-Disposition"] = (
        f'attachment; filename="payout-run-{run_id}-{file_format}"'
    )
    return response


@blp.post("/payouts/<int:run_id>/returns")
@signin.signed_in(*OFFICIALS)
def import_payout_return(run_id: int):
    """The bank's return file, either format the API takes (the one-card return workbook, or
    the organisations' return text): 成功 pays a line, 失败 owes it to the payee again."""
    actor = signin.current_console_actor()
    try:
        upload = _uploaded_return()
        result = settlement.import_return(db.session, actor, run_id, upload.read())
    except DomainError as error:
        refused = forms.refusal(error)
        page = _run_page(
            run_id,
            message=refused["message"],
            errors=refused["errors"],
            row_errors=_row_errors(refused["errors"]),
        )
        return page, error.status
    record = result.record
    return redirect(
        url_for(
            "console.payout_run",
            run_id=run_id,
            imported="again" if result.replayed else f"{record.succeeded}-{record.failed}",
        )
    )


def _uploaded_return():
    try:
        return ReturnUploadIn().load({"file": request.files.get("file")} if request.files else {})[
            "file"
        ]
    except ValidationError as error:
        refused = flatten_field_errors(error.messages)
        raise ValidationFailed(refused) from None


def _row_errors(errors: dict) -> list[str]:
    """The file's own rows' problems (all but the upload field's), each with where it is."""
    return [
        f"{where}：{'；'.join(reasons)}" for where, reasons in errors.items() if where != "file"
    ]


# --- approvals ------------------------------------------------------------------------------


def _approvals_page(**context):
    actor = signin.current_console_actor()
    runs, runs_total = payouts.list_runs(
        db.session, actor, {"status": RunStatus.proposed}, page=1, page_size=WAITING
    )
    context.setdefault("failed", None)
    waiting_pledges, pledges_pager = listing.paged(pledges.awaiting_approval, db.session, actor)
    # A refused approval is answered on the form's address: the pager's links go to the page's.
    pledges_pager = replace(pledges_pager, endpoint="console.approvals", arguments={})
    line_counts = dict(
        db.session.execute(
            sa.select(PayoutLine.run_id, sa.func.count())
            .where(PayoutLine.run_id.in_([run.id for run in runs]))
            .group_by(PayoutLine.run_id)
        ).all()
    )
    return render_template(
        "console/approvals.html",
        runs=runs,
        line_counts=line_counts,
        runs_total=runs_total,
        pledges=waiting_pledges,
        pledges_pager=pledges_pager,
        **context,
    )


@blp.get("/approvals")
@signin.signed_in(*OFFICIALS)
def approvals():
    return _approvals_page()


@blp.post("/approvals/<any(runs, pledges):kind>/<int:item_id>")
@signin.signed_in(*OFFICIALS)
def approve(kind: str, item_id: int):
    """Approve a payout run or a funded pledge: the services refuse the user who proposed it."""
    actor = signin.current_console_actor()
    try:
        if kind == "runs":
            payouts.approve_run(db.session, actor, item_id)
        else:
            pledge_funding.approve_pledge(db.session, actor, item_id)
    except DomainError as error:
        forms.refusal(error)  # a NotFound goes on to the 404 page
        page = _approvals_page(message=messages.chinese(error.detail), failed=(kind, item_id))
        return page, error.status
    if kind == "runs":  # the approver's next step: the bank's batch, on the run's page
        return redirect(url_for("console.payout_run", run_id=item_id, done="approve"))
    return redirect(url_for("console.approvals", done=f"{kind}-{item_id}"))
