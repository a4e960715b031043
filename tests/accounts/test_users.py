"""User administration by admins."""

import sqlalchemy as sa

from marketplace.accounts.models import ApiToken, Role, User


def new_user(**over):
    body = {
        "username": "zhang.wei",
        "password": "a long enough password",
        "display_name": "张伟",
        "role": "buyer",
    }
    body.update(over)
    return body


def test_admin_creates_users_with_hashed_passwords(client, session, make_user, auth):
    headers = auth(make_user(Role.admin))
    response = client.post("/api/v1/users", json=new_user(), headers=headers)
    assert response.status_code == 201
    assert "password" not in response.json and "password_hash" not in response.json
    stored = session.get(User, response.json["id"])
    assert stored.password_hash.startswith("$argon2")
    login = client.post(
        "/api/v1/auth/tokens", json={"username": "zhang.wei", "password": "a long enough password"}
    )
    assert login.status_code == 201


def test_scoped_roles_need_their_scope(client, session, make_user, auth, regions, make_station):
    headers = auth(make_user(Role.admin))
    missing = client.post("/api/v1/users", json=new_user(role="station"), headers=headers)
    assert missing.status_code == 422
    assert missing.json["reasons"]["station_id"] == [
        {"code": "user.scope_required", "params": {"role": "station"}}
    ]
    wrong = client.post(
        "/api/v1/users", json=new_user(role="buyer", region_id=regions.county.id), headers=headers
    )
    assert wrong.status_code == 422
    assert wrong.json["reasons"]["region_id"] == [
        {"code": "user.scope_not_for_role", "params": {"role": "official"}}
    ]
    unknown = client.post(
        "/api/v1/users", json=new_user(role="official", region_id=999999), headers=headers
    )
    assert unknown.status_code == 422
    assert unknown.json["errors"]["region_id"] == ["no region with id 999999"]
    assert unknown.json["reasons"]["region_id"] == [
        {"code": "user.no_such_scope", "params": {"scope": "region", "id": 999999}}
    ]
    station = make_station(regions.village_a1)
    ok = client.post(
        "/api/v1/users", json=new_user(role="station", station_id=station.id), headers=headers
    )
    assert ok.status_code == 201
    assert ok.json["station_id"] == station.id


def test_bad_fields_are_named_and_nothing_is_written(client, session, make_user, auth):
    headers = auth(make_user(Role.admin))
    before = session.execute(sa.select(sa.func.count()).select_from(User)).scalar_one()
    response = client.post(
        "/api/v1/users",
        json=new_user(username="x", password="short", role="king", phone="12345"),
        headers=headers,
    )
    assert response.status_code == 422
    assert {"username", "password", "role", "phone"} <= set(response.json["errors"])
    after = session.execute(sa.select(sa.func.count()).select_from(User)).scalar_one()
    assert before == after


def test_duplicate_username_is_422(client, make_user, auth):
    existing = make_user()
    headers = auth(make_user(Role.admin))
    response = client.post(
        "/api/v1/users", json=new_user(username=existing.username), headers=headers
    )
    assert response.status_code == 422
    assert "username" in response.json["errors"]


def test_only_admins_manage_users(client, make_user, auth):
    for role in (Role.buyer, Role.unit):
        extra = {}
        if role is Role.unit:
            continue  # a unit user needs a unit; buyers are enough to show the rule
        headers = auth(make_user(role, **extra))
        assert client.get("/api/v1/users", headers=headers).status_code == 403
        assert client.post("/api/v1/users", json=new_user(), headers=headers).status_code == 403
    assert client.get("/api/v1/users").status_code == 401


def test_list_users_paginates_and_filters(client, make_user, auth):
    headers = auth(make_user(Role.admin))
    for _ in range(3):
        make_user(Role.buyer)
    response = client.get("/api/v1/users?role=buyer&page_size=2", headers=headers)
    assert response.status_code == 200
    assert len(response.json) == 2
    assert all(u["role"] == "buyer" for u in response.json)
    assert "X-Pagination" in response.headers


def test_password_change_revokes_sessions(client, session, make_user, auth):
    admin_headers = auth(make_user(Role.admin))
    user = make_user()
    user_headers = auth(user)
    response = client.patch(
        f"/api/v1/users/{user.id}", json={"password": "a brand new password"}, headers=admin_headers
    )
    assert response.status_code == 200
    assert client.get("/api/v1/me", headers=user_headers).status_code == 401
    live = session.execute(
        sa.select(sa.func.count()).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).scalar_one()
    assert live == 0


def test_deactivation_revokes_tokens_for_good(client, session, make_user, auth):
    admin = auth(make_user(Role.admin))
    user = make_user()
    headers = auth(user)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    off = client.patch(f"/api/v1/users/{user.id}", json={"is_active": False}, headers=admin)
    assert off.status_code == 200, off.json
    on = client.patch(f"/api/v1/users/{user.id}", json={"is_active": True}, headers=admin)
    assert on.status_code == 200, on.json
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    revoked = session.execute(
        sa.select(sa.func.count()).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).scalar_one()
    assert revoked == 0


def test_unknown_user_is_404(client, make_user, auth):
    headers = auth(make_user(Role.admin))
    assert client.get("/api/v1/users/999999", headers=headers).status_code == 404
    patch = client.patch("/api/v1/users/999999", json={"display_name": "x"}, headers=headers)
    assert patch.status_code == 404
