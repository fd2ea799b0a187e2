"""Unit tests of the {{ slice }} use cases over an in-memory port: the hexagon without adapters."""

import uuid

from {{ package }}.{{ slice }}.application import {{ Slice }}Service
from {{ package }}.{{ slice }}.domain import {{ Slice }}


class InMemory{{ Slice }}s:
    def __init__(self):
        self.kept: dict[uuid.UUID, {{ Slice }}] = {}

    def save(self, {{ slice }}):
        self.kept[{{ slice }}.id] = {{ slice }}

    def find(self, id):
        return self.kept.get(id)

    def all(self):
        return list(self.kept.values())


def test_opened_is_kept():
    service = {{ Slice }}Service(InMemory{{ Slice }}s())
    opened = service.open("plan the week")
    assert service.all() == [opened]


def test_complete_marks_done_and_saves():
    repository = InMemory{{ Slice }}s()
    service = {{ Slice }}Service(repository)
    opened = service.open("plan the week")
    assert service.complete(opened.id).done
    assert repository.kept[opened.id].done


def test_completing_an_unknown_id_finds_nothing():
    assert {{ Slice }}Service(InMemory{{ Slice }}s()).complete(uuid.uuid4()) is None
