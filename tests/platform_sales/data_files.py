"""The sample platform exports the import tests read (copied unchanged from the samples the
platforms' layouts were taken from; see tests/platform_sales/data)."""

from pathlib import Path

DATA = Path(__file__).parent / "data"


def read_bytes(name: str) -> bytes:
    return (DATA / name).read_bytes()
