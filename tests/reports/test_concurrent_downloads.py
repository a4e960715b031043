"""Officials download at once: every download of a file naming households is recorded, and on
the embedded SQLite database, where a GET that reads and then writes could not upgrade its lock
while another request wrote, each takes the write lock from the start and waits its turn."""

import threading
import urllib.request

import sqlalchemy as sa

from marketplace import pii
from marketplace.accounts.models import Role
from marketplace.clock import shanghai_today
from marketplace.households.models import Household, HouseholdStatus
from marketplace.regions.service import create_region
from marketplace.reports.models import ExportDownload
from tests.served import served_app, signed_in_user

DOWNLOADS = 16


def _county_with_households(session) -> int:
    county = create_region(session, {"code": "220524000000", "name": "青松县"})
    township = create_region(
        session, {"code": "220524104000", "name": "白山镇", "parent_id": county.id}
    )
    village = create_region(
        session, {"code": "220524104201", "name": "蓝莓村", "parent_id": township.id}
    )
    cipher = pii.cipher()
    for n in range(20):
        id_number = f"2205241990010{n:04d}"
        id_number += "X"
        session.add(
            Household(
                registry_number=f"2205241042010{n:05d}",
                head_name=f"户主{n}",
                head_id_encrypted=cipher.encrypt(id_number),
                head_id_lookup=cipher.lookup_hash(id_number),
                head_id_masked=pii.mask(id_number),
                members_count=3,
                village_id=village.id,
                poverty_causes=["illness"],
                status=HouseholdStatus.lifted,
            )
        )
    return county.id


def test_sixteen_concurrent_downloads_all_answer_and_are_recorded(tmp_path):
    with served_app(tmp_path) as served:
        with served.session() as session:
            county_id = _county_with_households(session)
            headers = signed_in_user(
                session,
                username="official_downloads",
                role=Role.official,
                display_name="县官员",
                region_id=county_id,
            )
        month = shanghai_today().strftime("%Y-%m")
        url = (
            f"{served.base_url}/api/v1/reports/income/households.csv"
            f"?region_id={county_id}&period={month}"
        )
        statuses: list[int] = []
        start = threading.Barrier(DOWNLOADS)

        def download():
            start.wait()
            request = urllib.request.Request(url, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    response.read()
                    statuses.append(response.status)
            except urllib.error.HTTPError as refused:
                statuses.append(refused.code)

        threads = [threading.Thread(target=download) for _ in range(DOWNLOADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert statuses == [200] * DOWNLOADS
        with served.session() as session:
            recorded = session.execute(
                sa.select(sa.func.count()).select_from(ExportDownload)
            ).scalar_one()
        assert recorded == DOWNLOADS
