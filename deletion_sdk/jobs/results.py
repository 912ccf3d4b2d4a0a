"""What a batch run returns: one frozen record a scheduler, a dashboard or a person can read."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["AttemptSummary", "BatchResult", "ModelSummary"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class ModelSummary(_Frozen):
    """A model version as the batch saw it, with its utility and membership figures."""

    version_id: int
    version: int
    digest: str
    holdout_accuracy: float | None = None
    retain_accuracy: float | None = None
    test_accuracy: float | None = None
    attack_auc: float | None = None


class AttemptSummary(_Frozen):
    """One unlearning attempt: the method, how it went and what the policy said."""

    index: int
    method: str
    outcome: Literal["passed", "failed", "inconclusive", "budget_exceeded", "error"]
    wall_time_s: float | None = None
    budget_s: float | None = None
    device: str | None = None
    candidate_version_id: int | None = None
    decision: str | None = None


class BatchResult(_Frozen):
    """The outcome of one ``run_batch`` call.

    ``status``: ``idle`` (nothing due), ``busy`` (another live worker holds this model's job),
    ``completed`` (requests answered: completed or no_data), ``failed`` (every allowed method failed).
    """

    status: Literal["idle", "busy", "completed", "failed"]
    model: str
    job_id: str | None = None
    policy: str | None = None
    resumed: bool = False
    request_ids: tuple[str, ...] = ()
    completed_request_ids: tuple[str, ...] = ()
    no_data_request_ids: tuple[str, ...] = ()
    failed_request_ids: tuple[str, ...] = ()
    forget_examples: int = 0
    forget_merkle_root: str | None = None
    attempts: tuple[AttemptSummary, ...] = ()
    method: str | None = None
    retrain_estimate_s: float | None = None
    unlearning_time_s: float | None = None
    original_model: ModelSummary | None = None
    new_model: ModelSummary | None = None
    decision_passed: bool | None = None
    certificate_path: str | None = None
    report_path: str | None = None
    remaining_due: int = 0
    message: str = ""

    @property
    def exit_code(self) -> int:
        """0 when nothing failed (idle and busy included), 1 when the job failed."""
        return 1 if self.status == "failed" else 0
