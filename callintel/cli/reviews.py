"""`reviews`: the QA reviews stored by the service, as training data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from callintel.cli.common import console
from callintel.settings import Settings


def reviews_export(
    out: Annotated[Path, typer.Argument(help="JSONL file to write (docs/corpus.md format).")],
    dealer: Annotated[str | None, typer.Option(help="Only this dealer's calls.")] = None,
) -> None:
    """Write the reviewed calls as labelled dialogues, for `callintel train --data`."""
    from callintel.store.db import Database
    from callintel.store.export import reviewed_dialogues
    from callintel.training.corpus.jsonl import write_jsonl

    settings = Settings.from_env()
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            n = write_jsonl(out, list(reviewed_dialogues(session, dealer)))
    finally:
        db.dispose()
    console.print(f"wrote {n} reviewed dialogues to {out}")
