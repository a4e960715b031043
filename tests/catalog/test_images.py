"""Image uploads: the type comes from the bytes, the size is limited, files are served safely."""

import hashlib
import io
import struct
import zlib

import pytest
import sqlalchemy as sa
from flask import url_for

from marketplace.catalog import images as image_module
from marketplace.catalog.models import ProductImage

PROBLEM = "application/problem+json"


def upload(client, product_id, data: bytes, headers, name="photo.png", content_type="image/png"):
    return client.post(
        f"/api/v1/products/{product_id}/images",
        data={"file": (io.BytesIO(data), name, content_type)},
        headers=headers,
        content_type="multipart/form-data",
    )


def image_rows(session, product_id):
    session.expire_all()
    return (
        session.execute(
            sa.select(ProductImage.storage_key).where(ProductImage.product_id == product_id)
        )
        .scalars()
        .all()
    )


@pytest.fixture
def product(world, listed):
    return listed(world.station_a, world.producer_a)


def test_png_upload_is_stored_under_its_hash_and_served(client, app, world, product, images):
    png = images.png(3, 2)
    response = upload(client, product.id, png, world.a)
    assert response.status_code == 201, response.json
    image = response.json
    key = hashlib.sha256(png).hexdigest() + ".png"
    assert image["url"] == f"/api/v1/media/{key}"
    assert (image["content_type"], image["size_bytes"]) == ("image/png", len(png))
    assert (image["width"], image["height"]) == (3, 2)
    assert (app.config["UPLOAD_FOLDER"] / key).read_bytes() == png

    # Closed explicitly: the file stays open until a WSGI server would close the response.
    with client.get(image["url"]) as served:
        assert served.status_code == 200
        assert served.data == png
        assert served.mimetype == "image/png"
        assert "immutable" in served.headers["Cache-Control"]
        assert served.headers["X-Content-Type-Options"] == "nosniff"
    with client.get(image["url"], headers={"If-None-Match": served.headers["ETag"]}) as again:
        assert again.status_code == 304

    detail = client.get(f"/api/v1/products/{product.id}").json
    assert [i["url"] for i in detail["images"]] == [image["url"]]


def test_media_prefix_matches_the_route(app):
    with app.test_request_context():
        assert url_for("catalog.Media", storage_key="k") == image_module.MEDIA_PREFIX + "k"


@pytest.mark.parametrize(
    ("make", "media_type", "name"),
    [("jpeg", "image/jpeg", "a.jpg"), ("webp", "image/webp", "a.webp")],
)
def test_jpeg_and_webp_are_recognised_and_measured_from_their_bytes(
    client, world, product, images, make, media_type, name
):
    data = getattr(images, make)(640, 480)
    # The client's name and type are ignored: the bytes decide.
    response = upload(client, product.id, data, world.a, name="x.gif", content_type="text/plain")
    assert response.status_code == 201, response.json
    assert response.json["content_type"] == media_type
    assert (response.json["width"], response.json["height"]) == (640, 480)
    assert response.json["url"].endswith(name[1:])


def test_a_text_file_named_png_is_refused(client, session, world, product):
    response = upload(client, product.id, b"just some text, honest\n", world.a, name="fake.png")
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert set(response.json["errors"]) == {"file"}
    assert image_rows(session, product.id) == []


def test_missing_or_empty_file_is_422(client, world, product):
    response = client.post(
        f"/api/v1/products/{product.id}/images",
        data={},
        headers=world.a,
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"file"}
    assert upload(client, product.id, b"", world.a).status_code == 422


def test_an_oversized_image_is_413_naming_file(
    client, app, session, world, product, images, monkeypatch
):
    png = images.png(40, 40)
    monkeypatch.setitem(app.config, "MAX_IMAGE_BYTES", len(png) - 1)
    response = upload(client, product.id, png, world.a)
    assert response.status_code == 413
    assert response.mimetype == PROBLEM
    assert set(response.json["errors"]) == {"file"}
    assert response.json["code"] == "image.too_large"
    assert response.json["params"] == {"max_bytes": len(png) - 1}
    assert response.json["reasons"] == {
        "file": [{"code": "image.file_too_large", "params": {"max_bytes": len(png) - 1}}]
    }
    assert image_rows(session, product.id) == []


def test_a_request_over_the_body_limit_is_413_naming_file(
    client, app, session, world, product, monkeypatch
):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    response = upload(client, product.id, b"\x89PNG\r\n\x1a\n" + b"\x00" * 4096, world.a)
    assert response.status_code == 413
    assert set(response.json["errors"]) == {"file"}
    assert response.json["code"] == "image.too_large"
    assert image_rows(session, product.id) == []


def test_upload_needs_login_and_own_product(client, session, world, listed, images):
    theirs = listed(world.station_b, world.producer_b)
    assert upload(client, theirs.id, images.png(), {}).status_code == 401
    response = upload(client, theirs.id, images.png(), world.a)
    assert response.status_code == 404
    assert image_rows(session, theirs.id) == []
    assert upload(client, theirs.id, images.png(), world.official_a_h).status_code == 403


def test_delete_image(client, session, world, product, listed, images):
    image = upload(client, product.id, images.png(), world.a).json
    url = f"/api/v1/products/{product.id}/images/{image['id']}"
    theirs = listed(world.station_b, world.producer_b)
    assert client.delete(url).status_code == 401
    assert client.delete(url, headers=world.b).status_code == 404
    # The image exists, but not under that product.
    wrong = f"/api/v1/products/{theirs.id}/images/{image['id']}"
    assert client.delete(wrong, headers=world.b).status_code == 404
    assert len(image_rows(session, product.id)) == 1
    assert client.delete(url, headers=world.a).status_code == 204
    assert image_rows(session, product.id) == []
    assert client.delete(url, headers=world.a).status_code == 404


@pytest.mark.parametrize(
    "key",
    [
        "../../etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "a" * 64 + ".gif",
        "A" * 64 + ".png",
        "a" * 63 + ".png",
        "a" * 64 + ".png",  # well formed, but no such file
    ],
)
def test_media_serves_only_stored_hash_names(client, key):
    response = client.get(f"/api/v1/media/{key}")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda png: png[:-20], id="truncated"),
        pytest.param(lambda png: png[:33] + b"garbage" * 50, id="signature-then-garbage"),
        pytest.param(lambda png: png[:8] + b"\x00" * 200, id="only-the-signature"),
    ],
)
def test_what_pillow_cannot_decode_is_refused_and_not_stored(
    client, app, session, world, product, images, damage
):
    data = damage(images.png(64, 64))
    response = upload(client, product.id, data, world.a)
    assert response.status_code == 422, response.json
    assert response.mimetype == PROBLEM
    assert set(response.json["errors"]) == {"file"}
    assert image_rows(session, product.id) == []
    stored = hashlib.sha256(data).hexdigest() + ".png"
    assert not (app.config["UPLOAD_FOLDER"] / stored).exists()


def test_a_decompression_bomb_is_refused(client, world, product, images):
    """A small PNG that claims 50,000 × 50,000 pixels is refused before it is decoded."""
    png = images.png(64, 64)
    ihdr = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0)
    claimed = png[:16] + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + png[33:]
    response = upload(client, product.id, claimed, world.a)
    assert response.status_code == 422, response.json
    assert set(response.json["errors"]) == {"file"}
