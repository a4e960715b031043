"""An admin's console starts at the counties: found by name, a page at a time, each linking to
its region's page."""

from marketplace.console import listing


def test_an_admin_finds_a_county_by_name_and_pages_through_them(
    client, sign_in, shop, regions, make_region
):
    sign_in(shop.admin)
    page = client.get("/console/")
    assert page.status_code == 200
    assert f"/console/regions/{regions.county.id}" in page.text
    assert f"/console/regions/{regions.other_county.id}" in page.text
    assert "共 2 个县" in page.text

    found = client.get("/console/", query_string={"q": "远山"})
    assert f"/console/regions/{regions.other_county.id}" in found.text
    assert f"/console/regions/{regions.county.id}" not in found.text
    assert 'value="远山"' in found.text
    assert "没有名称含" in client.get("/console/", query_string={"q": "无此县"}).text

    for number in range(listing.PAGE_SIZE + 1):
        make_region(name=f"新县{number}")
    first = client.get("/console/", query_string={"q": "新县"})
    assert f"第 1–{listing.PAGE_SIZE} 个县，共 {listing.PAGE_SIZE + 1} 个县" in first.text
    # The search stays in the page links.
    assert "q=%E6%96%B0%E5%8E%BF" in first.text and "page=2" in first.text
