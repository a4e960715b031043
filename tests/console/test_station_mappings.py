"""A station keeps its platforms' product map in the console: one at a time with the SKUs whose
names match suggested, a block pasted from a spreadsheet (all saved, or none and each bad line
named by its number), and a map deleted; never another station's."""

import sqlalchemy as sa

from marketplace.platform_sales.models import PlatformProduct
from marketplace.platform_sales.unmapped import suggestions
from tests.console.conftest import csrf_of

PAGE = "/console/station/platform-products"


def _maps(session) -> dict:
    session.expire_all()
    rows = session.execute(sa.select(PlatformProduct.outside_id, PlatformProduct.sku_id))
    return dict(rows.all())


def test_a_pasted_block_is_saved_whole_or_each_bad_line_named(client, session, sign_in, shop):
    sign_in(shop.station_user)
    token = csrf_of(client.get(PAGE))
    first, second = shop.sku_500g.code, shop.sku_1kg.code
    bad = client.post(
        f"{PAGE}/paste",
        data={
            "csrf_token": token,
            "platform": "douyin",
            "lines": f"3700001\t{first}\n3700002 no separator\n\n3700003,{shop.sku_ginseng.code}\n"
            + "9" * 65
            + f",{second}",
        },
    )
    assert bad.status_code == 422
    found = bad.text.split('id="paste-errors"')[1].split("</div>")[0]
    assert "第 2 行" in found and "第 4 行" in found and "第 5 行" in found
    assert "第 1 行" not in found
    assert f"本站没有编码为 {shop.sku_ginseng.code} 的规格" in found  # another station's
    assert "3700002 no separator" in bad.text  # what was pasted stays to be fixed
    assert _maps(session) == {}

    saved = client.post(
        f"{PAGE}/paste",
        data={
            "csrf_token": token,
            "platform": "douyin",
            "lines": f"3700001\t{first}\r\n3700002,{second}\r\n",
        },
    )
    assert saved.status_code == 303
    assert _maps(session) == {"3700001": shop.sku_500g.id, "3700002": shop.sku_1kg.id}
    shown = client.get(saved.headers["Location"])
    assert "已保存 2 行：新建 2" in shown.text and "野生蓝莓 1kg 礼盒" in shown.text
    assert "抖音" in shown.text and ">douyin<" not in shown.text

    deleted = client.post(
        f"{PAGE}/douyin/delete", data={"csrf_token": token, "outside_id": "3700001"}
    )
    assert deleted.status_code == 303
    assert _maps(session) == {"3700002": shop.sku_1kg.id}
    empty = client.post(
        f"{PAGE}/paste", data={"csrf_token": token, "platform": "douyin", "lines": " \n"}
    )
    assert empty.status_code == 422 and "请至少粘贴一行" in empty.text


def test_one_product_is_mapped_with_suggestions_by_name(client, session, sign_in, shop):
    sign_in(shop.station_user)
    page = client.get(f"{PAGE}?platform=kuaishou&outside_id=20000001&name=蓝莓1kg装")
    assert 'value="20000001"' in page.text
    suggested = page.text.split('label="按名称推荐"')[1].split("</optgroup>")[0]
    assert suggested.index("1kg 礼盒") < suggested.index("500g 礼盒")
    token = csrf_of(page)
    unchosen = client.post(
        PAGE,
        data={"csrf_token": token, "platform": "kuaishou", "outside_id": "20000001", "sku_id": ""},
    )
    assert unchosen.status_code == 422 and 'data-field="sku_id"' in unchosen.text
    theirs = client.post(
        PAGE,
        data={
            "csrf_token": token,
            "platform": "kuaishou",
            "outside_id": "20000001",
            "sku_id": shop.sku_ginseng.id,
        },
    )
    assert theirs.status_code == 422 and "不是本站的规格" in theirs.text
    ours = client.post(
        PAGE,
        data={
            "csrf_token": token,
            "platform": "kuaishou",
            "outside_id": "20000001",
            "sku_id": shop.sku_1kg.id,
        },
    )
    assert ours.status_code == 303
    assert _maps(session) == {"20000001": shop.sku_1kg.id}
    sign_in(shop.other_station_user)
    assert "20000001" not in client.get(PAGE).text
    token = csrf_of(client.get(PAGE))
    gone = client.post(
        f"{PAGE}/kuaishou/delete", data={"csrf_token": token, "outside_id": "20000001"}
    )
    assert gone.status_code == 404
    assert _maps(session) == {"20000001": shop.sku_1kg.id}


def test_suggestions_rank_the_skus_a_platforms_title_holds():
    skus = [
        {"sku_id": 1, "code": "A", "product_name": "长白山开口红松子", "spec": "500g/袋"},
        {"sku_id": 2, "code": "B", "product_name": "靠山屯野生蓝莓鲜果", "spec": "125g×4盒"},
        {"sku_id": 3, "code": "C", "product_name": "椴树雪蜜", "spec": "500g/瓶"},
    ]
    ranked = suggestions(skus, "【蓝莓节】靠山屯 野生蓝莓 125g*4盒 包邮")
    assert ranked[0]["sku_id"] == 2
    assert suggestions(skus, "") == [] and suggestions(skus, "羽绒服") == []
