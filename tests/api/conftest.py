"""Helpers for the candidate API tests."""
import pytest

API = "/api/mp/v1"


@pytest.fixture
def mp_login(client):
    """Log a sandbox openid in; returns the Authorization header."""
    def login(openid: str) -> dict:
        r = client.post(f"{API}/auth/login", json={"code": f"sandbox:{openid}"})
        assert r.status_code == 200, r.get_json()
        return {"Authorization": f"Bearer {r.get_json()['token']}"}
    return login
