"""The whole slice wired: HTTP in, the database out (in-memory SQLite, or $DATABASE_URL)."""

from fastapi.testclient import TestClient

from {{ package }}.app import create_app


def test_an_opened_{{ slice }}_is_listed_and_can_be_completed():
    client = TestClient(create_app())
    opened = client.post("/api/{{ slice }}s", json={"title": "deploy with minicluster"})
    assert opened.status_code == 201
    id = opened.json()["id"]
    assert client.post(f"/api/{{ slice }}s/{id}/complete").json()["done"] is True
    listed = client.get("/api/{{ slice }}s").json()
    assert [t["done"] for t in listed if t["id"] == id] == [True]
