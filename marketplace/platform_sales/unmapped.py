"""What a station needs to map its platforms' products: the products its uploads met with no
map, by the name its export gave them, and which of its own SKUs a name most likely is.

An unmapped product is kept as its rows' problem (``platform_row.product_not_mapped``, naming
the platform and the product id); its name is only in the export, so it is read from the
failed rows file of the upload's job, which holds those rows as the export had them.
"""

import io
import re
from difflib import SequenceMatcher

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.catalog.models import Product, Sku
from marketplace.errors import NotFound
from marketplace.jobs import service as jobs
from marketplace.livestreams.models import Platform
from marketplace.platform_sales import formats, import_jobs
from marketplace.platform_sales.cells import clean, records
from marketplace.platform_sales.models import ImportProblem, PlatformImport, PlatformProduct
from marketplace.platform_sales.rows import FileProblem
from marketplace.platform_sales.run import PRODUCT_NOT_MAPPED
from marketplace.producers.scoping import STATIONS

#: the problems read for the unmapped products: a festival's upload fails a few thousand rows
#: at most for want of a map, and they name a handful of products
PROBLEMS_READ = 5000
#: uploads whose failed rows are read for the products' names
JOBS_READ_FOR_NAMES = 5
#: the latest uploads of the actor read for what their dry runs met
DRY_RUNS_READ = 10
#: a station lists tens of SKUs; this many are compared with a name
SKUS_COMPARED = 2000
_NOT_A_WORD = re.compile(r"[\s\W_]+")


def station_skus(session, actor: Actor, station_id: int) -> list[dict]:
    """The station's SKUs as a map names them: code, product name, spec."""
    station = STATIONS.get(session, station_id, actor)
    rows = session.execute(
        sa.select(Sku.id, Sku.code, Sku.spec, Product.name)
        .join(Product, Product.id == Sku.product_id)
        .where(Sku.station_id == station.id)
        .order_by(Product.name, Sku.code)
        .limit(SKUS_COMPARED)
    )
    return [
        {"sku_id": row.id, "code": row.code, "spec": row.spec, "product_name": row.name}
        for row in rows
    ]


def unmapped_products(session, actor: Actor, station_id: int) -> list[dict]:
    """The products the station's uploads found no map for and that are still unmapped, the
    latest upload's first: platform, outside id, the export's name for it (when its failed
    rows can be read) and the job that met it. A dry run keeps no problem rows: the actor's
    own latest dry runs are read from their reports."""
    station = STATIONS.get(session, station_id, actor)
    problems = session.execute(
        sa.select(ImportProblem.reason, PlatformImport.job_id)
        .join(PlatformImport, PlatformImport.id == ImportProblem.import_id)
        .where(
            PlatformImport.station_id == station.id,
            ImportProblem.reason["code"].as_string() == PRODUCT_NOT_MAPPED.code,
        )
        .order_by(ImportProblem.import_id.desc(), ImportProblem.line)
        .limit(PROBLEMS_READ)
    )
    seen = sorted(
        [*problems, *_dry_run_problems(session, actor, station.id)],
        key=lambda kept_in: -(kept_in[1] or 0),
    )
    found: dict[tuple, dict] = {}
    for kept, job_id in seen:
        params = kept.get("params", {})
        key = (params.get("platform"), params.get("product_key"))
        if None not in key and key not in found:
            found[key] = {"platform": key[0], "outside_id": key[1], "job_id": job_id}
    mapped = _mapped(session, station.id, list(found))
    unmapped = [product for key, product in found.items() if key not in mapped]
    jobs_met = list(dict.fromkeys(p["job_id"] for p in unmapped if p["job_id"]))
    names = {
        job_id: failed_row_names(session, actor, job_id)
        for job_id in jobs_met[:JOBS_READ_FOR_NAMES]
    }
    for product in unmapped:
        product["title"] = names.get(product["job_id"], {}).get(product["outside_id"])
    return unmapped


def _dry_run_problems(session, actor: Actor, station_id: int) -> list[tuple[dict, int]]:
    """(problem, job id) of the unmapped products the actor's latest dry runs of the
    station's exports met, as their reports keep them."""
    latest, _ = jobs.list_jobs(
        session, actor, {"kind": import_jobs.KIND}, page=1, page_size=DRY_RUNS_READ
    )
    return [
        (problem, job.id)
        for job in latest
        if (job.parameters or {}).get("station_id") == station_id
        for problem in ((job.result or {}).get("report") or {}).get("problems", [])
        if problem.get("code") == PRODUCT_NOT_MAPPED.code
    ]


def _mapped(session, station_id: int, keys: list[tuple]) -> set[tuple]:
    if not keys:
        return set()
    rows = session.execute(
        sa.select(PlatformProduct.platform, PlatformProduct.outside_id).where(
            PlatformProduct.station_id == station_id,
            PlatformProduct.outside_id.in_({outside_id for _, outside_id in keys}),
        )
    )
    return {(row.platform.value, row.outside_id) for row in rows}


def failed_row_names(session, actor: Actor, job_id: int) -> dict[str, str]:
    """{product id: the export's name for it} of the rows a platform import's job could not
    take, read from its failed rows file; empty when it has none, or was read with a layout
    the station described (whose columns are its own)."""
    job = jobs.get_job(session, actor, job_id)
    parameters = job.parameters or {}
    if parameters.get("layout") or "failed_rows.csv" not in (job.result or {}).get("files", []):
        return {}
    layout = formats.layout_for(Platform(parameters["platform"]))
    if layout is None or layout.title is None:
        return {}
    try:
        failed = jobs.job_file(session, actor, job_id, "failed_rows.csv")
        names = {}
        for _, cells in records(io.BytesIO(failed.data)):
            key, title = clean(cells.get(layout.product_key)), clean(cells.get(layout.title))
            if key and title:
                names.setdefault(key, title)
        return names
    except (NotFound, FileProblem):
        return {}


def suggestions(skus: list[dict], name: str | None, *, limit: int = 3) -> list[dict]:
    """The SKUs (of ``station_skus``) whose product name and spec best match ``name``, best
    first; none when nothing matches. A platform's title wraps the product's name in its own
    words (【蓝莓节】长白山野生蓝莓 500g 装), so a SKU scores by how much of its name the
    title holds, then by how alike the two read."""
    title = _plain(name or "")
    if not title:
        return []
    scored = []
    for sku in skus:
        own = _plain(f"{sku['product_name']}{sku['spec']}")
        pairs = _pairs(own)
        held = len(pairs & _pairs(title)) / len(pairs) if pairs else 0.0
        if held > 0:
            scored.append((held, SequenceMatcher(None, own, title).ratio(), sku))
    scored.sort(key=lambda item: (-item[0], -item[1], item[2]["code"]))
    return [sku for _, _, sku in scored[:limit]]


def _plain(text: str) -> str:
    return _NOT_A_WORD.sub("", text).lower()


def _pairs(text: str) -> set[str]:
    """Its characters two by two (one alone for a one-character text): Chinese has no spaces
    to split words by."""
    return {text[i : i + 2] for i in range(max(1, len(text) - 1))} if text else set()
