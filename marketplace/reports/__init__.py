"""Reads that span domains: money trails and the reconciliation of the ledger with payments
and payouts. Nothing below this package imports it."""
