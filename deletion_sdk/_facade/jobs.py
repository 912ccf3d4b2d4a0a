"""Facade operations on batch jobs: run one, list them, red-team the policy, write the officer's report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from deletion_sdk._facade.base import positive_int, text_arg
from deletion_sdk._facade.trust import TrustOperations
from deletion_sdk.ledger import jobs as jobq
from deletion_sdk.ledger.jobs import JobRecord

if TYPE_CHECKING:
    from deletion_sdk.jobs.redteam import RedTeamReport
    from deletion_sdk.jobs.results import BatchResult

__all__ = ["JobOperations"]


class JobOperations(TrustOperations):
    """The batch job (it signs certificates and appends to the audit log, hence built on trust)."""

    def run_batch(
        self,
        *,
        model: str,
        policy: str | None = None,
        unlearner: str | None = None,
        max_requests: int | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> BatchResult:
        """Take the due (verified) requests for ``model``, make it forget, verify, certify.

        Resumes this model's unfinished job first, if its worker died. The job runs in this deployment's
        context and pins the policy it is claimed under. See :mod:`deletion_sdk.jobs.pipeline`.

        Args:
            model: the model name (its deployed version is unlearned).
            policy: only requests under this policy (default: the policy of the earliest-due request).
            unlearner: try this method first (then ``retrain``) instead of the policy's list.
            max_requests: at most this many requests in the job.
            progress: called with a short message at each step.
        """
        from deletion_sdk.jobs.pipeline import BatchRunner
        from deletion_sdk.unlearning import get_unlearner

        model = text_arg(model, "model", what="a model name")
        positive_int(max_requests, "max_requests")
        if unlearner is not None:
            get_unlearner(unlearner)  # RegistryError (an InputError) listing the registered methods
        runner = BatchRunner(
            ledger=self.ledger,
            context=self.context,
            audit=self.audit_log,
            signer=self._signer(),
            progress=progress,
        )
        result = runner.run(model=model, policy=policy, unlearner=unlearner, max_requests=max_requests)
        if self.settings.registry == "mlflow" and result.job_id and result.status in ("completed", "failed"):
            from deletion_sdk.external.mlflow_registry import publish_after_job

            publish_after_job(self.ledger, self.layout, self.settings, job_id=result.job_id)
        return result

    def red_team(
        self,
        *,
        model: str,
        policy: str | None = None,
        cheats: Sequence[str] | None = None,
        population_only: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> RedTeamReport:
        """Would the policy certify a method that forgets nothing, on this model and the due requests?

        Runs each cheat of :mod:`deletion_sdk.redteam` on ``model``'s deployed version and judges it as a
        batch job would (same forget set, seed, evidence tier and policy). Read-only: nothing is claimed,
        registered, promoted or certified, and nothing is written outside a temporary directory. See
        :mod:`deletion_sdk.jobs.redteam`.

        Args:
            model: the model name (its deployed version is the original).
            policy: judge this policy on the requests due under it (default: the policy of the
                earliest-due verified request).
            cheats: cheat names (default: every one of ``deletion_sdk.redteam.CHEATS``).
            population_only: skip a per-example tier's shadow bank; its tier check then fails closed.
            progress: called with a short message at each step (e.g. when a shadow bank is trained).

        Returns:
            The report; ``certified_any`` means the policy would certify a cheat (a policy bug).

        Raises:
            InputError: an unknown cheat or policy, or no verified request due with data in the model.
            NotFoundError: no deployed version of ``model``.
            IntegrityError: the ledger's training examples do not match the model's training root.
        """
        from deletion_sdk.jobs.redteam import RedTeam

        model = text_arg(model, "model", what="a model name")
        if policy is not None:
            policy = text_arg(policy, "policy", what="a policy id or None")
        return RedTeam(ledger=self.ledger, context=self.context, progress=progress).run(
            model=model, policy=policy, cheats=cheats, population_only=population_only
        )

    def list_jobs(self, *, model: str | None = None, status: str | None = None) -> tuple[JobRecord, ...]:
        """Batch jobs, newest first."""
        with self.ledger.session(write=False) as session:
            return jobq.list_jobs(session, model_name=model, status=status)

    def get_job(self, *, job_id: str) -> JobRecord:
        """One batch job (NotFoundError when there is none)."""
        with self.ledger.session(write=False) as session:
            return jobq.get_job(session, job_id)

    def write_report(self, *, job_id: str, out: Path | str | None = None) -> Path:
        """Write the privacy officer's HTML report of a job (default: HOME/reports/<job>.html)."""
        from deletion_sdk.jobs.reporting import build_report_data
        from deletion_sdk.report import write_report

        data = build_report_data(
            self.ledger, self.context, job_id=job_id, public_key_path=self.layout.public_key
        )
        target = Path(out) if out is not None else self.layout.report(job_id)
        return write_report(data, target)
