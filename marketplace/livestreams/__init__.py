"""Livestream sessions and the SKUs they feature at live prices.

It sits below orders: checkout reads a session's state and live prices (``live_prices.py``)
directly. What happens to a session that the domains above care about (its end funds its
pledges) is announced through ``signals.py``.
"""
