"""The driven adapter: {{ slice }}s in the database (table `{{ slice }}`)."""

import uuid

from sqlalchemy import Boolean, Column, Engine, String, Table, Uuid, insert, select, update

from {{ package }}.db import METADATA

from ..domain import {{ Slice }}

TABLE = Table(
    "{{ slice }}",
    METADATA,
    Column("id", Uuid, primary_key=True),
    Column("title", String(200), nullable=False),
    Column("done", Boolean, nullable=False, default=False),
)


class Sql{{ Slice }}Repository:
    """{{ Slice }}Repository over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def save(self, {{ slice }}: {{ Slice }}) -> None:
        values = {"title": {{ slice }}.title, "done": {{ slice }}.done}
        with self._engine.begin() as connection:
            changed = connection.execute(update(TABLE).where(TABLE.c.id == {{ slice }}.id).values(**values))
            if changed.rowcount == 0:
                connection.execute(insert(TABLE).values(id={{ slice }}.id, **values))

    def find(self, id: uuid.UUID) -> {{ Slice }} | None:
        with self._engine.connect() as connection:
            row = connection.execute(select(TABLE).where(TABLE.c.id == id)).first()
        return {{ Slice }}(row.id, row.title, row.done) if row else None

    def all(self) -> list[{{ Slice }}]:
        with self._engine.connect() as connection:
            rows = connection.execute(select(TABLE).order_by(TABLE.c.title)).all()
        return [{{ Slice }}(row.id, row.title, row.done) for row in rows]
