"""Catalog fixtures: two stations in one county and one in another, their producers and users,
and real (tiny) image files."""

import io
import itertools
import struct
import zlib
from datetime import timedelta

import pytest
import sqlalchemy as sa
from PIL import Image

from marketplace.accounts.models import Role, User
from marketplace.catalog.models import CatalogGeneration, Category, Product, fold_for_search
from marketplace.clock import shanghai_today
from marketplace.producers.models import ProducerKind

_users = itertools.count(1)


@pytest.fixture
def quick_user(session):
    """Users whose logins these tests never use: the token does the work, so no password
    is hashed per user (argon2 is slow by design)."""

    def make(role: Role, **over) -> User:
        n = next(_users)
        user = User(
            username=f"catalog-{role.value}-{n}",
            password_hash="not-a-usable-hash",
            display_name=f"用户{n}",
            role=role,
            **over,
        )
        session.add(user)
        session.flush()
        return user

    return make


@pytest.fixture
def world(regions, make_station, make_producer, quick_user, auth):
    """Station A (蓝莓村) and B (人参村) in 青松县, station C far away in 远山县."""

    class World:
        tree = regions
        station_a = make_station(regions.village_a1, name="蓝莓村电商服务站")
        station_b = make_station(regions.village_b1, name="人参村电商服务站")
        station_c = make_station(regions.other_village, name="远山村电商服务站")
        producer_a = make_producer(station_a, name="青松蓝莓种植专业合作社")
        producer_b = make_producer(station_b, name="人参村林下参合作社")
        producer_c = make_producer(station_c, name="远山木耳合作社")
        # An enterprise sits at the township: products need their origin village named.
        enterprise_a = make_producer(
            station_a,
            kind=ProducerKind.enterprise,
            name="白山食品有限公司",
            region_id=regions.township_a.id,
        )
        user_a = quick_user(Role.station, station_id=station_a.id)
        user_b = quick_user(Role.station, station_id=station_b.id)
        admin = quick_user(Role.admin)
        official_a = quick_user(Role.official, region_id=regions.township_a.id)
        official_far = quick_user(Role.official, region_id=regions.other_county.id)
        buyer = quick_user(Role.buyer)

    w = World
    w.a = auth(w.user_a)
    w.b = auth(w.user_b)
    w.admin_h = auth(w.admin)
    w.official_a_h = auth(w.official_a)
    w.official_far_h = auth(w.official_far)
    w.buyer_h = auth(w.buyer)
    return w


@pytest.fixture
def category(session):
    def find(code: str) -> Category:
        return session.execute(sa.select(Category).where(Category.code == code)).scalar_one()

    return find


@pytest.fixture
def listed(make_product, session, category):
    """``listed(station, producer, **over)``: an active product with its search text and
    publication date filled in as the service would."""
    from marketplace.db import utcnow

    def make(station, producer, **over) -> Product:
        cat = over.pop("category", None) or category("fruit")
        product = make_product(station, producer, category=cat, **dict(over))
        prices = [
            s["price_fen"]
            for s in over.get("skus", [{"price_fen": 6800}])
            if s.get("is_active", True)
        ]
        product.min_price_fen = min(prices) if prices else None
        if product.published_at is None:
            product.published_at = utcnow()
        village_name = session.execute(
            sa.text("SELECT name FROM regions WHERE id = :id"), {"id": product.origin_village_id}
        ).scalar_one()
        parts = (product.name, product.subtitle, producer.name, village_name, cat.name)
        product.search_text = fold_for_search(" ".join(p for p in parts if p))
        session.flush()
        return product

    return make


@pytest.fixture
def generation(session):
    def current() -> int:
        session.expire_all()
        return session.execute(
            sa.select(CatalogGeneration.value).where(CatalogGeneration.id == 1)
        ).scalar_one()

    return current


@pytest.fixture
def today():
    return shanghai_today()


@pytest.fixture
def valid_certificate(today):
    return {
        "number": "FP-2024-0001",
        "level": "provincial",
        "valid_from": (today - timedelta(days=30)).isoformat(),
        "valid_to": (today + timedelta(days=300)).isoformat(),
    }


def png_bytes(width: int = 3, height: int = 2) -> bytes:
    """A complete, valid PNG (RGB, no filter) built by hand: no imaging library needed."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def encoded(image_format: str, width: int, height: int) -> bytes:
    """A real image of the given size, encoded by Pillow."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 60, 120)).save(out, image_format)
    return out.getvalue()


@pytest.fixture
def images():
    class Images:
        png = staticmethod(png_bytes)
        jpeg = staticmethod(lambda width, height: encoded("JPEG", width, height))
        webp = staticmethod(lambda width, height: encoded("WEBP", width, height))

    return Images
