"""The county -> township -> village tree. Regions are public reference data: anyone may read
them; only admins change them."""

import sqlalchemy as sa

from marketplace.db import page_of
from marketplace.errors import NotFound, ValidationFailed
from marketplace.regions.models import CHILD_LEVEL, Region, RegionLevel

#: Division codes: 6 digits of county, 3 of township, 3 of village (统计用区划代码).
_CODE_PREFIX = {RegionLevel.county: 6, RegionLevel.township: 9}


def get_region(session, region_id: int) -> Region:
    region = session.get(Region, region_id)
    if region is None:
        raise NotFound(f"Region {region_id} not found.")
    return region


def subtree_ids(session, region: Region) -> sa.Select:
    """A subquery of the ids of ``region`` and everything below it (one indexed LIKE)."""
    return sa.select(Region.id).where(Region.path.startswith(region.path))


def list_regions(session, filters: dict, *, page: int, page_size: int):
    stmt = sa.select(Region)
    if filters.get("level") is not None:
        stmt = stmt.where(Region.level == filters["level"])
    if filters.get("parent_id") is not None:
        stmt = stmt.where(Region.parent_id == filters["parent_id"])
    if filters.get("within") is not None:
        root = get_region(session, filters["within"])
        stmt = stmt.where(Region.path.startswith(root.path))
    if filters.get("q"):
        stmt = stmt.where(Region.name.contains(filters["q"], autoescape=True))
    return page_of(session, stmt, order_by=[Region.path], page=page, page_size=page_size)


def create_region(session, data: dict) -> Region:
    parent = None
    if data.get("parent_id") is not None:
        parent = session.get(Region, data["parent_id"])
        if parent is None:
            raise ValidationFailed({"parent_id": [f"no region with id {data['parent_id']}"]})
        if parent.level not in CHILD_LEVEL:
            raise ValidationFailed({"parent_id": ["a village has no child regions"]})
        level = CHILD_LEVEL[parent.level]
        prefix = parent.code[: _CODE_PREFIX[parent.level]]
        if not data["code"].startswith(prefix):
            raise ValidationFailed({"code": [f"must start with the parent's prefix {prefix}"]})
    else:
        level = RegionLevel.county
    if session.execute(sa.select(Region.id).where(Region.code == data["code"])).first():
        raise ValidationFailed({"code": ["already used by another region"]})
    sibling = sa.select(Region.id).where(
        Region.name == data["name"],
        Region.parent_id.is_(None) if parent is None else Region.parent_id == parent.id,
    )
    if session.execute(sibling).first():
        raise ValidationFailed({"name": ["a region with this name already exists here"]})
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
    ids = [int(part) for part in region.path.strip("/").split("/")[:-1]]
    if not ids:
        return []
    found = {
        r.id: r for r in session.execute(sa.select(Region).where(Region.id.in_(ids))).scalars()
    }
    return [found[i] for i in ids]
