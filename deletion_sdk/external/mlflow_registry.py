"""The MLflow model registry as the deployment target (the ``mlflow`` extra).

After a batch job, :func:`publish_job` mirrors it into MLflow:

* the original (pre-erasure) version and the job's last candidate become MLflow model versions of one
  registered model (found again by their ledger version id, so publishing twice adds nothing), each with the
  SDK checkpoint as artifacts and ``deletion_sdk.*`` tags (ledger version, weights digest, status);
* the candidate carries the job's evidence: the certificate, the verification report and the decision as
  artifacts, and the decision's outcome, the certificate's payload digest, the forget set's Merkle root and
  the job id as tags;
* the serving alias moves to the candidate only when its decision passed and the job completed (the
  certificate exists); otherwise it stays where it was;
* a version that the ledger has retired (it holds erased people's data: the pre-erasure version, a rejected
  candidate) is retired there too: tagged ``deletion_sdk.retired_at`` (and ``deletion_sdk.status`` as the
  ledger has it), no alias left on it, and — once the ledger has deleted its weights (at once, or after the
  policy's grace period) — the MLflow version itself is deleted.

The tracking URI defaults to a SQLite store under HOME (``sqlite:///HOME/mlflow/mlflow.db``, artifacts in
``HOME/mlflow/artifacts``); any MLflow server URL works as well. Nothing here runs inside the batch job: the
ledger stays the record of truth, and MLflow a mirror that can be rebuilt from it.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from pydantic import BaseModel, ConfigDict

from deletion_sdk.errors import ConfigurationError, InputError, JobError
from deletion_sdk.layout import HomeLayout
from deletion_sdk.ledger import jobs as jobq
from deletion_sdk.ledger import registry, retirement
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.records import ModelVersionRecord
from deletion_sdk.logging import get_logger

_P = ParamSpec("_P")
_R = TypeVar("_R")

if TYPE_CHECKING:
    from deletion_sdk.settings import Settings

__all__ = [
    "MlflowPublication",
    "default_tracking_uri",
    "publish_after_job",
    "publish_deployed",
    "publish_deployed_after",
    "publish_job",
]

_TAG = "deletion_sdk."


class MlflowPublication(BaseModel):
    """What a publication did in MLflow."""

    model_config = ConfigDict(frozen=True)

    tracking_uri: str
    registered_model: str
    original_version: str
    candidate_version: str | None
    alias: str
    alias_version: str | None  # where the alias points after publishing
    alias_moved: bool
    retired_versions: tuple[str, ...]
    deleted_versions: tuple[str, ...]


def default_tracking_uri(layout: HomeLayout) -> str:
    """``sqlite:///HOME/mlflow/mlflow.db`` (the folder is created)."""
    folder = layout.home / "mlflow"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / 'mlflow.db').resolve()}"


