"""`keys`: create and revoke the service's API keys."""

from __future__ import annotations

from typing import Annotated

import typer

from callintel.cli.common import console, fail
from callintel.settings import Settings


def keys_create(
    role: Annotated[str, typer.Option(help="admin, qa or crm.")],
    dealer: Annotated[list[str], typer.Option(help="A dealer the key may see (repeat); '*' for all.")],
    name: Annotated[str, typer.Option(help="A note to recognise the key by.")] = "",
) -> None:
    """Create an API key; it is printed once and only its hash is stored."""
    from callintel.store.db import Database, upgrade
    from callintel.store.keys import create_key

    settings = Settings.from_env()
    upgrade(settings.database_url)
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            row, key = create_key(session, role, dealer, name)
    except ValueError as e:
        fail(str(e))
    finally:
        db.dispose()
    console.print(f"key id {row.id} ({row.role}; dealers: {', '.join(row.dealers)})")
    print(key)


def keys_revoke(
    key: Annotated[str, typer.Argument(help="The key's id or prefix (never the key itself).")],
) -> None:
    """Revoke an API key: it is refused from the next request on."""
    from callintel.store.db import Database
    from callintel.store.keys import revoke_key

    settings = Settings.from_env()
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            row = revoke_key(session, key)
            if row is None:
                fail(f"no key {key!r}")
            console.print(f"key {row.id} revoked")
    finally:
        db.dispose()
