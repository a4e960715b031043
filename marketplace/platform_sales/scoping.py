"""Who sees a station's platform uploads: whoever sees the station."""

from marketplace.accounts.scoping import ScopeRule
from marketplace.platform_sales.models import PlatformImport
from marketplace.producers.scoping import STATIONS

IMPORTS = ScopeRule.through(PlatformImport, PlatformImport.station_id, STATIONS)
