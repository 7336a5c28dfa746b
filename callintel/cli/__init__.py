"""The ``callintel`` command line: the app, its command groups, and ``main``.

Each command lives in the module named for what it does (``analyze``, ``train``, ``batch``,
``service``, ``keys``, ``deliveries``, ``reviews``); ``render`` shows results, ``common`` holds
the consoles and ``fail``. Commands import the heavy libraries (torch, transformers,
faster-whisper, the API) inside themselves, so ``callintel --help`` loads none of them.
"""

from __future__ import annotations

import gc

import typer

from callintel.cli import analyze, batch, deliveries, keys, reviews, service, train

app = typer.Typer(
    help="Sales-call intelligence: transcripts, speakers and roles from recordings.", no_args_is_help=True
)
app.command()(analyze.analyze)
app.command()(analyze.models)
app.command()(train.train)
app.command(name="eval")(train.evaluate)
app.command(name="understand")(analyze.understand_transcript)
app.command()(batch.batch)
app.command()(service.serve)
app.command()(service.worker)

reviews_app = typer.Typer(help="QA reviews stored by the service.", no_args_is_help=True)
reviews_app.command("export")(reviews.reviews_export)

db_app = typer.Typer(help="The service's database.", no_args_is_help=True)
db_app.command("upgrade")(service.db_upgrade)

keys_app = typer.Typer(help="API keys of the service.", no_args_is_help=True)
keys_app.command("create")(keys.keys_create)
keys_app.command("revoke")(keys.keys_revoke)

deliveries_app = typer.Typer(help="Webhook deliveries to the CRM/CDP.", no_args_is_help=True)
deliveries_app.command("run")(deliveries.deliveries_run)
deliveries_app.command("replay")(deliveries.deliveries_replay)
deliveries_app.command("status")(deliveries.deliveries_status)

app.add_typer(reviews_app, name="reviews")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(deliveries_app, name="deliveries")


def main() -> None:
    try:
        app()
    finally:
        # The process ends here. Python's collector would first walk every object torch and
        # transformers made (1.3 s after `analyze`); none of them needs finalising, so skip them.
        gc.freeze()


if __name__ == "__main__":
    main()
