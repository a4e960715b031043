"""The county -> township -> village tree. Regions are public reference data: anyone may read
them; only admins change them.

Every question about a subtree is answered here, from the materialized path (``/1/4/17/``): what
lies inside a region, which regions lie above it, and which county it belongs to. The path
never leaves this module but as the official's subtree the actor carries (``accounts``), which
``in_subtree`` and ``is_within_path`` take; a test fails if anything else reads it. A filter
naming a region that does not exist matches nothing, as a filter on any other unknown id does:
the subtree is resolved inside the statement that filters, so it costs no extra query and
raises nothing.
"""

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from marketplace.accounts.scoping import NOT_FOUND
from marketplace.db import page_of
from marketplace.errors import NotFound, ValidationFailed
from marketplace.reasons import reason
from marketplace.regions.models import CHILD_LEVEL, Region, RegionLevel

#: Division codes: 6 digits of county, 3 of township, 3 of village (统计用区划代码).
_CODE_PREFIX = {RegionLevel.county: 6, RegionLevel.township: 9}

NO_SUCH_REGION = reason("region.unknown", "no region with id {region_id}")
VILLAGE_HAS_NO_CHILDREN = reason("region.village_has_no_children", "a village has no child regions")
CODE_OUTSIDE_PARENT = reason(
    "region.code_outside_parent", "must start with the parent's prefix {prefix}"
)
CODE_TAKEN = reason("region.code_taken", "already used by another region")
NAME_TAKEN = reason("region.name_taken", "a region with this name already exists here")


def get_region(session, region_id: int) -> Region:
    region = session.get(Region, region_id)
    if region is None:
        raise NotFound(NOT_FOUND(kind="Region", id=region_id))
    return region


def in_subtree(region_column, root_path: str) -> sa.ColumnElement:
    """``region_column`` names a region inside the subtree whose root has ``root_path`` (the root
    included): one indexed ``LIKE '/1/4/%'``. Scoping rules use it with an official's path."""
    return region_column.in_(sa.select(Region.id).where(Region.path.startswith(root_path)))


def above_subtree(region_column, root_path: str) -> sa.ColumnElement:
    """``region_column`` names a region above the subtree whose root has ``root_path``, or its
    root: a region whose own subtree holds it (a county-led session seen by the township)."""
    # type_coerce, not literal: ``root_path`` may be a statement's parameter (``ScopeRule.get``).
    path = sa.type_coerce(root_path, sa.String)
    return region_column.in_(sa.select(Region.id).where(path.startswith(Region.path)))


def in_subtree_of(region_column, root_id: int) -> sa.ColumnElement:
    """``region_column`` names a region inside the subtree of region ``root_id``; an unknown
    ``root_id`` matches nothing. For filters such as ``within``."""
    return region_column.in_(subtree_ids(root_id))


def subtree_ids(root_id: int) -> sa.Select:
    """The ids of the regions in the subtree of region ``root_id`` (itself included), as a
    subquery: nothing when it does not exist."""
    root = aliased(Region, name="subtree_root")
    root_path = sa.select(root.path).where(root.id == root_id).scalar_subquery()
    return sa.select(Region.id).where(Region.path.startswith(root_path))


def _path_ids(path: str) -> list[int]:
    """``[1, 4, 17]`` for the path ``/1/4/17/``: the region's ancestors' ids and its own."""
    return [int(part) for part in path.strip("/").split("/")]


def _path_of(session, region_id: int) -> str:
    return session.execute(sa.select(Region.path).where(Region.id == region_id)).scalar_one()


def lineage_ids(session, region_id: int) -> list[int]:
    """The ids of an existing region's ancestors from its county down, and its own last."""
    return _path_ids(_path_of(session, region_id))


def lineages(session, region_ids) -> dict[int, list[int]]:
    """``lineage_ids`` of many regions at once (the unknown ones left out)."""
    return {
        region_id: _path_ids(path)
        for region_id, path in session.execute(
            sa.select(Region.id, Region.path).where(Region.id.in_(set(region_ids)))
        )
    }


def subtree(session, root: Region) -> list[Region]:
    """The regions of ``root``'s subtree, ``root`` first, each before the regions below it."""
    return list(
        session.execute(
            sa.select(Region).where(Region.path.startswith(root.path)).order_by(Region.path)
        ).scalars()
    )


