"""Deployment settings, read from the environment with the prefix ``DELETION_SDK_``.

=====================  ===============================================  ==========================
variable               meaning                                          default
=====================  ===============================================  ==========================
``HOME``               directory for the database and artifacts         ``./.deletion_sdk``
``DATABASE_URL``       any SQLAlchemy URL                               SQLite file under HOME
``SUBJECT_KEY``        hex HMAC key for subject references              read from HOME/subject.key
``KEY_PASSPHRASE``     passphrase that encrypts the signing key         unset (key stored plain)
``MASTER_KEY``         hex key wrapping the per-person data keys        read from HOME/keys/master.key
``POLICY_DIR``         extra directory searched for policy YAML files   unset
``DEVICE``             ``auto``, ``cpu``, ``cuda`` or ``cuda:N``        ``auto``
``SHADOW_MODELS``      K reference models of the per-example tier       16 on GPU, 8 on CPU
``EXECUTOR``           runs shadow-bank and qualification trainings:    ``local``
                       ``local``, ``ray`` (see deletion_sdk.executor)
``EXECUTOR_WORKERS``   trainings at once on the ``ray`` executor         every core of a local Ray
``SEED``               seeds each job's unlearning and verification     ``0``
``WITNESS_DIR``        directory of the audit checkpoints' witness      ``HOME/witness``
``REGISTRY``           where deployments are mirrored after each job:    ``sdk``
                       ``sdk`` (the ledger only) or ``mlflow``
``MLFLOW_URI``         MLflow tracking/registry URI (or server URL)     SQLite under HOME/mlflow
``MLFLOW_ALIAS``       MLflow alias of the serving version              ``production``
=====================  ===============================================  ==========================
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from deletion_sdk.layout import HomeLayout

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Settings for one deployment. Construct directly to override the environment.

    Only :meth:`deletion_sdk.DeletionSDK.open` (through :func:`deletion_sdk.sdk.resolve_settings`) and the
    CLI construct this from the environment; everything else receives the resolved settings inside a
    :class:`deletion_sdk.context.Context`.
    """

    model_config = SettingsConfigDict(env_prefix="DELETION_SDK_", extra="ignore", frozen=True)

    home: Path = Path(".deletion_sdk")
    database_url: str | None = None
    subject_key: SecretStr | None = None
    key_passphrase: SecretStr | None = None
    master_key: SecretStr | None = None
    policy_dir: Path | None = None
    device: str = "auto"
    shadow_models: int | None = Field(default=None, ge=2)
    executor: str = "local"
    executor_workers: int | None = Field(default=None, ge=1)
    seed: int = Field(default=0, ge=0)
    witness_dir: Path | None = None
    registry: Literal["sdk", "mlflow"] = "sdk"
    mlflow_uri: str | None = None
    mlflow_alias: str = "production"

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to ``sqlite:///HOME/ledger.db``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.layout.ledger_db.resolve()}"

    @property
    def layout(self) -> HomeLayout:
        """Every artifact path under HOME (see :mod:`deletion_sdk.layout`)."""
        return HomeLayout(self.home)
