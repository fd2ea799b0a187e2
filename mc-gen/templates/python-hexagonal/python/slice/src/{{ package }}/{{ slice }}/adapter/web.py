"""The driving adapter: the slice's HTTP API under /api/{{ slice }}s."""

import uuid

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from ..application import {{ Slice }}Service
from ..domain import {{ Slice }}


class Open{{ Slice }}(BaseModel):
    title: str


class {{ Slice }}View(BaseModel):
    id: uuid.UUID
    title: str
    done: bool

    @classmethod
    def of(cls, {{ slice }}: {{ Slice }}) -> "{{ Slice }}View":
        return cls(id={{ slice }}.id, title={{ slice }}.title, done={{ slice }}.done)


def router(service: {{ Slice }}Service) -> APIRouter:
    """The routes, over the slice's use cases."""
    api = APIRouter(prefix="/api/{{ slice }}s")

    @api.post("", status_code=201)
    def open_{{ slice }}(request: Open{{ Slice }}) -> {{ Slice }}View:
        return {{ Slice }}View.of(service.open(request.title))

    @api.post("/{id}/complete")
    def complete_{{ slice }}(id: uuid.UUID) -> {{ Slice }}View:
        done = service.complete(id)
        if done is None:
            raise HTTPException(status_code=404)
        return {{ Slice }}View.of(done)

    @api.get("")
    def all_{{ slice }}s() -> list[{{ Slice }}View]:
        return [{{ Slice }}View.of({{ slice }}) for {{ slice }} in service.all()]

    return api
