"""A station's livestream sessions from schedule to results: the list (by state and platform),
scheduling one, changing it, featuring its own SKUs at live prices with caps, going live,
ending or cancelling it, and what it sold and whom it helped.

Each action is the service the API endpoint calls (``livestreams.service``,
``livestreams.live_prices``), its form loaded by the endpoint's own schema; another station's
session is the services' 404 whatever the URL says, and a refused move (starting an ended
session) is the session's page again with the service's reason in Chinese.
"""

from datetime import datetime

from flask import redirect, request, url_for
from marshmallow import ValidationError

from marketplace.catalog import service as catalog
from marketplace.clock import SHANGHAI
from marketplace.console import forms, listing, signin
from marketplace.console.pages import blp
from marketplace.console.stations import STATIONS
from marketplace.errors import DomainError, ValidationFailed
from marketplace.extensions import db
from marketplace.livestreams import live_prices
from marketplace.livestreams import service as livestreams
from marketplace.livestreams.models import HostKind, Platform, SessionState
from marketplace.livestreams.schemas import (
    FeatureIn,
    MoveIn,
    SessionIn,
    SessionQuery,
    SessionUpdateIn,
)
from marketplace.reasons import reason
from marketplace.reports import session_results as results

#: the station's SKUs offered for featuring: a station lists tens, not thousands
SKUS_OFFERED = 200
#: what a form's time field holds: Beijing time to the minute, as <input type=datetime-local>
LOCAL_TIME = "%Y-%m-%dT%H:%M"
MOVES = {"start": SessionState.live, "end": SessionState.ended, "cancel": SessionState.cancelled}

CHOOSE_A_SKU = reason("live_form.choose_a_sku", "choose one of the station's SKUs")


# --- the list -----------------------------------------------------------------------------


@blp.get("/station/livestreams")
@signin.signed_in(*STATIONS)
def station_livestreams():
    actor = signin.current_console_actor()
    filters = _list_filters()
    sessions, pager = listing.paged(livestreams.list_sessions, db.session, actor, filters)
    return forms.render_form(
        "console/station_livestreams.html",
        sessions=sessions,
        pager=pager,
        filters=filters,
        states=list(SessionState),
        platforms=list(Platform),
    )


def _list_filters() -> dict:
    """The list's state and platform as the API's query reads them; a value that is none of
    them filters nothing (a link someone shortened)."""
    chosen = {name: request.args[name] for name in ("state", "platform") if request.args.get(name)}
    try:
        return SessionQuery().load(chosen)
    except ValidationError as error:
        return SessionQuery().load({k: v for k, v in chosen.items() if k not in error.messages})


# --- scheduling and changing a session ----------------------------------------------------


def _session_form(**context):
    return forms.render_form(
        "console/station_livestream_form.html",
        platforms=list(Platform),
        host_kinds=list(HostKind),
        **context,
    )


@blp.get("/station/livestreams/new")
@signin.signed_in(*STATIONS)
def new_livestream():
    return _session_form(live=None, values={"host_kind": HostKind.station_operator.value})


@blp.post("/station/livestreams/new")
@signin.signed_in(*STATIONS)
def create_livestream():
    actor = signin.current_console_actor()
    try:
        data = forms.load(SessionIn(), _with_beijing_times(request.form))
        live = livestreams.create_session(db.session, actor, data)
    except DomainError as error:
        return _session_form(live=None, **forms.refusal(error)), error.status
    return redirect(url_for("console.station_livestream", session_id=live.id), 303)


@blp.get("/station/livestreams/<int:session_id>/edit")
@signin.signed_in(*STATIONS)
def edit_livestream(session_id: int):
    live = livestreams.get_session(db.session, signin.current_console_actor(), session_id)
    return _session_form(live=live, values=_typed_as_before(live))


@blp.post("/station/livestreams/<int:session_id>/edit")
@signin.signed_in(*STATIONS)
def update_livestream(session_id: int):
    actor = signin.current_console_actor()
    live = livestreams.get_session(db.session, actor, session_id)
    try:
        # Once live, the form shows only what may still change (title, host): the service
        # refuses the rest, and it is not on the form to be sent.
        data = forms.load(SessionUpdateIn(), _with_beijing_times(request.form), whole=("version",))
        livestreams.update_session(db.session, actor, session_id, data)
    except DomainError as error:
        return _session_form(live=live, **forms.refusal(error)), error.status
    return redirect(url_for("console.station_livestream", session_id=session_id), 303)


