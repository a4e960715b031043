"""Login, logout, token expiry and revocation, throttling."""

from datetime import timedelta

import sqlalchemy as sa

from marketplace.accounts.models import ApiToken, LoginAttempt, Role
from marketplace.db import utcnow

PASSWORD = "correct horse battery"


def login(client, username, password=PASSWORD, **kw):
    return client.post(
        "/api/v1/auth/tokens", json={"username": username, "password": password}, **kw
    )


def test_login_returns_a_working_token_stored_only_hashed(client, session, make_user):
    user = make_user(Role.buyer)
    response = login(client, user.username)
    assert response.status_code == 201
    token = response.json["token"]
    assert response.json["user"]["role"] == "buyer"
    assert "password" not in response.json["user"]
    stored = session.execute(sa.select(ApiToken.token_hash).where(ApiToken.user_id == user.id))
    assert token not in {row[0] for row in stored}
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json["username"] == user.username


def test_wrong_password_and_unknown_user_look_the_same(client, make_user):
    user = make_user()
    wrong = login(client, user.username, "not the password")
    unknown = login(client, "nobody-at-all")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json["detail"] == unknown.json["detail"]
    assert wrong.mimetype == "application/problem+json"


def test_inactive_user_cannot_log_in(client, make_user):
    user = make_user(is_active=False)
    assert login(client, user.username).status_code == 401


def test_login_is_throttled_after_repeated_failures(client, session, make_user):
    user = make_user()
    for _ in range(5):
        assert login(client, user.username, "wrong password").status_code == 401
    throttled = login(client, user.username)  # even the right password waits now
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0
    failures = session.execute(
        sa.select(sa.func.count()).where(LoginAttempt.username == user.username)
    ).scalar_one()
    assert failures == 5


def from_address(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def failures(session, count: int, *, username: str, addresses=None, address="203.0.113.9"):
    """``count`` failed logins just now, for ``username`` from ``address`` (or from
    ``addresses``, one each)."""
    now = utcnow()
    addresses = addresses or [address] * count
    session.execute(
        sa.insert(LoginAttempt),
        [
            {"username": username, "remote_addr": a, "attempted_at": now, "succeeded": False}
            for a in addresses[:count]
        ],
    )


def test_a_guesser_elsewhere_does_not_lock_the_user_out(client, session, make_user):
    user = make_user()
    for _ in range(5):
        wrong = login(client, user.username, "wrong", **from_address("198.51.100.7"))
        assert wrong.status_code == 401
    assert login(client, user.username, **from_address("198.51.100.7")).status_code == 429
    # The user, at home, is not the guesser.
    assert login(client, user.username, **from_address("192.0.2.10")).status_code == 201


def test_a_success_ends_the_pairs_failure_count(client, session, make_user):
    user = make_user()
    for _ in range(4):
        assert login(client, user.username, "typo").status_code == 401
    assert login(client, user.username).status_code == 201
    for _ in range(4):
        assert login(client, user.username, "typo").status_code == 401
    assert login(client, user.username).status_code == 201


def test_a_distributed_guess_locks_new_addresses_but_not_the_users_own(client, session, make_user):
    user = make_user()
    assert login(client, user.username, **from_address("192.0.2.10")).status_code == 201
    spread = [f"198.51.100.{n}" for n in range(50)]
    failures(session, 50, username=user.username, addresses=spread)
    assert login(client, user.username, **from_address("203.0.113.50")).status_code == 429
    assert login(client, user.username, **from_address("192.0.2.10")).status_code == 201


def test_credential_stuffing_locks_the_address_for_strangers_only(client, session, make_user):
    office = "192.0.2.99"  # a shared address: a village office, a mobile carrier's NAT
    regular, newcomer = make_user(), make_user()
    assert login(client, regular.username, **from_address(office)).status_code == 201
    for n in range(100):
        failures(session, 1, username=f"guess{n}", address=office)
    assert login(client, newcomer.username, **from_address(office)).status_code == 429
    assert login(client, regular.username, **from_address(office)).status_code == 201
    assert login(client, newcomer.username, **from_address("192.0.2.100")).status_code == 201


def test_failures_outside_the_window_do_not_count(client, session, make_user):
    user = make_user()
    old = utcnow() - timedelta(hours=2)
    session.execute(
        sa.insert(LoginAttempt),
        [{"username": user.username, "remote_addr": "127.0.0.1", "attempted_at": old}] * 10,
    )
    assert login(client, user.username).status_code == 201


def test_login_requires_both_fields(client):
    response = client.post("/api/v1/auth/tokens", json={"password": "x"})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"username"}


def test_logout_revokes_the_presented_token(client, make_user, auth):
    headers = auth(make_user())
    assert client.delete("/api/v1/auth/tokens/current", headers=headers).status_code == 204
    again = client.get("/api/v1/me", headers=headers)
    assert again.status_code == 401


def test_revoke_by_id_only_own_tokens(client, session, make_user, auth):
    alice, bob = make_user(), make_user()
    alice_headers = auth(alice)
    bob_headers = auth(bob)
    bob_token = session.execute(
        sa.select(ApiToken.id).where(ApiToken.user_id == bob.id)
    ).scalar_one()
    response = client.delete(f"/api/v1/auth/tokens/{bob_token}", headers=alice_headers)
    assert response.status_code == 404
    assert client.get("/api/v1/me", headers=bob_headers).status_code == 200
    assert client.delete(f"/api/v1/auth/tokens/{bob_token}", headers=bob_headers).status_code == 204
    assert client.get("/api/v1/me", headers=bob_headers).status_code == 401


def test_admin_may_revoke_anyones_token(client, session, make_user, auth):
    admin_headers = auth(make_user(Role.admin))
    victim = make_user()
    victim_headers = auth(victim)
    token_id = session.execute(
        sa.select(ApiToken.id).where(ApiToken.user_id == victim.id)
    ).scalar_one()
    assert (
        client.delete(f"/api/v1/auth/tokens/{token_id}", headers=admin_headers).status_code == 204
    )
    assert client.get("/api/v1/me", headers=victim_headers).status_code == 401


def test_expired_token_is_refused(client, session, make_user, auth):
    user = make_user()
    headers = auth(user)
    session.execute(
        sa.update(ApiToken)
        .where(ApiToken.user_id == user.id)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert "expired" in response.json["detail"]


def test_deactivated_users_tokens_stop_working(client, session, make_user, auth):
    user = make_user()
    headers = auth(user)
    user.is_active = False
    session.flush()
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_malformed_authorization_header_is_401(client):
    for header in ("Basic abc", "Bearer", "Bearer    ", "token"):
        response = client.get("/api/v1/me", headers={"Authorization": header})
        assert response.status_code == 401, header


def test_missing_token_is_401(client):
    assert client.get("/api/v1/me").status_code == 401
    assert client.delete("/api/v1/auth/tokens/current").status_code == 401
