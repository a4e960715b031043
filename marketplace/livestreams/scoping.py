"""Who sees which livestream sessions: a station its own; an official those organised by a
station of their subtree, or by a region of it, or by a region above it (a county-led session
sells the whole county's produce: its township officials see it, and of its results the part
that falls in their township, as ``reports.session_results`` scopes every line and household).
Buyers and units see a live session's public page only (``GET /live-sessions/{code}``)."""

import sqlalchemy as sa

from marketplace.accounts.scoping import ScopeRule
from marketplace.livestreams.models import LivestreamSession
from marketplace.producers.scoping import STATIONS
from marketplace.regions.service import above_subtree, in_subtree

SESSIONS = ScopeRule(
    LivestreamSession,
    official=lambda a: sa.or_(
        LivestreamSession.station_id.in_(STATIONS.visible_ids(a)),
        in_subtree(LivestreamSession.region_id, a.region_path),
        above_subtree(LivestreamSession.region_id, a.region_path),
    ),
    station=lambda a: LivestreamSession.station_id == a.station_id,
)
