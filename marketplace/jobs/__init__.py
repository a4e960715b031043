"""Long work as jobs on a task queue (RQ on Redis; an embedded Valkey when no Redis is
configured): what a job is, how it is started, run, cancelled and read back. Domains register
the kinds they run (``kinds.register``); this package knows none of them."""
