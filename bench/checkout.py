"""Checkout benchmark: orders per second against the trivial endpoint, in the same run.

    python bench/checkout.py [--db sqlite|postgres] [--duration 10] [--concurrency 16] \
        [--livestream]

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

With ``--livestream`` the same run also puts a session live that features every SKU the bench
orders at a live price below its catalog price, uncapped (so every unit of the run is sold at
it), and measures the same baskets again carrying the session's code, right after the plain
ones. A live checkout locks the session's live prices before the SKUs and counts the units
sold at them, which is what this prices. Its statements are counted too: on PostgreSQL they
must be as many as a plain checkout's (the one-statement path takes live baskets as well). The
database check adds: one live order per 201 of the live run, each tied to the session, every
one of its lines priced "live" at its SKU's live price, the plain orders' lines at catalog
price, and every live price's ``sold`` == the units ordered at it.

Orders per second is printed as a ratio to the ping baseline, so figures from different
machines can be compared (target: >= 25% on PostgreSQL); the live checkout's orders per second
also as a ratio to the plain checkout's (target: >= 95% on PostgreSQL). The load comes from
``wrk`` when it is installed, else from a multi-process http.client client. Every run is
bounded in time, only talks to 127.0.0.1, and stops gunicorn and drops the scratch database
however it ends.
"""

import argparse
import json
import math
import sys
from datetime import timedelta
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
    apply_smoke,
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

TARGET = 0.25
#: --livestream: the live checkout's orders per second, as a share of the plain checkout's.
LIVE_TARGET = 0.95
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
CHECKOUT_ROW = "POST /api/v1/orders (2 lines)"
LIVE_ROW = "POST /api/v1/orders (2 lines, live session)"
#: --livestream: the session's code, and its live prices as a share of the catalog prices (in
#: percent; the API takes a live price above 0 and not above the catalog price).
LIVE_CODE = "BENCHLIVE"
LIVE_PRICE_PERCENT = 90


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, products=10_000)
    parser.add_argument("--buyers", type=int, default=8, help="buyers placing orders")
    parser.add_argument("--skus", type=int, default=200, help="SKUs the baskets rotate through")
    parser.add_argument(
        "--show-statements", action="store_true", help="print the SQL of the counted checkouts"
    )
    parser.add_argument(
        "--livestream",
        action="store_true",
        help="also measure the same baskets carrying a live session's code (live prices)",
    )
    args = parser.parse_args()
    apply_smoke(args, duration=1, warmup=0, products=200, workers=2, buyers=2, skus=20)
    return args


