"""Checkout benchmark: orders per second against the trivial endpoint, in the same run.

    python bench/checkout.py [--db sqlite|postgres] [--duration 10] [--concurrency 16]

Builds a scratch database as bench/catalog.py does (migrations, ``flask seed scale``), adds
buyers, gives the SKUs the load rotates through more stock than any run can sell, and serves
the app with gunicorn on a free loopback port with the offline payment gateway. Then it:

  * counts the SQL statements of one checkout, in process (the Flask test client on the
    scratch database, a ``before_cursor_execute`` listener), for a 2-line and a 10-line
    basket: the two counts must be equal;
  * measures GET /api/v1/ping (the baseline) before and after the checkout load;
  * measures POST /api/v1/orders: concurrent clients, several buyers' tokens, 2-line baskets
    rotating through the SKUs, a distinct Idempotency-Key on every request. Each request must
    answer 201; every other answer is counted and printed;
  * checks the database afterwards: one order per 201, stock taken == quantities ordered for
    every SKU, no negative stock, one idempotency record per order, totals == sum of lines.

Orders per second is printed as a ratio to the ping baseline, so figures from different
machines can be compared (target: >= 12% on PostgreSQL). The load comes from ``wrk`` when it
is installed, else from a multi-process http.client client. Every run is bounded in time, only
talks to 127.0.0.1, and stops gunicorn and drops the scratch database however it ends.
"""

import argparse
import json
import math
import sys
from pathlib import Path

from harness import (
    BUYER,
    HOST,
    PING,
    PROJECT_ROOT,
    Gunicorn,
    Result,
    add_common_arguments,
    app_environment,
    baseline_rate,
    choose_client,
    client_name,
    free_port,
    get_targets,
    log,
    login,
    prepare_database,
    print_table,
    request,
    scratch_session,
    wait_until_healthy,
)

TARGET = 0.12
#: More than any bounded run can sell, so that every order finds its stock.
STOCK = 10_000_000
KEY_HEADER = "Idempotency-Key"
#: Orders never expire during a run: the sweeper returning stock would blur the stock check.
HOLD_MINUTES = 24 * 60
ADDRESS = {
    "recipient_name": "李晓梅",
    "recipient_phone": "13800138000",
    "province": "吉林省",
    "city": "长春市",
    "district": "朝阳区",
    "address_line": "人民大街 1000 号",
    "postal_code": "130000",
}
#: Basket sizes whose statement counts are compared.
COUNTED_SIZES = (2, 10)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, products=10_000)
    parser.add_argument("--buyers", type=int, default=8, help="buyers placing orders")
    parser.add_argument("--skus", type=int, default=200, help="SKUs the baskets rotate through")
    parser.add_argument(
        "--show-statements", action="store_true", help="print the SQL of the counted checkouts"
    )
    return parser.parse_args()


def basket(sku_ids: list[int], quantities=None) -> dict:
    quantities = quantities or [1] * len(sku_ids)
    return {
        "lines": [{"sku_id": s, "quantity": q} for s, q in zip(sku_ids, quantities, strict=True)],
        "shipping_address": dict(ADDRESS),
    }


def main() -> int:
    args = parse_args()
    measure = choose_client(args)
    if measure is None:
        return 2
    if args.skus < 2 or args.buyers < 1:
        log("--skus must be at least 2 and --buyers at least 1")
        return 2
    with scratch_session(args) as (folder, database):
        return run(args, folder, database, measure)