def _client(tracking_uri: str) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise ConfigurationError(
            "the MLflow registry needs MLflow: pip install 'deletion-sdk[mlflow]'"
        ) from None
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def _experiment(client: Any, layout: HomeLayout, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    artifacts = (layout.home / "mlflow" / "artifacts").resolve()
    artifacts.mkdir(parents=True, exist_ok=True)
    return str(client.create_experiment(name, artifact_location=artifacts.as_uri()))


def _find(client: Any, model: str, record: ModelVersionRecord) -> Any | None:
    for mv in client.search_model_versions(f"name='{model}'"):
        full = client.get_model_version(model, mv.version)
        if full.tags.get(_TAG + "model_version_id") == str(record.model_version_id):
            return full
    return None


def _publish(
    client: Any,
    experiment_id: str,
    model: str,
    record: ModelVersionRecord,
    files: dict[str, Path],
    tags: dict[str, str],
) -> Any:
    """The MLflow version of ``record`` (created with ``files`` as artifacts when it does not exist yet)."""
    existing = _find(client, model, record)
    if existing is not None:
        for key, value in tags.items():
            client.set_model_version_tag(model, existing.version, key, value)
        return existing
    run = client.create_run(experiment_id, tags={_TAG + "model_version_id": str(record.model_version_id)})
    run_id = run.info.run_id
    for folder, path in files.items():
        client.log_artifact(run_id, str(path), artifact_path=folder)
    client.set_terminated(run_id)
    base = {
        _TAG + "model": record.name,
        _TAG + "version": str(record.version),
        _TAG + "model_version_id": str(record.model_version_id),
        _TAG + "weights_sha256": record.weights_digest,
        _TAG + "architecture": record.architecture,
        _TAG + "status": record.status,
    }
    source = f"{run.info.artifact_uri}/model"
    return client.create_model_version(model, source, run_id=run_id, tags={**base, **tags})


def _weights_files(record: ModelVersionRecord, layout: HomeLayout) -> dict[str, Path]:
    if not record.path or not layout.artifact(record.path).is_file():
        return {}
    weights = layout.artifact(record.path)
    meta = weights.with_suffix(".json")
    return {"model": weights, **({"model_meta": meta} if meta.is_file() else {})}


def _stdout_to_stderr(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``fn`` with MLflow's own prints (run links …) sent to stderr: stdout stays the CLI's JSON."""

    @functools.wraps(fn)
    def quiet(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with contextlib.redirect_stdout(sys.stderr):
            return fn(*args, **kwargs)

    return quiet


@_stdout_to_stderr
def publish_deployed(
    ledger: Ledger,
    layout: HomeLayout,
    *,
    model: str,
    tracking_uri: str | None = None,
    registered_model: str | None = None,
    alias: str = "production",
) -> MlflowPublication:
    """Register the SDK model's deployed version in MLflow and point the serving alias at it.

    Raises:
        NotFoundError: no version of ``model`` is deployed.
        InputError: a bad alias.
        ConfigurationError: MLflow is not installed.
    """
    _check_alias(alias)
    with ledger.session(write=False) as session:
        deployed = registry.deployed(session, model)
    uri = tracking_uri or default_tracking_uri(layout)
    name = registered_model or deployed.name
    client = _client(uri)
    if not client.search_registered_models(f"name='{name}'"):
        client.create_registered_model(name, tags={_TAG + "model": deployed.name})
    mv = _publish(
        client,
        _experiment(client, layout, f"deletion_sdk/{name}"),
        name,
        deployed,
        _weights_files(deployed, layout),
        {},
    )
    client.set_registered_model_alias(name, alias, str(mv.version))
    return MlflowPublication(
        tracking_uri=uri,
        registered_model=name,
        original_version=str(mv.version),
        candidate_version=None,
        alias=alias,
        alias_version=str(mv.version),
        alias_moved=True,
        retired_versions=(),
        deleted_versions=(),
    )


def _check_alias(alias: str) -> None:
    if not isinstance(alias, str) or not alias.strip() or not alias.replace("-", "_").isidentifier():
        raise InputError(f"The 'alias' parameter must be an MLflow alias (a name). Got {alias!r} instead.")


@_stdout_to_stderr
def publish_job(
    ledger: Ledger,
    layout: HomeLayout,
    *,
    job_id: str,
    tracking_uri: str | None = None,
    registered_model: str | None = None,
    alias: str = "production",
) -> MlflowPublication:
    """Mirror a finished batch job into the MLflow model registry (see the module docstring).

    Args:
        ledger: the ledger.
        layout: the home layout (job artifacts, default tracking store).
        job_id: a completed or failed batch job.
        tracking_uri: MLflow tracking/registry URI or server URL (default :func:`default_tracking_uri`).
        registered_model: the MLflow registered model (default: the SDK model's name).
        alias: the serving alias, moved only to a certified version.

    Raises:
        InputError: the job is still running, or a bad alias.
        ConfigurationError: MLflow is not installed.
    """
    _check_alias(alias)
    with ledger.session(write=False) as session:
        job = jobq.get_job(session, job_id)
        if job.status not in ("completed", "failed"):
            raise InputError(f"batch job {job_id} is {job.status}; publish it once it has finished")
        state = job.state
        if state.original_version_id is None:
            raise JobError(f"batch job {job_id} never resolved its original model; nothing to publish")
        original = registry.get_model_version(session, state.original_version_id)
        candidates = [
            (a, registry.get_model_version(session, a.candidate_version_id))
            for a in state.attempts
            if a.candidate_version_id is not None
        ]
        retirements = {
            r.model_version_id: ret
            for r in (original, *(c for _, c in candidates))
            if (ret := retirement.retirement(session, r.model_version_id)) is not None
        }
        certificate = jobq.get_certificate(session, job_id)
    uri = tracking_uri or default_tracking_uri(layout)
    model = registered_model or original.name
    client = _client(uri)
    if not client.search_registered_models(f"name='{model}'"):
        client.create_registered_model(model, tags={_TAG + "model": original.name})
    experiment = _experiment(client, layout, f"deletion_sdk/{model}")
    orig_mv = _publish(client, experiment, model, original, _weights_files(original, layout), {})
    published: list[tuple[ModelVersionRecord, Any]] = [(original, orig_mv)]
    cand_version, alias_moved = None, False
    for attempt, candidate in candidates:  # every attempt: rejected ones carry their failed decision
        passed = attempt.decision is not None and attempt.decision.passed
        certified = passed and job.status == "completed" and certificate is not None
        certified = certified and certificate.model_version_id == candidate.model_version_id  # type: ignore[union-attr]
        with tempfile.TemporaryDirectory() as tmp:
            files = _weights_files(candidate, layout)
            report = layout.job(job_id).verification(attempt.index)
            if report.is_file():
                files["evidence_report"] = report
            if attempt.decision is not None:
                decision = Path(tmp) / "decision.json"
                decision.write_text(attempt.decision.model_dump_json(indent=2), encoding="utf-8")
                files["evidence_decision"] = decision
            if certified and certificate is not None and layout.artifact(certificate.path).is_file():
                files["evidence_certificate"] = layout.artifact(certificate.path)
            outcome = attempt.decision.outcome if attempt.decision is not None else attempt.outcome.value
            tags = {
                _TAG + "job_id": job_id,
                _TAG + "attempt": str(attempt.index + 1),
                _TAG + "parent_weights_sha256": original.weights_digest,
                _TAG + "unlearner": attempt.method,
                _TAG + "decision": "passed" if passed else str(outcome),
                _TAG + "forget_merkle_root": state.forget_merkle_root or "",
                _TAG + "policy": job.policy_id,
            }
            if certified and certificate is not None:
                tags[_TAG + "certificate_payload_sha256"] = certificate.payload_sha256
            cand_mv = _publish(client, experiment, model, candidate, files, tags)
        published.append((candidate, cand_mv))
        cand_version = str(cand_mv.version)
        if certified:
            client.set_registered_model_alias(model, alias, cand_version)
            alias_moved = True
    retired_versions: list[str] = []
    deleted: list[str] = []
    for record, mv in published:  # mirror the ledger's status; retired versions lose every alias
        ret = retirements.get(record.model_version_id)
        status = "retired" if ret is not None and record.status != "rejected" else record.status
        client.set_model_version_tag(model, mv.version, _TAG + "status", status)  # as the ledger says
        if ret is None:
            continue
        client.set_model_version_tag(model, mv.version, _TAG + "retired_at", ret.retired_at.isoformat())
        for name in client.get_model_version(model, mv.version).aliases or []:
            client.delete_registered_model_alias(model, name)
        retired_versions.append(str(mv.version))
        if ret.weights_erased_at is not None:  # the ledger deleted its weights: delete the MLflow copy too
            client.delete_model_version(model, mv.version)
            deleted.append(str(mv.version))
    try:
        current = str(client.get_model_version_by_alias(model, alias).version)
    except Exception:  # no such alias yet
        current = None
    return MlflowPublication(
        tracking_uri=uri,
        registered_model=model,
        original_version=str(orig_mv.version),
        candidate_version=cand_version,
        alias=alias,
        alias_version=current,
        alias_moved=alias_moved,
        retired_versions=tuple(retired_versions),
        deleted_versions=tuple(deleted),
    )


def _logged_failure(
    publish: Callable[[], MlflowPublication], *, retry: str, **what: str
) -> MlflowPublication | None:
    try:
        return publish()
    except Exception as e:
        get_logger("deletion_sdk.external").warning(
            "mlflow.publish_failed", **what, error=f"{type(e).__name__}: {e}", retry=retry
        )
        return None


def publish_after_job(
    ledger: Ledger, layout: HomeLayout, settings: Settings, *, job_id: str
) -> MlflowPublication | None:
    """:func:`publish_job` with the deployment's settings (``registry: mlflow``), after ``run_batch``.

    The ledger is the record of truth and the job has finished: a failure to reach MLflow is logged as a
    warning (``mlflow.publish_failed``, with the command that retries it) and never fails the job.
    """
    return _logged_failure(
        lambda: publish_job(
            ledger, layout, job_id=job_id, tracking_uri=settings.mlflow_uri, alias=settings.mlflow_alias
        ),
        job_id=job_id,
        retry=f"deletion-sdk registry publish {job_id}",
    )


def publish_deployed_after(
    ledger: Ledger, layout: HomeLayout, settings: Settings, *, model: str
) -> MlflowPublication | None:
    """:func:`publish_deployed` with the deployment's settings, after a version was deployed; like
    :func:`publish_after_job`, a failure to reach MLflow is a logged warning, never an error."""
    return _logged_failure(
        lambda: publish_deployed(
            ledger, layout, model=model, tracking_uri=settings.mlflow_uri, alias=settings.mlflow_alias
        ),
        model=model,
        retry=f"deletion-sdk registry publish-deployed {model}",
    )
