"""Livestream sales: sessions and their live prices, sales imported from outside platforms,
pledges made on air, and what each session did for households.

Checkout honours a live session's prices through the orders domain's own tables (live codes
and live prices, orders/models.py), which this package keeps in step with its sessions: the
orders domain sits below this one and never imports it.
"""