def run(args, folder: Path, database, measure) -> int:
    env = app_environment(
        folder,
        database,
        PAYMENT_GATEWAY="offline",
        ORDER_HOLD_MINUTES=str(HOLD_MINUTES),
    )
    prepare_database(env, args)
    setup = prepare_in_process(args, env)
    before = snapshot(database, setup["load_skus"])

    port = free_port()
    log(f"starting gunicorn with {args.workers} workers on {HOST}:{port}")
    with Gunicorn(env, port, args.workers, folder / "gunicorn.log") as server:
        wait_until_healthy(server, port)
        tokens = [login(port, credentials) for credentials in setup["buyers"]]
        targets = checkout_targets(tokens, setup["load_skus"])
        method, path, headers, body = targets[0]
        status, _, answer = request(
            port, method, path, json.loads(body), {**headers, KEY_HEADER: "bench-first-order"}
        )
        if status != 201:
            raise RuntimeError(f"a checkout answered {status}, expected 201: {answer[:300]!r}")

        ping = get_targets([(PING, {})])
        load = {"unique_header": KEY_HEADER, "expected_status": 201}
        results, checkout_runs = [], []
        for name, scenario, options in [
            (f"GET {PING} (baseline)", ping, {}),
            ("POST /api/v1/orders (2 lines)", targets, load),
            (f"GET {PING} (baseline, again)", ping, {}),
        ]:
            if args.warmup:
                warm = measure(
                    name, port, scenario, args.warmup, args.concurrency, folder, **options
                )
                if options:
                    checkout_runs.append(warm)
            log(f"measuring {name} for {args.duration} s")
            result = measure(
                name, port, scenario, args.duration, args.concurrency, folder, **options
            )
            results.append(result)
            if options:
                checkout_runs.append(result)
        if not server.alive():
            raise RuntimeError(f"gunicorn died during the run; see {folder / 'gunicorn.log'}")

    checks = verify(database, before, setup["load_skus"], checkout_runs, first_orders=1)
    return report(args, results, checkout_runs, setup["statements"], checks, client_name(measure))


def checkout_targets(tokens: list[dict], sku_ids: list[int]) -> list[tuple]:
    """2-line baskets over disjoint SKU pairs, each pair ordered by every buyer in turn."""
    pairs = [sku_ids[i : i + 2] for i in range(0, len(sku_ids) - 1, 2)]
    combinations = math.lcm(len(pairs), len(tokens))
    targets = []
    for i in range(combinations):
        body = json.dumps(basket(pairs[i % len(pairs)], [1, 2])).encode()
        headers = {**tokens[i % len(tokens)], "Content-Type": "application/json"}
        targets.append(("POST", "/api/v1/orders", headers, body))
    return targets


# --- set-up and statement counts, in process --------------------------------------------------


def prepare_in_process(args, env: dict) -> dict:
    """Adds the buyers, picks and stocks the SKUs, and counts one checkout's statements.

    Runs the app in this process on the scratch database (the environment only applies to
    this process from here on; the bench imports the app nowhere else)."""
    import os

    os.environ.update(env)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(PROJECT_ROOT))
    import sqlalchemy as sa

    from marketplace import create_app
    from marketplace.accounts.models import User
    from marketplace.catalog.models import Product, ProductStatus, Sku
    from marketplace.extensions import db

    app = create_app()
    with app.app_context():
        session = db.session
        template = session.execute(sa.select(User).where(User.username == BUYER["username"]))
        template = template.scalar_one()
        buyers = [BUYER]
        for n in range(2, args.buyers + 1):
            username = f"{BUYER['username']}_{n}"
            # The same password as the seeded buyer, so its hash serves them all.
            session.add(
                User(
                    username=username,
                    password_hash=template.password_hash,
                    display_name=f"压测买家{n}",
                    role=template.role,
                )
            )
            buyers.append({"username": username, "password": BUYER["password"]})
        wanted = args.skus + max(COUNTED_SIZES)
        sku_ids = list(
            session.execute(
                sa.select(Sku.id)
                .join(Product, Product.id == Sku.product_id)
                .where(
                    Sku.is_active,
                    Sku.currency == "CNY",
                    Product.status == ProductStatus.active,
                )
                .order_by(Sku.id)
                .limit(wanted)
            ).scalars()
        )
        if len(sku_ids) < wanted:
            raise RuntimeError(f"only {len(sku_ids)} SKUs on sale; {wanted} needed")
        session.execute(sa.update(Sku).where(Sku.id.in_(sku_ids)).values(stock=STOCK))
        session.commit()
        counted_skus, load_skus = sku_ids[: max(COUNTED_SIZES)], sku_ids[max(COUNTED_SIZES) :]
        statements = count_statements(app, db, counted_skus)
        db.session.remove()
        db.engine.dispose()
    return {"buyers": buyers, "load_skus": load_skus, "statements": statements}