def villages_by_child(session, region: Region) -> dict[int, int]:
    """Each village of the region's subtree -> the child of ``region`` it lies in (at
    village level, the village itself, with nothing to read)."""
    if region.level is RegionLevel.village:
        return {region.id: region.id}
    return child_of_villages(region, village_paths(session, region))


def village_paths(session, region: Region) -> dict[int, str]:
    """Each village of the region's subtree -> its path."""
    return dict(
        session.execute(
            sa.select(Region.id, Region.path).where(
                Region.level == RegionLevel.village, Region.path.startswith(region.path)
            )
        ).all()
    )


def child_of_villages(region: Region, paths: dict[int, str]) -> dict[int, int]:
    """``villages_by_child`` of ``region`` from the paths of villages read already
    (``village_paths`` of it or of a region above it): those outside its subtree left out."""
    inside = {
        village_id: path for village_id, path in paths.items() if path.startswith(region.path)
    }
    if region.level is RegionLevel.village:
        return {village_id: village_id for village_id in inside}
    depth = len(_path_ids(region.path))
    return {village_id: _path_ids(path)[depth] for village_id, path in inside.items()}


def county_id_of(session, region_id: int) -> int:
    """The county an existing region lies in (itself, for a county)."""
    return lineage_ids(session, region_id)[0]


def is_within(session, region_id: int, root_id: int) -> bool:
    """Whether an existing region lies in the subtree of region ``root_id`` (or is it)."""
    return root_id in lineage_ids(session, region_id)


def is_within_path(region: Region, root_path: str | None) -> bool:
    """Whether ``region`` lies in the subtree whose root has ``root_path`` (an official's
    region, as the actor carries it); ``None`` is no subtree at all."""
    return root_path is not None and region.path.startswith(root_path)


def list_regions(session, filters: dict, *, page: int, page_size: int):
    stmt = sa.select(Region)
    if filters.get("level") is not None:
        stmt = stmt.where(Region.level == filters["level"])
    if filters.get("parent_id") is not None:
        stmt = stmt.where(Region.parent_id == filters["parent_id"])
    if filters.get("within") is not None:
        stmt = stmt.where(in_subtree_of(Region.id, filters["within"]))
    if filters.get("q"):
        stmt = stmt.where(Region.name.contains(filters["q"], autoescape=True))
    return page_of(session, stmt, order_by=[Region.path], page=page, page_size=page_size)


def create_region(session, data: dict) -> Region:
    parent = None
    if data.get("parent_id") is not None:
        parent = session.get(Region, data["parent_id"])
        if parent is None:
            raise ValidationFailed({"parent_id": [NO_SUCH_REGION(region_id=data["parent_id"])]})
        if parent.level not in CHILD_LEVEL:
            raise ValidationFailed({"parent_id": [VILLAGE_HAS_NO_CHILDREN()]})
        level = CHILD_LEVEL[parent.level]
        prefix = parent.code[: _CODE_PREFIX[parent.level]]
        if not data["code"].startswith(prefix):
            raise ValidationFailed({"code": [CODE_OUTSIDE_PARENT(prefix=prefix)]})
    else:
        level = RegionLevel.county
    if session.execute(sa.select(Region.id).where(Region.code == data["code"])).first():
        raise ValidationFailed({"code": [CODE_TAKEN()]})
    sibling = sa.select(Region.id).where(
        Region.name == data["name"],
        Region.parent_id.is_(None) if parent is None else Region.parent_id == parent.id,
    )
    if session.execute(sibling).first():
        raise ValidationFailed({"name": [NAME_TAKEN()]})
    region = Region(
        code=data["code"], name=data["name"], level=level, parent_id=data.get("parent_id")
    )
    # The path needs the new id: flush, then complete it.
    region.path = ""
    session.add(region)
    session.flush()
    region.path = f"{parent.path if parent else '/'}{region.id}/"
    session.flush()
    return region


def ancestors(session, region: Region) -> list[Region]:
    """The region's ancestors from the county down, in one query (ids come from the path)."""
    ids = _path_ids(region.path)[:-1]
    if not ids:
        return []
    found = {
        r.id: r for r in session.execute(sa.select(Region).where(Region.id.in_(ids))).scalars()
    }
    return [found[i] for i in ids]
