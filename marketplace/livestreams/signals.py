"""What the livestreams domain announces to the domains above it, which it does not import.

They connect a receiver to a signal (blinker's, as Flask's own signals are) and are called
synchronously, in the transaction that made the change, with the same database session: what
they write commits or rolls back with it.
"""

from blinker import Namespace

_signals = Namespace()

#: Sent as ``session_ended.send(live_session, session=..., actor=...)`` once a session has
#: ended, after its state and event are flushed. The ledger funds the session's pledges.
session_ended = _signals.signal("livestream-session-ended")
