"""Database constraint races surface as 409 problems, never 500s."""

from marketplace.accounts import service
from marketplace.accounts.models import Role


def test_unique_constraint_lost_at_flush_is_409(client, make_user, auth, monkeypatch):
    admin_headers = auth(make_user(Role.admin))
    existing = make_user()
    # As if a concurrent request created the same username after our check ran.
    monkeypatch.setattr(service, "_username_taken", lambda session, username: False)
    response = client.post(
        "/api/v1/users",
        json={
            "username": existing.username,
            "password": "a long enough password",
            "display_name": "重复",
            "role": "buyer",
        },
        headers=admin_headers,
    )
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
