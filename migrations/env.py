"""Alembic environment: async SQLAlchemy over asyncpg, URL from the caller or the settings."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.embedded import resolve_database_url
from app.repository.tables import metadata
from app.settings import get_settings

config = context.config
if config.config_file_name is not None and not config.attributes.get("database_url"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def sqlalchemy_url() -> str:
    url = config.attributes.get("database_url")
    if not url:
        settings = get_settings()
        url = resolve_database_url(settings.database_url, settings.data_dir)
    _scheme, rest = url.split("://", 1)
    return f"postgresql+asyncpg://{rest}"


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_async_engine(sqlalchemy_url(), poolclass=NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=sqlalchemy_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(run_async_migrations())
