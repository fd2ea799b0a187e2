"""A slice test: the web adapter alone, over the use cases with an in-memory port."""

from fastapi import FastAPI
from fastapi.testclient import TestClient

from {{ package }}.{{ slice }}.adapter import web
from {{ package }}.{{ slice }}.application import {{ Slice }}Service

from test_{{ slice }}_application import InMemory{{ Slice }}s


def test_post_opens_a_{{ slice }}():
    app = FastAPI()
    app.include_router(web.router({{ Slice }}Service(InMemory{{ Slice }}s())))
    response = TestClient(app).post("/api/{{ slice }}s", json={"title": "review the ADRs"})
    assert response.status_code == 201
    assert (response.json()["title"], response.json()["done"]) == ("review the ADRs", False)
