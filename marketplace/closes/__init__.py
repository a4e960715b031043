"""Closed months: which region's month an official signed off, and the rule every dated write
follows once it is (nothing lands in a closed month; see ``months``)."""
