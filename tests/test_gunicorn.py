"""The project's gunicorn settings: two servers on one machine (two checkouts, two ports) share
nothing, not even gunicorn's control socket under the user's home directory."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(home: Path, instance: Path, port: int) -> subprocess.Popen:
    environment = {
        **os.environ,
        "HOME": str(home),
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "MARKETPLACE_INSTANCE_DIR": str(instance),
        "ORDER_SWEEP_SECONDS": "0",
    }
    environment.pop("XDG_RUNTIME_DIR", None)
    environment.pop("DATABASE_URL", None)
    environment.pop("GUNICORN_CONTROL_SOCKET", None)
    gunicorn = Path(sys.executable).parent / "gunicorn"
    return subprocess.Popen(
        [str(gunicorn), "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _answers(port: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/ping", timeout=2) as r:
                return r.status == 200
        except OSError:
            time.sleep(0.2)
    return False


def test_two_servers_run_side_by_side_without_a_shared_control_socket(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    ports = [_free_port(), _free_port()]
    servers = [_serve(home, tmp_path / f"instance{n}", port) for n, port in enumerate(ports)]
    try:
        deadline = time.monotonic() + 60
        for server, port in zip(servers, ports, strict=True):
            assert _answers(port, deadline), server.stderr.read1().decode()
        assert all(server.poll() is None for server in servers)
        sockets = [path for path in home.rglob("*") if path.is_socket()]
        assert sockets == [], "a control socket under the home directory is shared by all"
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)
            server.stderr.close()


def test_a_worker_leaves_the_loaded_app_out_of_garbage_collection():
    """After loading the app, a worker freezes what it holds and collects its youngest objects
    less often (``post_worker_init``): the collector's work otherwise fell on requests."""
    import gc
    import importlib.util
    from types import SimpleNamespace

    spec = importlib.util.spec_from_file_location("gunicorn_settings", ROOT / "gunicorn.conf.py")
    settings = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(settings)
    before = gc.get_threshold()
    worker = SimpleNamespace(wsgi=SimpleNamespace(config={"ORDER_SWEEP_SECONDS": 0}))
    try:
        settings.post_worker_init(worker)
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (settings.GC_YOUNG_THRESHOLD, *before[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
