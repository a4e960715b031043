"""Secrets a development instance generates once into its instance folder.

gunicorn starts its workers at once, and each builds the app: were each to write its own key,
workers would disagree (a session cookie signed by one is refused by the next; data encrypted
by one is unreadable by another). The first writer wins atomically (a hard link, which fails
when the name exists) and everyone reads what it wrote.
"""

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def read_or_create(path: Path, make: Callable[[], str]) -> str:
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(handle, "w") as file:
                file.write(make())
            os.chmod(draft, 0o600)
            # Another process may have been first: then its key is the key.
            with contextlib.suppress(FileExistsError):
                os.link(draft, path)
        finally:
            os.unlink(draft)
    return path.read_text().strip()
