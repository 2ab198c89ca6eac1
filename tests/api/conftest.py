"""Helpers for the candidate API tests."""
import pytest
import requests

API = "/api/mp/v1"


@pytest.fixture
def mp_login(client):
    """Log a sandbox openid in; returns the Authorization header."""
    def login(openid: str) -> dict:
        r = client.post(f"{API}/auth/login", json={"code": f"sandbox:{openid}"})
        assert r.status_code == 200, r.get_json()
        return {"Authorization": f"Bearer {r.get_json()['token']}"}
    return login


@pytest.fixture
def sandbox(live_url):
    """Direct access to the sandbox's test interface."""
    class Sandbox:
        def post(self, path, **body):
            r = requests.post(f"{live_url}/_sandbox/wechat/{path}", json=body, timeout=5)
            assert r.status_code == 200, r.text
            return r.json()

        def get(self, path, **params):
            return requests.get(f"{live_url}/_sandbox/wechat/{path}", params=params,
                                timeout=5).json()

        def fault(self, **spec):
            return self.post("faults", **spec)

        def messages(self, touser=None):
            return self.get("messages", **({"touser": touser} if touser else {}))["items"]
    return Sandbox()
