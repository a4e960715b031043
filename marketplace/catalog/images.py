"""Product images: what an upload really is (decoded by Pillow, whatever its name says), where
it is kept.

Files are stored under UPLOAD_FOLDER by the SHA-256 of their content, so the same photo
uploaded twice is one file, a name reveals nothing, and a stored file never changes (it can be
cached forever). Rows are deleted with the image; files stay, because another product may
show the same photo and the deleting transaction may still roll back.
"""

import hashlib
import os
import re
import tempfile
import warnings
from io import BytesIO
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from marketplace.accounts.auth import Actor
from marketplace.catalog.models import ProductImage, ProductStatus
from marketplace.catalog.service import product_for_change
from marketplace.catalog.storefront.page_cache import invalidate_pages
from marketplace.errors import NotFound, PayloadTooLarge, ValidationFailed
from marketplace.reasons import reason

#: The only names the media endpoint serves; anything else cannot be a path we wrote.
STORAGE_KEY = re.compile(r"^[0-9a-f]{64}\.(jpg|png|webp)$")
MEDIA_PREFIX = "/api/v1/media/"
MAX_IMAGES_PER_PRODUCT = 20
#: More pixels than any product photo needs; a small file that decodes to more is a bomb.
MAX_PIXELS = 40_000_000

#: Pillow's format names of the images accepted, and how they are served.
MEDIA_TYPES_OF_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
MEDIA_TYPES = {extension: media_type for media_type, extension in EXTENSIONS.items()}

NOT_AN_IMAGE = reason("image.unsupported_format", "not a JPEG, PNG or WebP image")
TOO_MANY_PIXELS = reason(
    "image.too_many_pixels", "{width}×{height} pixels; at most {max_pixels} are taken"
)
UNREADABLE = reason("image.unreadable", "the image cannot be read: {error}")
IMAGE_TOO_LARGE = reason("image.too_large", "Images may be at most {max_bytes} bytes.")
FILE_TOO_LARGE = reason("image.file_too_large", "larger than {max_bytes} bytes")
FILE_EMPTY = reason("image.file_empty", "the file is empty")
TOO_MANY_IMAGES = reason("product.too_many_images", "a product has at most {max_images} images")
NO_SUCH_PRODUCT_IMAGE = reason("image.not_found", "Image {image_id} not found.")
NO_SUCH_FILE = reason("image.no_such_file", "No such image.")


class ImageTooLarge(PayloadTooLarge):
    pass


def media_url(storage_key: str) -> str:
    return MEDIA_PREFIX + storage_key


def inspect_image(data: bytes) -> tuple[str, int, int]:
    """The media type, width and height of an image Pillow can open and decode whole; a 422
    naming ``file`` for anything else (another format, a valid header with garbage after it,
    a truncated file, a decompression bomb)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(BytesIO(data)) as image:  # reads the headers only
                media_type = MEDIA_TYPES_OF_FORMATS.get(image.format)
                if media_type is None:
                    raise ValidationFailed({"file": [NOT_AN_IMAGE()]})
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise ValidationFailed(
                        {
                            "file": [
                                TOO_MANY_PIXELS(width=width, height=height, max_pixels=MAX_PIXELS)
                            ]
                        }
                    )
                image.verify()  # the file's structure: every chunk, its checksum, the end
            with Image.open(BytesIO(data)) as image:
                image.load()  # every pixel: what cannot be decoded is not an image
    except UnidentifiedImageError:
        raise ValidationFailed({"file": [NOT_AN_IMAGE()]}) from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as error:  # fmt: skip
        raise ValidationFailed({"file": [UNREADABLE(error=str(error))]}) from None
    return media_type, width, height


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


def read_upload(stream, max_bytes: int) -> bytes:
    """The upload's bytes, or a 413/422 naming ``file``."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageTooLarge(
            IMAGE_TOO_LARGE(max_bytes=max_bytes),
            errors={"file": [FILE_TOO_LARGE(max_bytes=max_bytes)]},
        )
    if not data:
        raise ValidationFailed({"file": [FILE_EMPTY()]})
    return data


def add_image(
    session, actor: Actor, product_id: int, stream, *, folder: Path, max_bytes: int
) -> ProductImage:
    product = product_for_change(session, actor, product_id)
    if len(product.images) >= MAX_IMAGES_PER_PRODUCT:
        raise ValidationFailed({"file": [TOO_MANY_IMAGES(max_images=MAX_IMAGES_PER_PRODUCT)]})
    data = read_upload(stream, max_bytes)
    media_type, width, height = inspect_image(data)
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
        raise NotFound(NO_SUCH_PRODUCT_IMAGE(image_id=image_id))
    was_first = image is product.images[0]
    session.delete(image)
    session.flush()
    if product.status is ProductStatus.active and was_first:
        invalidate_pages(session)


def media_path(folder: Path, storage_key: str) -> Path:
    if not STORAGE_KEY.match(storage_key):
        raise NotFound(NO_SUCH_FILE())
    path = folder / storage_key
    if not path.is_file():
        raise NotFound(NO_SUCH_FILE())
    return path
