"""Product images: what an upload really is (from its bytes, not its name), where it is kept.

Files are stored under UPLOAD_FOLDER by the SHA-256 of their content, so the same photo
uploaded twice is one file, a name reveals nothing, and a stored file never changes (it can be
cached forever). Rows are deleted with the image; files stay, because another product may
show the same photo and the deleting transaction may still roll back.
"""

import hashlib
import os
import re
import struct
import tempfile
from pathlib import Path

from marketplace.accounts.auth import Actor
from marketplace.catalog.models import ProductImage, ProductStatus
from marketplace.catalog.service import product_for_change
from marketplace.catalog.storefront.page_cache import invalidate_pages
from marketplace.errors import DomainError, NotFound, ValidationFailed

#: The only names the media endpoint serves; anything else cannot be a path we wrote.
STORAGE_KEY = re.compile(r"^[0-9a-f]{64}\.(jpg|png|webp)$")
MEDIA_PREFIX = "/api/v1/media/"
MAX_IMAGES_PER_PRODUCT = 20

EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
MEDIA_TYPES = {extension: media_type for media_type, extension in EXTENSIONS.items()}


class ImageTooLarge(DomainError):
    status, code, title = 413, "payload-too-large", "The upload is too large"


def media_url(storage_key: str) -> str:
    return MEDIA_PREFIX + storage_key


def detect_media_type(head: bytes) -> str | None:
    """JPEG, PNG or WebP by their magic bytes; None for anything else."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _png_size(data: bytes):
    if len(data) >= 24 and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    return None


def _jpeg_size(data: bytes):
    """Walk the segments to the first start-of-frame marker, which holds the dimensions."""
    offset = 2
    while offset + 4 <= len(data):
        if data[offset] != 0xFF:
            return None
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            offset += 2
            continue
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if offset + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[offset + 5 : offset + 9])
            return width, height
        offset += 2 + length
    return None


def _webp_size(data: bytes):
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


_SIZE_READERS = {"image/png": _png_size, "image/jpeg": _jpeg_size, "image/webp": _webp_size}


def image_size(media_type: str, data: bytes) -> tuple[int, int] | tuple[None, None]:
    """Width and height from the file's own headers, or (None, None) if they cannot be read."""
    try:
        size = _SIZE_READERS[media_type](data)
    except (struct.error, IndexError):
        size = None
    return size if size and all(size) else (None, None)


def store_file(folder: Path, data: bytes, extension: str) -> str:
    """Write the content under its hash (atomically, so a reader never sees half a file)."""
    storage_key = f"{hashlib.sha256(data).hexdigest()}.{extension}"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / storage_key
    if not target.exists():
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return storage_key


def read_upload(stream, max_bytes: int) -> tuple[bytes, str]:
    """The upload's bytes and media type, or a 413/422 naming ``file``."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageTooLarge(
            f"Images may be at most {max_bytes} bytes.",
            errors={"file": [f"larger than {max_bytes} bytes"]},
        )
    if not data:
        raise ValidationFailed({"file": ["the file is empty"]})
    media_type = detect_media_type(data[:16])
    if media_type is None:
        raise ValidationFailed({"file": ["not a JPEG, PNG or WebP image"]})
    return data, media_type


def add_image(
    session, actor: Actor, product_id: int, stream, *, folder: Path, max_bytes: int
) -> ProductImage:
    product = product_for_change(session, actor, product_id)
    if len(product.images) >= MAX_IMAGES_PER_PRODUCT:
        raise ValidationFailed({"file": [f"a product has at most {MAX_IMAGES_PER_PRODUCT} images"]})
    data, media_type = read_upload(stream, max_bytes)
    width, height = image_size(media_type, data)
    storage_key = store_file(folder, data, EXTENSIONS[media_type])
    position = max((image.position for image in product.images), default=-1) + 1
    image = ProductImage(
        product=product,
        storage_key=storage_key,
        content_type=media_type,
        size_bytes=len(data),
        width=width,
        height=height,
        position=position,
    )
    session.add(image)
    session.flush()
    if product.status is ProductStatus.active and position == 0:
        invalidate_pages(session)
    return image


def delete_image(session, actor: Actor, product_id: int, image_id: int) -> None:
    product = product_for_change(session, actor, product_id)
    image = next((i for i in product.images if i.id == image_id), None)
    if image is None:
        raise NotFound(f"Image {image_id} not found.")
    was_first = image is product.images[0]
    session.delete(image)
    session.flush()
    if product.status is ProductStatus.active and was_first:
        invalidate_pages(session)


def media_path(folder: Path, storage_key: str) -> Path:
    if not STORAGE_KEY.match(storage_key):
        raise NotFound("No such image.")
    path = folder / storage_key
    if not path.is_file():
        raise NotFound("No such image.")
    return path
