"""The kinds of job, registered by the domains that run them: a kind's handler does the work in
the worker's transaction and returns what it made. The handler's writes and the job's success
are committed together, so a job that succeeded did its work exactly once, and one that was
interrupted (a crash, a cancel) left nothing half-done to find when it runs again.

A handler whose work is too long for one transaction (a platform import) may commit along the
way, each commit a consistent state it can resume from when it runs again; what it writes
after its last commit is committed with its success."""

from collections.abc import Callable
from dataclasses import dataclass

from marketplace.reasons import Message


class JobFailed(Exception):
    """The work cannot be done as asked (a file that is not what it should be): the job fails
    with ``reason``, in words its user understands, and is not retried."""

    def __init__(self, reason: Message, *, files: dict[str, tuple[str, bytes]] | None = None):
        super().__init__(reason)
        self.reason = reason
        #: what to keep of it all the same, by name: (media type, bytes) (the refused rows)
        self.files = files or {}


class JobCancelled(Exception):
    """Its user cancelled it while it ran: what it wrote is rolled back."""

    def __init__(self, username: str):
        super().__init__(username)
        self.username = username


@dataclass(frozen=True)
class Outcome:
    """What a job made: its result, and files to keep beside it, by name: (media type,
    bytes). A handler returns a plain result when it makes no file."""

    result: dict
    files: dict[str, tuple[str, bytes]]


@dataclass(frozen=True)
class Kind:
    name: str
    #: ``handler(session, job, inputs, progress) -> result | Outcome``: ``inputs`` the files it
    #: was started with (``inputs.read()``, ``inputs.open()``: ``jobs.inputs``),
    #: ``progress(done, total)`` reports rows done and raises ``JobCancelled`` when cancelled
    handler: Callable
    #: ``on_download(session, actor, job, file)``, before one of its files is sent (a file
    #: naming households records who fetched it)
    on_download: Callable | None = None


KINDS: dict[str, Kind] = {}


def register(name: str, *, on_download: Callable | None = None):
    """Declare a kind of job, run by the decorated handler."""

    def decorate(handler):
        if name in KINDS and KINDS[name].handler is not handler:
            raise ValueError(f"job kind {name} registered twice")
        KINDS[name] = Kind(name, handler, on_download)
        return handler

    return decorate
