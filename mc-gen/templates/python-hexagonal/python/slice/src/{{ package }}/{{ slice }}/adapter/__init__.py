"""The {{ slice }} slice's adapters, and their wiring into the app."""

from fastapi import FastAPI
from sqlalchemy import Engine

from ..application import {{ Slice }}Service
from . import persistence, web


def install(app: FastAPI, engine: Engine) -> None:
    """Serves the slice's HTTP API from `app`, keeping {{ slice }}s in `engine`'s database."""
    app.include_router(web.router({{ Slice }}Service(persistence.Sql{{ Slice }}Repository(engine))))