def count_statements(app, db, sku_ids: list[int]) -> dict[int, list[str]]:
    """The statements of one POST /api/v1/orders per basket size, authentication included
    (one checkout first, so nothing done once per process is counted)."""
    from sqlalchemy import event

    client = app.test_client()
    answer = client.post("/api/v1/auth/tokens", json=BUYER)
    headers = {"Authorization": f"Bearer {answer.get_json()['token']}"}

    def place(size: int, key: str) -> None:
        response = client.post(
            "/api/v1/orders",
            json=basket(sku_ids[:size]),
            headers={**headers, KEY_HEADER: key},
        )
        if response.status_code != 201:
            raise RuntimeError(f"in-process checkout answered {response.status_code}")

    place(1, "bench-statements-warm-up")
    counted = {}
    for size in COUNTED_SIZES:
        statements = []

        def record(conn, cursor, statement, parameters, context, executemany, into=statements):
            into.append(" ".join(statement.split()))

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            place(size, f"bench-statements-{size}")
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        counted[size] = statements
    return counted


# --- the database check -----------------------------------------------------------------------


def snapshot(database, load_skus: list[int]) -> dict:
    import sqlalchemy as sa

    engine = database.engine()
    try:
        with engine.connect() as connection:
            last_order = connection.execute(sa.text("SELECT max(id) FROM orders")).scalar() or 0
            stock = dict(
                connection.execute(
                    sa.text("SELECT id, stock FROM skus WHERE id IN :ids").bindparams(
                        sa.bindparam("ids", expanding=True)
                    ),
                    {"ids": load_skus},
                ).all()
            )
    finally:
        engine.dispose()
    return {"last_order": last_order, "stock": stock}


def verify(database, before: dict, load_skus, checkout_runs: list[Result], first_orders) -> list:
    """(label, passed, detail) for each property the run must keep."""
    import sqlalchemy as sa

    answered_201 = first_orders + sum(r.extra["expected"] for r in checkout_runs)
    # Requests whose outcome the client never saw: wrk's at its deadline, failed connections.
    unseen = sum(r.extra["in_flight"] + r.extra["transport"] for r in checkout_runs)
    since = {"last": before["last_order"]}
    engine = database.engine()
    try:
        with engine.connect() as connection:

            def one(sql, **params):
                return connection.execute(sa.text(sql), {**since, **params}).scalar()

            orders = one("SELECT count(*) FROM orders WHERE id > :last")
            ordered = dict(
                connection.execute(
                    sa.text(
                        "SELECT sku_id, sum(quantity) FROM order_lines WHERE order_id > :last"
                        " GROUP BY sku_id"
                    ),
                    since,
                ).all()
            )
            stock_now = dict(
                connection.execute(
                    sa.text("SELECT id, stock FROM skus WHERE id IN :ids").bindparams(
                        sa.bindparam("ids", expanding=True)
                    ),
                    {"ids": load_skus},
                ).all()
            )
            negative = one("SELECT count(*) FROM skus WHERE stock < 0")
            not_two_lines = one(
                "SELECT count(*) FROM orders o WHERE o.id > :last AND"
                " (SELECT count(*) FROM order_lines l WHERE l.order_id = o.id) <> 2"
            )
            wrong_total = one(
                "SELECT count(*) FROM orders o WHERE o.id > :last AND o.total_fen <>"
                " (SELECT sum(l.line_total_fen) FROM order_lines l WHERE l.order_id = o.id)"
            )
            keys = one(
                "SELECT count(DISTINCT resource_id) FROM idempotency_keys"
                " WHERE scope = 'checkout' AND resource_id > :last"
            )
            key_rows = one(
                "SELECT count(*) FROM idempotency_keys"
                " WHERE scope = 'checkout' AND resource_id > :last"
            )
            pending = one(
                "SELECT count(*) FROM orders WHERE id > :last AND status = 'pending_payment'"
            )
    finally:
        engine.dispose()

    stray = set(ordered) - set(load_skus)
    mismatched = [
        sku for sku in load_skus if before["stock"][sku] - stock_now[sku] != ordered.get(sku, 0)
    ]
    exact = orders == answered_201
    matches = exact or answered_201 <= orders <= answered_201 + unseen
    return [
        (
            "orders created == 201 responses",
            matches,
            f"{orders} orders, {answered_201} responses 201"
            + (
                ""
                if exact
                else f" (+ {orders - answered_201} of {unseen} requests unseen by the"
                " client at its deadline or on a failed connection)"
            ),
        ),
        (
            "stock taken == quantities ordered, per SKU",
            not mismatched and not stray,
            f"{len(load_skus)} SKUs, {sum(ordered.values())} units; "
            f"{len(mismatched)} mismatched, {len(stray)} outside the load",
        ),
        ("no negative stock", negative == 0, f"{negative} SKUs below zero"),
        ("every order has its 2 lines", not_two_lines == 0, f"{not_two_lines} orders without"),
        ("order total == sum of its lines", wrong_total == 0, f"{wrong_total} orders differ"),
        (
            "one idempotency record per order",
            keys == orders == key_rows,
            f"{key_rows} records for {keys} orders",
        ),
        ("all orders pending payment", pending == orders, f"{pending} of {orders}"),
    ]


