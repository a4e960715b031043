"""Which livestream session a platform's sale was made in: one of the station's own sessions,
or a county-led session of a region its village is in, on the same platform, whose window
(widened by a grace on each side) holds the moment the sale was placed and whose host, when
the export names one, is the sale's."""

from datetime import datetime, timedelta

import sqlalchemy as sa

from marketplace.db import utcnow
from marketplace.livestreams.models import LivestreamSession, Platform, SessionState
from marketplace.platform_sales.rows import PlatformRow, Problem
from marketplace.producers.models import Station
from marketplace.reasons import reason
from marketplace.regions.service import lineage_ids

WINDOW_GRACE = timedelta(minutes=2)

# Why a live sale cannot be given a session (``placed_at`` as the platform's local minute).
IN_SEVERAL_SESSIONS = reason(
    "platform_row.in_several_sessions", "placed at {placed_at}, in sessions {sessions}: choose one"
)
OUTSIDE_CHOSEN_SESSION = reason(
    "platform_row.outside_chosen_session", "placed at {placed_at}, outside session {session}"
)
LIVE_OUTSIDE_SESSIONS = reason(
    "platform_row.live_outside_sessions",
    "sold live at {placed_at}, outside any {platform} session of this station: schedule the "
    "session first, or choose it at upload",
)


def station_sessions(session, station: Station, platform: Platform) -> list[LivestreamSession]:
    """The sessions a station's sales on ``platform`` may belong to: its own, and the
    county-led sessions of a region its village is in; never a cancelled one."""
    regions = lineage_ids(session, station.village_id)
    return list(
        session.execute(
            sa.select(LivestreamSession)
            .where(
                LivestreamSession.platform == platform,
                LivestreamSession.state != SessionState.cancelled,
                sa.or_(
                    LivestreamSession.station_id == station.id,
                    LivestreamSession.region_id.in_(regions),
                ),
            )
            .order_by(LivestreamSession.scheduled_start)
        ).scalars()
    )


def window(live_session: LivestreamSession) -> tuple[datetime, datetime]:
    """When the session's sales were made: its actual times (its schedule where it has none),
    widened by ``WINDOW_GRACE`` on each side, since exports give times to the second by the
    platform's clock, not ours."""
    start = live_session.actual_start or live_session.scheduled_start
    if live_session.actual_end is not None:
        end = live_session.actual_end
    elif live_session.state is SessionState.live:
        end = max(utcnow(), live_session.scheduled_end)
    else:
        end = live_session.scheduled_end
    return start - WINDOW_GRACE, end + WINDOW_GRACE


class SessionMatcher:
    """Finds the session of each sale of one upload: the station's sessions on the platform,
    read once, or only the one the upload named (``chosen``)."""

    def __init__(self, session, station: Station, platform: Platform, chosen, column):
        self.platform, self.chosen, self.column = platform, chosen, column
        self.sessions = [(s, *window(s)) for s in station_sessions(session, station, platform)]

    def match(self, row: PlatformRow) -> int | Problem | None:
        """The session the sale belongs to (its id), None for a sale made outside any, or the
        problem: a live sale outside every session, or one that fits two."""
        if row.live is False:
            return None
        candidates = [self.chosen] if self.chosen is not None else None
        fitting = [
            s
            for s, start, end in self.sessions
            if (candidates is None or s in candidates)
            and start <= row.placed_at <= end
            and not (row.host_account and s.host_account and s.host_account != row.host_account)
        ]
        if len(fitting) > 1 and row.host_account:
            by_host = [s for s in fitting if s.host_account == row.host_account]
            fitting = by_host or fitting
        if len(fitting) == 1:
            return fitting[0].id
        when = row.placed_at.strftime("%Y-%m-%d %H:%M")
        if len(fitting) > 1:
            codes = ", ".join(s.code for s in fitting)
            return Problem(
                row.line,
                self.column("placed_at"),
                IN_SEVERAL_SESSIONS(placed_at=when, sessions=codes),
            )
        if self.chosen is not None and row.live is not False:
            return Problem(
                row.line,
                self.column("placed_at"),
                OUTSIDE_CHOSEN_SESSION(placed_at=when, session=self.chosen.code),
            )
        if row.live:
            return Problem(
                row.line,
                self.column("placed_at"),
                LIVE_OUTSIDE_SESSIONS(placed_at=when, platform=self.platform.value),
            )
        return None  # the platform does not say it was live, and no session ran then
