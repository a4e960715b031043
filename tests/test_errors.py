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


def test_a_lost_database_connection_is_503_with_retry_after(client, monkeypatch):
    import sqlalchemy as sa

    from marketplace.regions import service as regions

    def gone(session, region_id):
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(regions, "get_region", gone)
    response = client.get("/api/v1/regions/1")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.mimetype == "application/problem+json"
