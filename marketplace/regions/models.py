import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, enum_type, intpk


class RegionLevel(enum.StrEnum):
    county = "county"
    township = "township"
    village = "village"


#: A region's level decides the level of its children.
CHILD_LEVEL = {RegionLevel.county: RegionLevel.township, RegionLevel.township: RegionLevel.village}


class Region(Base):
    """A node of the county -> township -> village tree.

    ``path`` is the materialized path of ids (``/1/4/17/``), so a subtree is one indexed
    ``LIKE '/1/4/%'`` instead of a walk down the tree.
    """

    __tablename__ = "regions"

    id: Mapped[intpk]
    #: The official 12-digit statistical division code (统计用区划代码), e.g. 220524104201.
    code: Mapped[str] = mapped_column(sa.String(12), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    level: Mapped[RegionLevel] = mapped_column(enum_type(RegionLevel, 16))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    path: Mapped[str] = mapped_column(sa.String(255), index=True)

    parent: Mapped["Region | None"] = relationship(remote_side="Region.id", lazy="raise")

    __table_args__ = (sa.UniqueConstraint("parent_id", "name"),)

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.name}>"