def _with_beijing_times(form) -> dict:
    """The form with its times (``2026-12-03T19:30``, as a station reads its clock) in
    Beijing time, which the schema takes with their offset."""
    typed = form.to_dict() if hasattr(form, "to_dict") else dict(form)
    for name in ("scheduled_start", "scheduled_end"):
        text = (typed.get(name) or "").strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            continue  # the schema names it
        if moment.tzinfo is None:
            typed[name] = moment.replace(tzinfo=SHANGHAI).isoformat()
    return typed


def _typed_as_before(live) -> dict:
    values = {
        name: getattr(live, name) or ""
        for name in ("title", "host_name", "host_account", "room_id")
    }
    values.update(
        host_kind=live.host_kind.value,
        platform=live.platform.value,
        version=str(live.version),
        scheduled_start=f"{live.scheduled_start.astimezone(SHANGHAI):{LOCAL_TIME}}",
        scheduled_end=f"{live.scheduled_end.astimezone(SHANGHAI):{LOCAL_TIME}}",
    )
    return values


# --- one session: its featured SKUs, its moves, its results -------------------------------


def _session_page(session_id: int, **context):
    actor = signin.current_console_actor()
    live = live_prices.with_featured(
        db.session, [livestreams.get_session(db.session, actor, session_id)]
    )[0]
    figures = results.session_results(db.session, actor, session_id)
    products, _ = catalog.list_managed_products(
        db.session, actor, {}, page=1, page_size=SKUS_OFFERED
    )
    return forms.render_form(
        "console/station_livestream.html",
        live=live,
        results=figures,
        skus=[(product, sku) for product in products for sku in product.skus],
        open=live.state in livestreams.OPEN,
        moves=[
            move for move, target in MOVES.items() if target in livestreams.TRANSITIONS[live.state]
        ],
        **context,
    )


@blp.get("/station/livestreams/<int:session_id>")
@signin.signed_in(*STATIONS)
def station_livestream(session_id: int):
    return _session_page(session_id)


@blp.post("/station/livestreams/<int:session_id>/featured")
@signin.signed_in(*STATIONS)
def feature_sku(session_id: int):
    actor = signin.current_console_actor()
    sku_text = (request.form.get("sku_id") or "").strip()
    try:
        if not sku_text.isdigit():
            raise ValidationFailed({"sku_id": [CHOOSE_A_SKU()]})
        data = forms.load(FeatureIn(), request.form, yuan={"price": "price_fen"}, whole=("cap",))
        live_prices.feature(db.session, actor, session_id, int(sku_text), data)
    except DomainError as error:
        return _session_page(session_id, **forms.refusal(error), failed_sku=sku_text), error.status
    return redirect(
        url_for("console.station_livestream", session_id=session_id, _anchor="featured"), 303
    )


@blp.post("/station/livestreams/<int:session_id>/featured/<int:sku_id>/remove")
@signin.signed_in(*STATIONS)
def unfeature_sku(session_id: int, sku_id: int):
    actor = signin.current_console_actor()
    try:
        live_prices.unfeature(db.session, actor, session_id, sku_id)
    except DomainError as error:
        return _session_page(session_id, **forms.refusal(error)), error.status
    return redirect(
        url_for("console.station_livestream", session_id=session_id, _anchor="featured"), 303
    )


@blp.post("/station/livestreams/<int:session_id>/<any(start, end, cancel):move>")
@signin.signed_in(*STATIONS)
def move_livestream(session_id: int, move: str):
    actor = signin.current_console_actor()
    try:
        data = forms.load(MoveIn(), request.form)
        livestreams.move(db.session, actor, session_id, MOVES[move], reason=data.get("reason"))
    except DomainError as error:
        return _session_page(session_id, **forms.refusal(error)), error.status
    return redirect(url_for("console.station_livestream", session_id=session_id), 303)
