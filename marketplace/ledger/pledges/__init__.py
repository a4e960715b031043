"""Pledges made in a livestream session ("500 yuan to each of these 20 households"), which
become assistance funds when the session ends (``livestreams.signals.session_ended``) and reach
the households once a second user approves."""