# --- the report -------------------------------------------------------------------------------


def report(args, results, checkout_runs, statements, checks, client: str) -> int:
    baseline = baseline_rate(results)
    checkout = next(r for r in results if r.name.startswith("POST"))
    orders_per_second = checkout.extra["expected"] / checkout.seconds if checkout.seconds else 0
    ratio = orders_per_second / baseline if baseline else 0.0
    print()
    print(
        f"checkout benchmark on {args.db}: {args.buyers} buyers, 2-line baskets over "
        f"{args.skus} SKUs, offline gateway, gunicorn {args.workers} workers, {client} with "
        f"{args.concurrency} connections, {args.duration} s per row"
    )
    print(f"baseline = mean of the two ping runs = {baseline:,.0f} req/s")

    def target_of(r):
        if r is not checkout:
            return None
        binding = args.db == "postgres"
        return TARGET, binding, "" if binding else " (set for PostgreSQL)"

    missed = print_table(results, baseline, target_of)
    non_201 = sum(r.extra["unexpected"] for r in checkout_runs)
    print()
    latency = (
        f"p50 {checkout.p50_ms:.1f} ms, p99 {checkout.p99_ms:.1f} ms"
        if checkout.p50_ms is not None
        else "no responses"
    )
    print(
        f"checkout: {orders_per_second:,.1f} orders/s = {ratio:.1%} of ping; {latency}; "
        f"non-201 responses: {non_201} (warm-up included)"
    )
    counts = ", ".join(f"{size} lines: {len(found)}" for size, found in statements.items())
    constant = len({len(found) for found in statements.values()}) == 1
    print(
        "SQL statements per checkout request (all the cursor ran, authentication included;"
        f" COMMIT and PostgreSQL's implicit BEGIN are not statements here): {counts} -> "
        + ("constant" if constant else "GROWS WITH THE BASKET")
    )
    if args.show_statements:
        for size, found in statements.items():
            print(f"  {size} lines:")
            for statement in found:
                print(f"    {statement[:160]}")
    print("database check after the run:")
    for label, passed, detail in checks:
        print(f"  {'ok  ' if passed else 'FAIL'} {label}: {detail}")
    failed = not constant or non_201 or not all(passed for _, passed, _ in checks)
    if failed:
        return 1
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
