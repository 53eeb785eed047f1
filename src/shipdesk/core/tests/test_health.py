import pytest


@pytest.mark.django_db
def test_healthz_answers_without_dependencies(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_ok_when_database_and_broker_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_readyz_503_when_broker_unreachable(client, monkeypatch):
    from shipdesk.celery import app

    # A port on loopback where nothing listens (our tests' range, never bound).
    for key in ("broker_url", "broker_write_url", "broker_read_url"):
        monkeypatch.setitem(app.conf, key, "redis://127.0.0.1:18099/0")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "ok" and body["checks"]["broker"].startswith("error")
