"""``flask seed demo``, ``flask seed scale`` and ``flask seed county``: one commit each, at the
end."""

import click
from flask.cli import AppGroup

from marketplace.extensions import db

seed_cli = AppGroup("seed", help="Load demo data.")


@seed_cli.command("demo")
def demo_command():
    """Load the demo county 青松县. Idempotent: a second run creates nothing."""
    from seed.demo import load_demo

    created = load_demo(db.session)
    db.session.commit()
    click.echo("Demo data loaded. Created:")
    for table, count in created.items():
        click.echo(f"  {table:<26} {count}")


@seed_cli.command("scale")
@click.option("--products", default=10_000, show_default=True, type=click.IntRange(min=1))
@click.option("--skus-per-product", default=3, show_default=True, type=click.IntRange(1, 10))
@click.option(
    "--households",
    default=400,
    show_default=True,
    type=click.IntRange(min=20),
    help="Registered households of the generated county (created once, reused on later runs).",
)
@click.option("--seed", "random_seed", default=7, show_default=True, help="Random seed.")
def scale_command(products, skus_per_product, households, random_seed):
    """Generate a large catalog for benchmarks (adds PRODUCTS more on every run)."""
    from seed.scale import BENCH_BUYER_PASSWORD, BENCH_BUYER_USERNAME, generate

    summary = generate(
        db.session,
        products=products,
        skus_per_product=skus_per_product,
        households=households,
        random_seed=random_seed,
    )
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        # A bulk load leaves PostgreSQL's visibility map unset, so until autovacuum comes by,
        # index-only scans visit the table for every row: do now what it would do shortly.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (ANALYZE) products, skus, product_images")
    click.echo(
        "Generated: "
        + ", ".join(f"{count} {table}" for table, count in summary.items())
        + f". Buyer login: {BENCH_BUYER_USERNAME} / {BENCH_BUYER_PASSWORD}"
    )


@seed_cli.command("county")
@click.option(
    "--households",
    default=50_000,
    show_default=True,
    type=click.IntRange(min=20),
    help="Registered households of the generated county (about 200 postings each).",
)
@click.option(
    "--months",
    default=24,
    show_default=True,
    type=click.IntRange(1, 120),
    help="Full months of ledger history, ending with the last month before this one.",
)
@click.option("--seed", "random_seed", default=7, show_default=True, help="Random seed.")
def county_command(households, months, random_seed):
    """Generate the county 云杉县 with MONTHS of ledger history, for the reports benchmark.

    Made once: a second run refuses and changes nothing. The defaults write about ten million
    postings (COPY on PostgreSQL; expect minutes). `--households 2000 --months 6` is quick.
    """
    from seed.county import (
        BENCH_OFFICIAL_PASSWORD,
        BENCH_OFFICIAL_USERNAME,
        CountyExists,
        generate,
    )

    try:
        summary = generate(
            db.session, households=households, months=months, random_seed=random_seed
        )
    except CountyExists as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        # As `seed scale` does: set the visibility map, so index-only scans skip the heap.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(
                "VACUUM (ANALYZE) postings, journal_entries, order_lines, households, "
                "household_status_changes, ledger_accounts, household_income_months, "
                "village_income_months, village_reach_months"
            )
    click.echo(
        "Generated: "
        + ", ".join(f"{count} {table}" for table, count in summary.items())
        + f". Official login: {BENCH_OFFICIAL_USERNAME} / {BENCH_OFFICIAL_PASSWORD}"
    )
