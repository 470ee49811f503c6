"""Alembic environment: the URL comes from WUYE_DATABASE_URL; SQLite gets batch mode for ALTERs."""

from alembic import context
from sqlalchemy import pool

import models
from models.base import on_database
from models.db import database_url, make_engine
from models.search import drop_search_views, sync_search_tables
from models.survey_keys import sync_survey_keys
from models.totals import sync_totals

config = context.config
target_metadata = models.Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # handed in by the app or the tests: migrate on their connection
        _run(connection)
        return
    engine = make_engine(database_url(), poolclass=pool.NullPool)
    # begun here, as the app's own upgrade does: on SQLite (no transactional DDL) alembic commits each revision
    # itself, and what ``_run`` keeps by triggers after them was rolled back with an unbegun connection
    with engine.begin() as connection:
        _run(connection)


def _run(connection) -> None:
    def include_object(obj, name, type_, reflected, compare_to) -> bool:
        return on_database(obj, connection.dialect.name)

    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        drop_search_views(connection)  # made again below
        context.run_migrations()
        # what the database keeps by triggers, after any revision: a batch ALTER drops its table's triggers
        sync_search_tables(connection)
        sync_totals(connection)
        sync_survey_keys(connection)  # PostgreSQL: a form's key to its household


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
