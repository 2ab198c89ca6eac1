def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_reports_database_and_redis(client, backend):
    body = client.get("/readyz").get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]
    expected_db = "sqlite" if backend.name == "sqlite" else "postgresql"
    assert body["checks"]["database"]["backend"] == expected_db
    assert body["checks"]["redis"]["backend"] == ("embedded" if backend.name == "sqlite"
                                                  else "redis")


def test_readyz_fails_when_redis_is_down(app, client, monkeypatch):
    from app.extensions import redis_store

    def boom():
        raise ConnectionError("down")

    monkeypatch.setattr(redis_store.client, "ping", boom)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"]["ok"] is False
