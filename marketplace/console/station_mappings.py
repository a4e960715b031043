"""A station's map of outside platforms' product ids to its own SKUs, kept in the console:
the map page by page, one product mapped at a time (the SKUs whose names best match the
platform's name for it suggested first), a block of lines pasted from a spreadsheet, and a
map forgotten. The products its uploads met with no map are listed with their suggestions, so
a failed import's rows can be taken again (``station_imports``).

Every change is ``platform_sales.mapping``'s, the API's: a paste is saved whole or not at all,
and each bad line is named by its number.
"""

from flask import redirect, request, url_for
from marshmallow import ValidationError

from marketplace.console import forms, listing, messages, signin
from marketplace.console.pages import blp
from marketplace.console.stations import STATIONS
from marketplace.errors import DomainError, ValidationFailed, flatten_field_errors
from marketplace.extensions import db
from marketplace.livestreams.models import Platform
from marketplace.platform_sales import mapping, unmapped
from marketplace.platform_sales.schemas import PlatformProductIn, PlatformProductsIn
from marketplace.reasons import reason

#: the platforms whose exports are imported (our own checkout is not)
OUTSIDE = [platform for platform in Platform if platform is not Platform.own]

PASTE_NOTHING = reason("platform_map_paste.empty", "paste at least one line")
PASTE_UNSPLIT = reason(
    "platform_map_paste.no_separator",
    "a platform product id, then a tab or a comma, then our SKU code",
)
PASTE_NO_SUCH_CODE = reason(
    "platform_map_paste.no_such_sku_code", "no SKU of this station has the code {code}"
)
CHOOSE_A_SKU = reason("platform_map.choose_a_sku", "choose one of the station's SKUs")


def _mappings_page(**context):
    actor = signin.current_console_actor()
    filters = {}
    # The list's own filter: ``platform`` is what a link from a failed row prefills.
    if request.args.get("list_platform") in {p.value for p in OUTSIDE}:
        filters["platform"] = Platform(request.args["list_platform"])
    maps, pager = listing.paged(mapping.list_products, db.session, actor, actor.station_id, filters)
    skus = unmapped.station_skus(db.session, actor, actor.station_id)
    seen = unmapped.unmapped_products(db.session, actor, actor.station_id)
    for product in seen:
        product["suggestions"] = unmapped.suggestions(skus, product["title"])
    name = request.args.get("name", "").strip()
    return forms.render_form(
        "console/station_mappings.html",
        maps=maps,
        pager=pager,
        filters=filters,
        platforms=OUTSIDE,
        skus=skus,
        skus_by_id={sku["sku_id"]: sku for sku in skus},
        unmapped=seen,
        name=name,
        suggested=unmapped.suggestions(skus, name),
        **context,
    )


@blp.get("/station/platform-products")
@signin.signed_in(*STATIONS)
def station_mappings():
    typed = {k: request.args[k] for k in ("platform", "outside_id") if request.args.get(k)}
    return _mappings_page(values=typed)


@blp.post("/station/platform-products")
@signin.signed_in(*STATIONS)
def map_platform_product():
    actor = signin.current_console_actor()
    try:
        if not (request.form.get("sku_id") or "").strip().isdigit():
            raise ValidationFailed({"sku_id": [CHOOSE_A_SKU()]})
        item = forms.load(PlatformProductIn(), request.form, whole=("sku_id",))
        mapping.map_products(db.session, actor, actor.station_id, [item])
    except DomainError as error:
        refused = forms.refusal(error)
        refused["errors"] = {
            key.removeprefix("products.0."): reasons for key, reasons in refused["errors"].items()
        }
        return _mappings_page(**refused), error.status
    return redirect(
        url_for("console.station_mappings", saved=request.form["outside_id"].strip()), 303
    )


@blp.post("/station/platform-products/paste")
@signin.signed_in(*STATIONS)
def paste_platform_products():
    """Lines of ``platform product id<TAB or ,>our SKU code``, as copied from a spreadsheet:
    all saved, or none and each bad line named."""
    actor = signin.current_console_actor()
    platform = request.form.get("platform", "")
    skus = unmapped.station_skus(db.session, actor, actor.station_id)
    by_code = {sku["code"]: sku["sku_id"] for sku in skus}
    items, lines, bad = _pasted(request.form.get("lines", ""), platform, by_code)
    if not items and not bad:
        bad = [(None, messages.chinese(PASTE_NOTHING()))]
    if not bad:
        try:
            loaded = PlatformProductsIn().load({"products": items})
            saved = mapping.map_products(db.session, actor, actor.station_id, loaded["products"])
        except ValidationError as error:  # the API's schema: an id too long, ...
            return _refused_paste(flatten_field_errors(error.messages), lines, 422)
        except DomainError as error:
            return _refused_paste(error.errors or {}, lines, error.status)
        return redirect(url_for("console.station_mappings", pasted=len(items), **saved), 303)
    return _mappings_page(pasted_errors=bad, values=request.form), 422


def _pasted(text: str, platform: str, by_code: dict) -> tuple[list, list, list]:
    """The pasted lines as the API's items, the line number of each, and each bad line's
    number with its reason in Chinese."""
    items, lines, bad = [], [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        separator = "\t" if "\t" in line else ","
        outside_id, _, code = (part.strip() for part in line.partition(separator))
        if not outside_id or not code:
            bad.append((number, messages.chinese(PASTE_UNSPLIT())))
        elif code not in by_code:
            bad.append((number, messages.chinese(PASTE_NO_SUCH_CODE(code=code))))
        else:
            item = {"platform": platform, "outside_id": outside_id, "sku_id": by_code[code]}
            try:  # the API's schema, a line at a time, so that every bad line is named at once
                PlatformProductIn().load(item)
            except ValidationError as error:
                refused = messages.chinese_errors(flatten_field_errors(error.messages))
                bad.extend((number, text) for texts in refused.values() for text in texts)
                continue
            items.append(item)
            lines.append(number)
    return items, lines, bad


def _refused_paste(errors: dict, lines: list, status: int):
    """The service's or the schema's reasons by item (``products.3.sku_id``), said by the
    pasted line they came from."""
    bad = []
    for key, reasons in messages.chinese_errors(errors).items():
        parts = key.split(".")
        number = lines[int(parts[1])] if len(parts) > 1 and parts[1].isdigit() else None
        bad.extend((number, text) for text in reasons)
    bad.sort(key=lambda found: found[0] or 0)
    return _mappings_page(pasted_errors=bad, values=request.form), status


@blp.post("/station/platform-products/<any(" + ", ".join(OUTSIDE) + "):platform>/delete")
@signin.signed_in(*STATIONS)
def unmap_platform_product(platform: str):
    actor = signin.current_console_actor()
    outside_id = request.form.get("outside_id", "")
    mapping.unmap_product(db.session, actor, actor.station_id, Platform(platform), outside_id)
    return redirect(
        url_for("console.station_mappings", list_platform=platform, _anchor="maps"), 303
    )
