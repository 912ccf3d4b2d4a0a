"""Where a deployment keeps its files: one object names every path under HOME.

=====================  ==========================================================
``ledger.db``          the SQLite ledger (when no database URL is configured)
``subject.key``        the HMAC key behind subject references (mode 0600)
``keys/``              the Ed25519 signing key pair; ``keys/master.key`` wraps the data keys (0600)
``models/<name>/``     content-addressed weights of trained model versions
``jobs/<job id>/``     a batch job's forget-set manifest, verification reports, candidates
``shadow/<digest>/``   the shadow bank of one model version (per-example tier)
``qualification/``     qualification reports and their cached models
``certificates/``      signed certificates
``reports/``           the privacy officer's HTML reports
``cache/``             decoded-image tensor caches keyed by example digests
``witness/``           append-only copy of every signed audit checkpoint (unless WITNESS_DIR is set)
``vault/``             ingested examples, each sealed under its owner's data key (crypto-shredding)
=====================  ==========================================================

Nothing here touches the disk: the layout only computes paths. No other module joins a literal
directory name onto HOME.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["HomeLayout", "JobArtifacts"]


@dataclass(frozen=True)
class JobArtifacts:
    """A batch job's files (``HOME/jobs/<job id>/``)."""

    root: Path

    def forget_manifest(self) -> Path:
        """The resolved forget set (sorted ids, digests, Merkle root)."""
        return self.root / "forget-set.json"

    def verification(self, attempt: int) -> Path:
        """The verification report of attempt ``attempt`` (0-based)."""
        return self.root / f"verification-{attempt}.json"

    def candidate_dir(self, attempt: int) -> Path:
        """The candidate weights of attempt ``attempt``."""
        return self.root / f"candidate-{attempt}"


@dataclass(frozen=True)
class HomeLayout:
    """Every artifact path of one deployment, derived from its HOME directory."""

    home: Path

    @property
    def ledger_db(self) -> Path:
        return self.home / "ledger.db"

    @property
    def subject_key(self) -> Path:
        return self.home / "subject.key"

    @property
    def keys(self) -> Path:
        return self.home / "keys"

    @property
    def signing_key(self) -> Path:
        return self.keys / "signing.key"

    @property
    def public_key(self) -> Path:
        return self.keys / "signing.pub"

    @property
    def keyring(self) -> Path:
        """Every public key that ever signed for this deployment, with its validity (``keys rotate``)."""
        return self.keys / "keyring.json"

    @property
    def witness(self) -> Path:
        """The default witness store: an append-only file of signed checkpoints, outside the database."""
        return self.home / "witness" / "checkpoints.jsonl"

    @property
    def master_key(self) -> Path:
        return self.keys / "master.key"

    @property
    def vault(self) -> Path:
        return self.home / "vault"

    @property
    def models(self) -> Path:
        return self.home / "models"

    def model_dir(self, name: str) -> Path:
        """Where the weights of model ``name`` are stored."""
        return self.models / name

    @property
    def jobs(self) -> Path:
        return self.home / "jobs"

    def job(self, job_id: str) -> JobArtifacts:
        """The files of batch job ``job_id``."""
        return JobArtifacts(self.jobs / job_id)

    @property
    def shadow(self) -> Path:
        return self.home / "shadow"

    def shadow_bank(self, model_digest: str) -> Path:
        """The shadow bank of the model version with this weights digest."""
        return self.shadow / model_digest.lower()

    @property
    def qualification(self) -> Path:
        return self.home / "qualification"

    @property
    def certificates(self) -> Path:
        return self.home / "certificates"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    def report(self, job_id: str) -> Path:
        """The default HTML report path of batch job ``job_id``."""
        return self.reports / f"{job_id}.html"

    @property
    def cache(self) -> Path:
        return self.home / "cache"

    def stored_path(self, path: Path | str) -> str:
        """How the ledger records an artifact path: relative to HOME ('/'-separated) when it lies inside
        HOME, so the whole HOME can be moved; absolute otherwise (a file registered from elsewhere)."""
        absolute = Path(path).absolute()
        try:
            return absolute.relative_to(self.home.absolute()).as_posix()
        except ValueError:
            return str(absolute)

    def artifact(self, stored: str) -> Path:
        """The file a recorded artifact path names now: a relative path is under the current HOME; an
        absolute one (written by earlier versions, or a file outside HOME) is used as given."""
        path = Path(stored)
        return path if path.is_absolute() else self.home / path
