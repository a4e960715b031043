"""What the producers domain announces to the domains above it, which it does not import.

Receivers (blinker's signals, as Flask's own) are called synchronously, in the transaction that
made the change, with the same database session: what they write commits or rolls back with it.
"""

from blinker import Namespace

_signals = Namespace()

#: Sent as ``producer_renamed.send(producer, session=...)`` once a producer's new name is
#: flushed. The catalog refreshes the search text of its products, which holds the name.
producer_renamed = _signals.signal("producer-renamed")
