"""The database every slice's persistence adapter keeps its tables in."""

import os

from sqlalchemy import Engine, MetaData, create_engine
from sqlalchemy.pool import StaticPool

METADATA = MetaData()


def engine(url: str | None = None) -> Engine:
    """The engine for `url`, else $DATABASE_URL, else a private in-memory SQLite database."""
    url = url or os.environ.get("DATABASE_URL", "sqlite+pysqlite:///:memory:")
    if url.startswith("sqlite") and ":memory:" in url:
        # One connection shared by every thread, or each would see its own empty database.
        return create_engine(url, connect_args={"check_same_thread": False}, poolclass=StaticPool)
    return create_engine(url)
