"""The {{ slice }} slice's domain model: plain Python, no framework (import-linter keeps it so)."""

import uuid
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class {{ Slice }}:
    """A {{ slice }}: its identity, title and whether it is done."""

    id: uuid.UUID
    title: str
    done: bool = False

    def __post_init__(self) -> None:
        if not self.title.strip():
            raise ValueError("a {{ slice }} needs a title")

    @classmethod
    def open(cls, title: str) -> "{{ Slice }}":
        """A new, open {{ slice }}."""
        return cls(uuid.uuid4(), title.strip())

    def complete(self) -> "{{ Slice }}":
        """This {{ slice }}, done."""
        return replace(self, done=True)
