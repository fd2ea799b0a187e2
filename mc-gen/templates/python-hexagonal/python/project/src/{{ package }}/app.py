"""The application: one FastAPI app with every slice's web adapter."""

from fastapi import FastAPI
from sqlalchemy import Engine

from {{ package }} import db
{% for s in slices -%}
from {{ package }}.{{ s.slice }} import adapter as {{ s.slice }}_adapter
{% endfor %}

def create_app(engine: Engine | None = None) -> FastAPI:
    """The app over `engine` (see `db.engine`); the tables are made if missing."""
    engine = engine or db.engine()
    db.METADATA.create_all(engine)
    app = FastAPI(title="{{ app }}")
{%- for s in slices %}
    {{ s.slice }}_adapter.install(app, engine)
{%- endfor %}
    return app
