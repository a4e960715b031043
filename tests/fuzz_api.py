"""`make fuzz`: schemathesis over the served OpenAPI document, as every kind of caller.

The app runs as `make run` runs it (gunicorn, the project's settings) on a scratch PostgreSQL
database holding the demo county, and schemathesis sends it what the document allows, and
what it does not, as anonymous, a buyer, a buying unit, a station, an official and an admin.
It fails on any finding of these checks:

- not_a_server_error: no 5xx, whatever is sent;
- status_code_conformance: every status is one the document lists for the operation;
- content_type_conformance: every response has a media type the document lists for it
  (errors are application/problem+json);
- response_schema_conformance, response_headers_conformance: bodies and headers (the
  X-Pagination JSON, Idempotent-Replayed) as documented.

A signed-in fuzzer must not sign itself out: token revocation is left to the anonymous run
(which gets its 401s), and the admin is one made for the run, whose id no generated request
names (tests/fuzz_hooks.py); it runs last, since it may deactivate the others. Everyone signs
in before anyone fuzzes, so the login throttle (which the anonymous run trips from 127.0.0.1
on purpose) spares them all.

    .venv/bin/python -m tests.fuzz_api [--max-examples 10] [--seed N] [--pg-url URL]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.harness import (
    PROJECT_ROOT,
    Gunicorn,
    ScratchDatabase,
    _sigterm_exits,
    app_environment,
    free_port,
    login,
    request,
    run_flask,
    wait_until_healthy,
)

#: The demo county's people (seed/data), one of each kind; the admin last.
CALLERS = [
    ("anonymous", None),
    ("buyer", {"username": "buyer_zhang", "password": "zhangwei-demo-2024"}),
    ("unit", {"username": "unit_nongye", "password": "nongye-demo-2024"}),
    ("station", {"username": "station_lanmeigou", "password": "lanmeigou-demo-2024"}),
    ("official", {"username": "official_county", "password": "county-demo-2024"}),
    ("admin", {"username": "admin", "password": "admin-demo-2024"}),
]
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    )
)
#: Signing out: the anonymous run covers these; a signed-in run would end its own session.
SIGN_OUT = r"^/api/v1/auth/tokens/"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=10, help="per operation and phase")
    parser.add_argument("--seed", type=int, default=20261129, help="for a reproducible run")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="the PostgreSQL server to create the scratch database on",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="callers fuzzed at once (one process each)"
    )
    args = parser.parse_args()

    with (
        _sigterm_exits(),
        tempfile.TemporaryDirectory(prefix="mkt-fuzz-") as scratch,
        ScratchDatabase("postgres", Path(scratch), args.pg_url) as database,
    ):
        folder = Path(scratch)
        env = app_environment(folder, database)
        run_flask(env, "db", "upgrade")
        run_flask(env, "seed", "demo")
        port = free_port()
        log_path = folder / "gunicorn.log"
        with Gunicorn(env, port, workers=2, log_path=log_path) as server:
            wait_until_healthy(server, port)
            headers = {name: login(port, who) if who else {} for name, who in CALLERS}
            headers["admin"] = _fuzzing_admin(port, headers["admin"])
            own_ids = {name: _own_id(port, headers[name]) for name, _ in CALLERS}
            failed = _fuzz_all(port, headers, own_ids, args, folder)
        logged = log_path.read_text().splitlines()
        crashes = [number for number, line in enumerate(logged) if "Traceback" in line]
        if crashes:
            print(f"the server logged {len(crashes)} tracebacks; the first:", file=sys.stderr)
            print("\n".join(logged[max(0, crashes[0] - 3) : crashes[0] + 40]), file=sys.stderr)
    if failed or crashes:
        print(f"fuzzing found problems as: {', '.join(failed) or 'the server'}", file=sys.stderr)
        return 1
    print("fuzzing found nothing", file=sys.stderr)
    return 0


def _fuzzing_admin(port: int, admin: dict) -> dict:
    """An admin of its own for the fuzzer. The coverage phase sends each id's boundaries, and
    id 1 is the demo admin: editing it (deactivating it, changing its password) would end the
    run's session. The hooks keep the later phases off the fuzzing admin's own id."""
    body = {
        "username": "fuzzing_admin",
        "password": "fuzzing-admin-password",
        "display_name": "模糊测试",
        "role": "admin",
    }
    status, _, created = request(port, "POST", "/api/v1/users", body=body, headers=admin)
    if status != 201:
        raise RuntimeError(f"creating the fuzzing admin: {status} {created[:300]!r}")
    return login(port, {"username": body["username"], "password": body["password"]})


def _own_id(port: int, headers: dict) -> str:
    if not headers:
        return ""
    status, _, body = request(port, "GET", "/api/v1/me", headers=headers)
    if status != 200:
        raise RuntimeError(f"GET /me: {status} {body[:300]!r}")
    return str(json.loads(body)["id"])


def _fuzz_all(port: int, headers: dict, own_ids: dict, args, folder: Path) -> list[str]:
    """Fuzz as every caller; the names of those whose run found something.

    Callers run side by side as processes, ``--workers`` at a time, each schemathesis
    single-threaded: its threads share Hypothesis's lambda-source cache, whose ``ast`` parsing
    is not thread-safe on Python 3.11 ("AST constructor recursion depth mismatch"), which
    failed a run now and then for no fault of the service. The admin runs last, alone."""
    failed = []
    *others, admin = [name for name, _ in CALLERS]
    batches = [others[i : i + args.workers] for i in range(0, len(others), args.workers)]
    for batch in [*batches, [admin]]:
        running = {
            name: _start_fuzzing(port, name, headers[name], own_ids[name], args, folder)
            for name in batch
        }
        for name, (process, output) in running.items():
            code = process.wait(timeout=1800)
            output.close()
            print(f"\n=== fuzzing as {name} ===", file=sys.stderr)
            print((folder / f"fuzz-{name}.log").read_text(), file=sys.stderr, flush=True)
            if code != 0:
                failed.append(name)
    return failed


def _start_fuzzing(port: int, name: str, headers: dict, own_id: str, args, folder: Path):
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"http://127.0.0.1:{port}/api/v1/openapi.json",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(args.max_examples),
        "--seed",
        str(args.seed),
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--report-dir",
        str(folder / f"report-{name}"),
        "--no-color",
    ]
    for header, value in headers.items():
        command += ["-H", f"{header}: {value}"]
    if headers:
        command += ["--exclude-path-regex", SIGN_OUT]
    environment = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.fuzz_hooks",
        "FUZZ_OWN_USER_ID": own_id,
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    output = open(folder / f"fuzz-{name}.log", "w")  # noqa: SIM115  (closed by the caller)
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT
    )
    return process, output


if __name__ == "__main__":
    sys.exit(main())