def basket(sku_ids: list[int], quantities=None, code: str | None = None) -> dict:
    quantities = quantities or [1] * len(sku_ids)
    body = {
        "lines": [{"sku_id": s, "quantity": q} for s, q in zip(sku_ids, quantities, strict=True)],
        "shipping_address": dict(ADDRESS),
    }
    if code is not None:
        body["livestream_code"] = code
    return body


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
    live = setup["live"]
    before = snapshot(database, setup["load_skus"])

    port = free_port()
    log(f"starting gunicorn with {args.workers} workers on {HOST}:{port}")
    with Gunicorn(env, port, args.workers, folder / "gunicorn.log") as server:
        wait_until_healthy(server, port)
        tokens = [login(port, credentials) for credentials in setup["buyers"]]
        # The live run sends the very baskets of the plain one, with the code added: the
        # difference between the two rows is the live prices' cost alone.
        checkouts = [(CHECKOUT_ROW, checkout_targets(tokens, setup["load_skus"]), "bench-first")]
        if live:
            targets = checkout_targets(tokens, setup["load_skus"], live["code"])
            checkouts.append((LIVE_ROW, targets, "bench-first-live"))
        for _, targets, key in checkouts:
            method, path, headers, body = targets[0]
            status, _, answer = request(
                port, method, path, json.loads(body), {**headers, KEY_HEADER: f"{key}-order"}
            )
            if status != 201:
                raise RuntimeError(f"a checkout answered {status}, expected 201: {answer[:300]!r}")

        ping = get_targets([(PING, {})])
        load = {"unique_header": KEY_HEADER, "expected_status": 201}
        results, checkout_runs = [], []
        for name, scenario, options in [
            (f"GET {PING} (baseline)", ping, {}),
            *((name, targets, load) for name, targets, _ in checkouts),
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

    checks = verify(
        database, before, setup["load_skus"], checkout_runs, first_orders=len(checkouts)
    )
    if live:
        live_runs = [r for r in checkout_runs if r.name == LIVE_ROW]
        checks += verify_live(database, before, live, live_runs, first_orders=1)
    return report(args, results, checkout_runs, setup, checks, client_name(measure))


def checkout_targets(tokens: list[dict], sku_ids: list[int], code: str | None = None) -> list:
    """2-line baskets over disjoint SKU pairs, each pair ordered by every buyer in turn."""
    pairs = [sku_ids[i : i + 2] for i in range(0, len(sku_ids) - 1, 2)]
    combinations = math.lcm(len(pairs), len(tokens))
    targets = []
    for i in range(combinations):
        body = json.dumps(basket(pairs[i % len(pairs)], [1, 2], code)).encode()
        headers = {**tokens[i % len(tokens)], "Content-Type": "application/json"}
        targets.append(("POST", "/api/v1/orders", headers, body))
    return targets


# --- set-up and statement counts, in process --------------------------------------------------


def prepare_in_process(args, env: dict) -> dict:
    """Adds the buyers, picks and stocks the SKUs (with --livestream, puts a session live that
    features them all), and counts one checkout's statements.

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
        live = open_live_session(session, sku_ids) if args.livestream else None
        session.commit()
        counted_skus, load_skus = sku_ids[: max(COUNTED_SIZES)], sku_ids[max(COUNTED_SIZES) :]
        handed_on = note_checkouts_handed_on(app)
        statements = count_statements(app, db, counted_skus)
        live_statements = count_statements(app, db, counted_skus, live["code"]) if live else None
        db.session.remove()
        db.engine.dispose()
    return {
        "buyers": buyers,
        "load_skus": load_skus,
        "statements": statements,
        "live": live,
        "live_statements": live_statements,
        "handed_on": len(handed_on),
        "placed_in_process": (1 + len(COUNTED_SIZES)) * (2 if live else 1),
    }


def note_checkouts_handed_on(app) -> list:
    """A list that gets an item for each checkout the checkout's front leaves to the app
    (payments/checkout_front.py), from now on in this process."""
    from marketplace.payments.checkout_front import CheckoutFront

    front = app.wsgi_app
    while not isinstance(front, CheckoutFront):
        front = front.wsgi_app
    handed_on, app_itself = [], front.wsgi_app

    def noting(environ, start_response):
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == front._path:
            handed_on.append(environ.get("HTTP_IDEMPOTENCY_KEY"))
        return app_itself(environ, start_response)

    front.wsgi_app = noting
    return handed_on


def open_live_session(session, sku_ids: list[int]) -> dict:
    """A live session featuring every given SKU at a live price below its catalog price, with
    no cap: every unit the run orders with its code is sold at the live price.

    Written as rows, as the stock is, in the shape the API leaves them after POST
    /api/v1/livestreams, PUT .../featured/{sku_id} per SKU and POST .../start."""
    import sqlalchemy as sa

    from marketplace.catalog.models import Sku
    from marketplace.db import utcnow
    from marketplace.livestreams.models import (
        HostKind,
        LivePrice,
        LivestreamSession,
        Platform,
        SessionEvent,
        SessionState,
    )
    from marketplace.producers.models import Station
    from marketplace.regions.service import county_id_of

    # The generated catalog spreads its SKUs over the stations of one county; no station may
    # feature another's SKUs, but a county-led session (organised by the county's region) may
    # feature those of every station in it, as the API's organiser rule allows.
    villages = session.execute(
        sa.select(Station.village_id)
        .join(Sku, Sku.station_id == Station.id)
        .where(Sku.id.in_(sku_ids))
        .distinct()
    ).scalars()
    counties = {county_id_of(session, village) for village in villages}
    if len(counties) != 1:
        raise RuntimeError(f"the SKUs are in {len(counties)} counties; one session needs one")
    now = utcnow()
    live_session = LivestreamSession(
        code=LIVE_CODE,
        title="压测直播间",
        host_name="压测县长",
        host_kind=HostKind.official,
        region_id=counties.pop(),
        platform=Platform.own,
        room_id="bench",
        scheduled_start=now - timedelta(hours=1),
        scheduled_end=now + timedelta(days=1),
        actual_start=now,
        state=SessionState.live,
    )
    session.add(live_session)
    session.flush()
    session.add_all(
        SessionEvent(
            session_id=live_session.id, from_state=from_state, to_state=to_state, reason="bench"
        )
        for from_state, to_state in [
            (None, SessionState.scheduled),
            (SessionState.scheduled, SessionState.live),
        ]
    )
    prices = session.execute(sa.select(Sku.id, Sku.price_fen).where(Sku.id.in_(sku_ids)))
    session.add_all(
        LivePrice(
            session_id=live_session.id,
            sku_id=sku_id,
            price_fen=price_fen * LIVE_PRICE_PERCENT // 100,
            cap=None,
            sold=0,
        )
        for sku_id, price_fen in prices
    )
    session.flush()
    return {"code": LIVE_CODE, "session_id": live_session.id}


def count_statements(app, db, sku_ids: list[int], code: str | None = None) -> dict[int, list]:
    """The statements of one POST /api/v1/orders per basket size, authentication included
    (one checkout first, so nothing done once per process is counted); with ``code``, of
    baskets carrying that livestream code."""
    from sqlalchemy import event

    client = app.test_client()
    answer = client.post("/api/v1/auth/tokens", json=BUYER)
    headers = {"Authorization": f"Bearer {answer.get_json()['token']}"}

    prefix = "bench-statements-live" if code else "bench-statements"

    def place(size: int, key: str) -> None:
        response = client.post(
            "/api/v1/orders",
            json=basket(sku_ids[:size], code=code),
            headers={**headers, KEY_HEADER: key},
        )
        if response.status_code != 201:
            raise RuntimeError(f"in-process checkout answered {response.status_code}")

    place(1, f"{prefix}-warm-up")
    counted = {}
    for size in COUNTED_SIZES:
        statements = []

        def record(conn, cursor, statement, parameters, context, executemany, into=statements):
            into.append(" ".join(statement.split()))

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            place(size, f"{prefix}-{size}")
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


def created_check(label: str, orders: int, runs: list[Result], first_orders: int) -> tuple:
    """(label, passed, detail): the orders created against the 201s the client saw."""
    answered_201 = first_orders + sum(r.extra["expected"] for r in runs)
    # Requests whose outcome the client never saw: wrk's at its deadline, failed connections.
    unseen = sum(r.extra["in_flight"] + r.extra["transport"] for r in runs)
    exact = orders == answered_201
    return (
        label,
        exact or answered_201 <= orders <= answered_201 + unseen,
        f"{orders} orders, {answered_201} responses 201"
        + (
            ""
            if exact
            else f" (+ {orders - answered_201} of {unseen} requests unseen by the"
            " client at its deadline or on a failed connection)"
        ),
    )


def verify(database, before: dict, load_skus, checkout_runs: list[Result], first_orders) -> list:
    """(label, passed, detail) for each property the run must keep."""
    import sqlalchemy as sa

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
    return [
        created_check("orders created == 201 responses", orders, checkout_runs, first_orders),
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


def verify_live(database, before: dict, live: dict, live_runs: list[Result], first_orders) -> list:
    """(label, passed, detail) for each property the live run must keep besides those of
    ``verify``. Checkout marks an order that names a code as the livestream channel's, so the
    live orders are told from the plain ones by their channel, not by the session they carry."""
    import sqlalchemy as sa

    params = {"last": before["last_order"], "session": live["session_id"]}
    engine = database.engine()
    try:
        with engine.connect() as connection:

            def one(sql):
                return connection.execute(sa.text(sql), params).scalar()

            live_orders = one(
                "SELECT count(*) FROM orders WHERE id > :last AND channel = 'livestream'"
            )
            without_session = one(
                "SELECT count(*) FROM orders WHERE id > :last AND channel = 'livestream' AND"
                " (livestream_session_id IS NULL OR livestream_session_id <> :session)"
            )
            plain_with_session = one(
                "SELECT count(*) FROM orders WHERE id > :last AND channel <> 'livestream'"
                " AND livestream_session_id IS NOT NULL"
            )
            live_lines, plain_lines = connection.execute(
                sa.text(
                    "SELECT count(*) FILTER (WHERE o.channel = 'livestream'),"
                    " count(*) FILTER (WHERE o.channel <> 'livestream')"
                    " FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.id > :last"
                ),
                params,
            ).one()
            # The live price of each line's SKU in the session, which every line must have
            # been charged: nothing is capped, so no unit falls back to the catalog price.
            not_live = one(
                "SELECT count(*) FROM order_lines l JOIN orders o ON o.id = l.order_id"
                " LEFT JOIN live_prices p ON p.session_id = :session AND p.sku_id = l.sku_id"
                " WHERE o.id > :last AND o.channel = 'livestream' AND (p.id IS NULL"
                " OR l.pricing <> 'live' OR l.live_price_id IS NULL OR l.live_price_id <> p.id"
                " OR l.unit_price_fen <> p.price_fen)"
            )
            # The plain baskets name the same SKUs: the session must not have priced them.
            not_catalog = one(
                "SELECT count(*) FROM order_lines l JOIN orders o ON o.id = l.order_id"
                " JOIN skus s ON s.id = l.sku_id WHERE o.id > :last AND o.channel <> 'livestream'"
                " AND (l.pricing <> 'catalog' OR l.live_price_id IS NOT NULL"
                " OR l.unit_price_fen <> s.price_fen)"
            )
            # Every order of the database, the counted ones included: sold is a running total.
            prices = one("SELECT count(*) FROM live_prices WHERE session_id = :session")
            sold = one("SELECT sum(sold) FROM live_prices WHERE session_id = :session")
            wrong_sold = one(
                "SELECT count(*) FROM live_prices p WHERE p.session_id = :session AND p.sold <>"
                " coalesce((SELECT sum(l.quantity) FROM order_lines l"
                " WHERE l.live_price_id = p.id), 0)"
            )
    finally:
        engine.dispose()

    return [
        created_check(
            "live orders created == live 201 responses", live_orders, live_runs, first_orders
        ),
        (
            "every live order carries the session",
            without_session == 0 and plain_with_session == 0,
            f"{without_session} live orders without it, {plain_with_session} plain orders with one",
        ),
        (
            "every live line priced 'live' at its live price",
            not_live == 0,
            f"{live_lines} lines, {not_live} otherwise",
        ),
        (
            "every plain line priced 'catalog' at the catalog price",
            not_catalog == 0,
            f"{plain_lines} lines, {not_catalog} otherwise",
        ),
        (
            "live price sold == units ordered at it",
            wrong_sold == 0,
            f"{prices} live prices, {sold} units sold at them; {wrong_sold} differ",
        ),
    ]


# --- the report -------------------------------------------------------------------------------


def report(args, results, checkout_runs, setup: dict, checks, client: str) -> int:
    baseline = baseline_rate(results)
    live = setup["live"]
    checkout = next(r for r in results if r.name == CHECKOUT_ROW)
    live_checkout = next((r for r in results if r.name == LIVE_ROW), None)
    binding = args.db == "postgres"
    note = "" if binding else " (set for PostgreSQL)"
    print()
    print(
        f"checkout benchmark on {args.db}: {args.buyers} buyers, 2-line baskets over "
        f"{args.skus} SKUs, offline gateway, gunicorn {args.workers} workers, {client} with "
        f"{args.concurrency} connections, {args.duration} s per row"
        + (
            f"; then the same baskets with live session {live['code']}'s code (every SKU at "
            f"{LIVE_PRICE_PERCENT}% of its catalog price, uncapped)"
            if live
            else ""
        )
    )
    print(f"baseline = mean of the two ping runs = {baseline:,.0f} req/s")

    def target_of(r):
        if r is not checkout:
            return None
        return TARGET, binding, note

    missed = print_table(results, baseline, target_of)
    print()
    plain_rate = print_checkout("checkout", checkout, checkout_runs, baseline)
    failed = non_201(checkout, checkout_runs)
    if live_checkout is not None:
        live_rate = print_checkout("live checkout", live_checkout, checkout_runs, baseline)
        failed = failed or non_201(live_checkout, checkout_runs)
        share = live_rate / plain_rate if plain_rate else 0.0
        met = share >= LIVE_TARGET
        print(
            f"live checkout / checkout: {share:.1%} of the plain checkout's orders/s"
            f"   target >= {LIVE_TARGET:.0%}: {'met' if met else 'MISSED'}{note}"
        )
        if not met and binding:
            missed.append(live_checkout.name)

    counts, constant = statement_counts(setup["statements"])
    print(
        "SQL statements per checkout request (all the cursor ran, authentication included;"
        f" COMMIT and PostgreSQL's implicit BEGIN are not statements here): {counts} -> "
        + ("constant" if constant else "GROWS WITH THE BASKET")
    )
    if live:
        live_counts, live_constant = statement_counts(setup["live_statements"])
        # Compared at the load's basket size, 2 lines.
        extra = len(setup["live_statements"][2]) - len(setup["statements"][2])
        if extra == 0:
            same = "the same as without"
        elif binding:
            # One statement takes a live basket as it takes a plain one; more means checkout
            # left it for the step-by-step path.
            same = f"{extra:+} AGAINST WITHOUT: NOT THE ONE-STATEMENT PATH"
        else:
            same = f"{extra:+} against without (the step-by-step path reads the code, locks"
            same += " the live prices and counts their units)"
        print(
            f"  with the live session's code: {live_counts} -> "
            + ("constant" if live_constant else "GROWS WITH THE BASKET")
            + f"; {same}"
        )
        failed = failed or not live_constant or (binding and extra != 0)
    # On PostgreSQL the front places every checkout that can be placed before Flask sees it;
    # one it left to the app means it stepped aside where it should not have.
    handed_on, placed = setup["handed_on"], setup["placed_in_process"]
    print(
        f"checkouts placed in process that the checkout's front left to the app: {handed_on} of "
        f"{placed}"
        + ("" if binding else " (it answers on PostgreSQL only)")
        + (" -> THE FRONT STEPPED ASIDE" if binding and handed_on else "")
    )
    failed = failed or (binding and handed_on > 0)
    if args.show_statements:
        shown = [("", setup["statements"])]
        if live:
            shown.append((" with the live session's code", setup["live_statements"]))
        for label, statements in shown:
            for size, found in statements.items():
                print(f"  {size} lines{label}:")
                for statement in found:
                    print(f"    {statement[:160]}")
    print("database check after the run:")
    for label, passed, detail in checks:
        print(f"  {'ok  ' if passed else 'FAIL'} {label}: {detail}")
    failed = failed or not constant or not all(passed for _, passed, _ in checks)
    if failed:
        return 1
    return 1 if args.strict and missed else 0


def non_201(row: Result, checkout_runs: list[Result]) -> int:
    """The answers other than 201 to a checkout scenario, its warm-up included."""
    return sum(r.extra["unexpected"] for r in checkout_runs if r.name == row.name)


def print_checkout(label: str, row: Result, checkout_runs, baseline: float) -> float:
    """Print a checkout row's orders per second (201s only) and latency; returns the rate."""
    orders_per_second = row.extra["expected"] / row.seconds if row.seconds else 0
    ratio = orders_per_second / baseline if baseline else 0.0
    latency = (
        f"p50 {row.p50_ms:.1f} ms, p99 {row.p99_ms:.1f} ms"
        if row.p50_ms is not None
        else "no responses"
    )
    print(
        f"{label}: {orders_per_second:,.1f} orders/s = {ratio:.1%} of ping; {latency}; "
        f"non-201 responses: {non_201(row, checkout_runs)} (warm-up included)"
    )
    return orders_per_second


def statement_counts(statements: dict[int, list[str]]) -> tuple[str, bool]:
    """'2 lines: n, 10 lines: m', and whether the counts are all equal."""
    counts = ", ".join(f"{size} lines: {len(found)}" for size, found in statements.items())
    return counts, len({len(found) for found in statements.values()}) == 1


if __name__ == "__main__":
    sys.exit(main())
