"""The {{ slice }} slice's use cases, over its ports only: no framework, so they test without one."""

import uuid
from typing import Protocol

from .domain import {{ Slice }}


class {{ Slice }}Repository(Protocol):
    """The driven port: where {{ slice }}s are kept. An adapter implements it."""

    def save(self, {{ slice }}: {{ Slice }}) -> None: ...

    def find(self, id: uuid.UUID) -> {{ Slice }} | None: ...

    def all(self) -> list[{{ Slice }}]: ...


class {{ Slice }}Service:
    """The driving port: what the outside world may ask of this slice."""

    def __init__(self, repository: {{ Slice }}Repository) -> None:
        self._repository = repository

    def open(self, title: str) -> {{ Slice }}:
        {{ slice }} = {{ Slice }}.open(title)
        self._repository.save({{ slice }})
        return {{ slice }}

    def complete(self, id: uuid.UUID) -> {{ Slice }} | None:
        found = self._repository.find(id)
        if found is None:
            return None
        done = found.complete()
        self._repository.save(done)
        return done

    def all(self) -> list[{{ Slice }}]:
        return self._repository.all()
