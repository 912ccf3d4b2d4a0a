"""``deletion-sdk version``, ``init`` and ``db upgrade``; :func:`open_sdk` for the other command modules."""

from __future__ import annotations

from pathlib import Path

import typer

from deletion_sdk import __version__
from deletion_sdk.cli._common import JsonOption, emit, state
from deletion_sdk.errors import ConfigurationError
from deletion_sdk.logging import configure_logging
from deletion_sdk.sdk import DeletionSDK, resolve_settings
from deletion_sdk.settings import Settings

__all__ = ["open_sdk", "register"]


def _configure(ctx: typer.Context) -> None:
    # Logs go to stderr, and only warnings unless --debug: stdout stays one JSON document and a failing
    # command prints exactly one `error: …` line.
    configure_logging(level="DEBUG" if state(ctx).debug else "WARNING")


def open_sdk(ctx: typer.Context, *, read_only: bool = False) -> DeletionSDK:
    """The SDK for this invocation's ``--home`` / ``--database-url``.

    Args:
        ctx: the command's context.
        read_only: the command only reads. A missing deployment is then an error naming ``init`` instead
            of a new, empty one created on the spot (a mistyped HOME would otherwise answer "0 requests").

    Raises:
        ConfigurationError: ``read_only`` and there is no ledger at HOME / the database URL.
    """
    _configure(ctx)
    st = state(ctx)
    if read_only:
        _require_deployment(resolve_settings(home=st.home, database_url=st.database_url))
    return DeletionSDK.open(home=st.home, database_url=st.database_url)


def _require_deployment(settings: Settings) -> None:
    from deletion_sdk.ledger.db import normalise_database_url

    url = normalise_database_url(settings.resolved_database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return  # a server database: opening it says whether it is there
    if not Path(url.database).is_file():
        where = (
            f"HOME {str(settings.home)!r}"
            if Path(url.database).parent.resolve() == settings.home.resolve()
            else f"database {url.database!r}"
        )
        raise ConfigurationError(
            f"No deployment at {where}: run 'deletion-sdk init' first (or give the right --home / "
            "DELETION_SDK_HOME)."
        )


def register(app: typer.Typer) -> None:
    @app.command("version")
    def version(as_json: bool = JsonOption) -> None:
        """Print the SDK version."""
        emit({"version": __version__}, as_json=as_json, human=lambda: print(__version__))

    @app.command("init")
    def init(ctx: typer.Context, as_json: bool = JsonOption) -> None:
        """Create HOME, the ledger database and the subject key (mode 0600) where absent; migrate."""
        _configure(ctx)
        st = state(ctx)
        result = DeletionSDK.init(home=st.home, database_url=st.database_url)

        def human() -> None:
            print(f"home:        {result.home}")
            print(f"database:    {result.database_url} (schema {result.revision})")
            key_state = "created" if result.subject_key_created else "existing"
            where = result.subject_key_path or "DELETION_SDK_SUBJECT_KEY"
            print(f"subject key: {where} ({key_state}, fingerprint {result.subject_key_fingerprint})")

        emit(result, as_json=as_json, human=human)

    db = typer.Typer(help="Ledger database maintenance.", no_args_is_help=True)
    app.add_typer(db, name="db")

    @db.command("upgrade")
    def upgrade(ctx: typer.Context, as_json: bool = JsonOption) -> None:
        """Migrate the ledger schema to the newest revision."""
        from deletion_sdk.ledger.db import Ledger

        _configure(ctx)
        st = state(ctx)
        settings = resolve_settings(home=st.home, database_url=st.database_url)
        ledger = Ledger.open(settings.resolved_database_url)
        try:
            before, after = ledger.upgrade()
        finally:
            ledger.dispose()
        data = {"database_url": ledger.url, "revision_before": before, "revision": after}
        emit(data, as_json=as_json, human=lambda: print(f"{ledger.url}: {before or 'empty'} -> {after}"))
