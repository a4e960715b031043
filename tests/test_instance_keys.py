"""gunicorn's workers start together and each builds the app: they must end up with one key
(before, each wrote its own: a console cookie signed by one worker was refused by the next)."""

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

from marketplace import instance_keys


def test_processes_starting_together_agree_on_one_key(tmp_path):
    numbers = itertools.count()
    start = threading.Barrier(8)

    def first_start(_):
        start.wait(timeout=10)
        return instance_keys.read_or_create(
            tmp_path / "session.key", lambda: f"key-{next(numbers)}"
        )

    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(first_start, range(8)))
    assert len(keys) == 1
    assert (tmp_path / "session.key").read_text() == keys.pop()
    assert oct((tmp_path / "session.key").stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in tmp_path.iterdir()] == ["session.key"]  # no drafts left behind


def test_an_existing_key_is_kept(tmp_path):
    (tmp_path / "data.key").write_text("kept\n")
    assert instance_keys.read_or_create(tmp_path / "data.key", lambda: "new") == "kept"
