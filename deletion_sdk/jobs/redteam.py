"""The privacy officer's red team: would this policy certify an unlearner that forgets nothing?

:class:`RedTeam` takes a model's deployed version and the requests a batch job would take now (the
``verified`` ones under one policy), and judges every cheat of :mod:`deletion_sdk.redteam` exactly as the
job judges a method: the cheat runs on the original with the job's seed, the candidate is verified at the
policy's tier against the original (power before verdict), and the policy decides. A cheat that would be
certified is a policy bug (see ``docs/THREAT_MODEL.md``).

It changes nothing. The ledger is only read, in transactions that are rolled back: no request is claimed
or suppressed, no model version is registered or promoted, no audit entry, job or certificate is made.
Everything it writes goes to a temporary directory removed at the end: the decoded images (so every file
is re-hashed against the ledger) and, for a per-example-tier policy, the shadow bank when the deployment
has no complete bank for this version yet (it is then trained there, and discarded).

Steps::

    target   deployed version; due requests and their policy; forget set on the dataset's train split
    sets     retain = training pool minus the forget set; holdout; test; checked against training_root
    judge    per cheat: run it on the original, verify (population, then per-example), evaluate
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator
from sqlmodel import Session

from deletion_sdk.context import Context
from deletion_sdk.data import AgeBins, FaceTensors
from deletion_sdk.errors import ConflictError, InputError, IntegrityError
from deletion_sdk.jobs._shared import (
    attempt_seed,
    decide,
    jsonable_params,
    population_evidence,
    shadow_pool,
)
from deletion_sdk.jobs.evidence import per_example_evidence
from deletion_sdk.jobs.models import JobSets, load_job_sets, load_model_version
from deletion_sdk.layout import HomeLayout
from deletion_sdk.ledger import lineage, registry
from deletion_sdk.ledger import requests as reqs
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.records import ModelVersionRecord
from deletion_sdk.ledger.statuses import RequestStatus
from deletion_sdk.logging import get_logger
from deletion_sdk.policy import Policy
from deletion_sdk.policy.schema import Tier
from deletion_sdk.redteam import CHEATS, registered
from deletion_sdk.training import LoadedCheckpoint, TrainConfig
from deletion_sdk.unlearning import Unlearner, UnlearningContext, run_unlearner, unlearner_provenance
from deletion_sdk.verification import ShadowBank, default_shadow_models

__all__ = ["RedTeam", "RedTeamReport", "RedTeamRow", "select_cheats"]

_CHEATS_BY_NAME: dict[str, type[Unlearner[Any]]] = {c.name: c for c in CHEATS}


class RedTeamRow(BaseModel):
    """The policy's verdict on one cheat.

    Attributes:
        cheat: the cheat's registered name.
        outcome: ``passed`` (the policy would certify it: a policy bug), ``failed`` or ``inconclusive``.
        certified: whether the policy would certify it (``outcome == "passed"``).
        failed_checks: names of the checks that failed, in the decision's order.
        summary: the decision's one-line summary.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    cheat: str
    outcome: Literal["passed", "failed", "inconclusive"]
    certified: bool
    failed_checks: tuple[str, ...]
    summary: str

    @model_validator(mode="after")
    def _consistent(self) -> RedTeamRow:
        if self.certified != (self.outcome == "passed"):
            raise ValueError(f"certified={self.certified} contradicts outcome={self.outcome!r}")
        return self


class RedTeamReport(BaseModel):
    """Every cheat judged by one policy on one model version and the requests due under that policy.

    Attributes:
        model: the model name.
        model_version: its deployed version number.
        model_digest: the deployed weights' SHA-256.
        policy_id: the policy judged.
        policy_digest: its file digest.
        policy_tier: the evidence tier the policy demands.
        evidence_tier: the tier of the evidence produced (``population`` with ``population_only``).
        n_requests: the due requests under the policy.
        n_forget: forget examples (their training examples in the model's dataset).
        n_holdout: holdout examples (people never trained on).
        forget_merkle_root: the forget set's Merkle root (the batch job would resolve the same one).
        rows: one per cheat, in the order asked.
        certified_any: whether any cheat would be certified.
        notes: what limits this run's evidence (e.g. population evidence only).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    model_version: int
    model_digest: str
    policy_id: str
    policy_digest: str
    policy_tier: str
    evidence_tier: str
    n_requests: int
    n_forget: int
    n_holdout: int
    forget_merkle_root: str
    rows: tuple[RedTeamRow, ...]
    certified_any: bool
    notes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> RedTeamReport:
        if self.certified_any != any(r.certified for r in self.rows):
            raise ValueError("certified_any must say whether any row is certified")
        return self

    @property
    def certified(self) -> tuple[str, ...]:
        """The cheats the policy would certify."""
        return tuple(r.cheat for r in self.rows if r.certified)

    @property
    def exit_code(self) -> int:
        """0 when no cheat would be certified, 1 when any would (a policy bug)."""
        return 1 if self.certified_any else 0


def select_cheats(names: Sequence[str] | None) -> tuple[type[Unlearner[Any]], ...]:
    """The cheat classes named (default: every cheat of ``CHEATS``), duplicates dropped, order kept.

    Raises:
        InputError: ``names`` is not a sequence of cheat names, is empty, or names an unknown cheat.
    """
    if names is None:
        return CHEATS
    known = ", ".join(_CHEATS_BY_NAME)
    if isinstance(names, str) or not isinstance(names, Sequence) or not names:
        raise InputError(
            f"The 'cheats' parameter must be a non-empty sequence of cheat names ({known}) or None. "
            f"Got {names!r} instead."
        )
    unknown = [n for n in names if n not in _CHEATS_BY_NAME]
    if unknown:
        raise InputError(
            f"The 'cheats' parameter must name cheats of deletion_sdk.redteam ({known}). "
            f"Got {unknown[0]!r} instead."
        )
    return tuple(_CHEATS_BY_NAME[n] for n in dict.fromkeys(names))


@contextlib.contextmanager
def _read_only(ledger: Ledger) -> Iterator[Session]:
    """A read session whose transaction is always rolled back: nothing it touches reaches the ledger."""
    with ledger.session(write=False) as session:
        try:
            yield session
        finally:
            session.rollback()


@dataclass(frozen=True)
class _Target:
    """What a batch job claimed now would work on, read from the ledger."""

    original: ModelVersionRecord
    policy: Policy
    n_requests: int
    forget_ids: frozenset[str]
    forget_merkle_root: str


@dataclass(frozen=True)
class _Bank:
    """What the per-example evidence needs: the bank's context (where it lives), its pool, the recipe."""

    context: Context
    pool: FaceTensors
    recipe: TrainConfig


class RedTeam:
    """Judges cheats by a policy on a deployment, read-only.

    Args:
        ledger: the ledger (only read).
        context: the deployment's settings, home layout and policy resolver.
        progress: called with a short message at every step (the CLI shows them).
    """

    def __init__(
        self, *, ledger: Ledger, context: Context, progress: Callable[[str], None] | None = None
    ) -> None:
        self.ledger = ledger
        self.context = context
        self.progress = progress or (lambda _msg: None)
        self.bins = AgeBins()

    def run(
        self,
        *,
        model: str,
        policy: str | None = None,
        cheats: Sequence[str] | None = None,
        population_only: bool = False,
    ) -> RedTeamReport:
        """Judge ``cheats`` (default: all) on ``model``'s deployed version by the due requests' policy.

        Args:
            model: the model name (its deployed version is the original every cheat starts from).
            policy: the policy to judge by, on the requests due under it (default: the policy of the
                earliest-due verified request).
            cheats: names of cheats of :mod:`deletion_sdk.redteam` (default: every one of ``CHEATS``).
            population_only: skip the per-example evidence of a stricter policy (no shadow bank); the
                policy's tier check then fails closed, which the report notes.

        Returns:
            The report: one row per cheat; ``certified_any`` is a policy bug.

        Raises:
            InputError: an unknown cheat or policy, no verified request due, no training data of the due
                requests in the model's dataset, or a per-example policy on a model with no training recipe.
            NotFoundError: no deployed version of ``model``.
            JobError: the ledger's training examples do not hash to the model's ``training_root``.
            IntegrityError: an image or the weights differ from their recorded digests.
        """
        selected = select_cheats(cheats)
        if not isinstance(population_only, bool):
            raise InputError(
                f"The 'population_only' parameter must be a bool. Got {population_only!r} instead."
            )
        if policy is not None:
            self.context.policies.get(policy)  # UnknownPolicyError before anything is read
        target = self._target(model, policy)
        tier = target.policy.verification.tier
        per_example = tier is not Tier.POPULATION and not population_only
        notes: list[str] = []
        if tier is not Tier.POPULATION and population_only:
            get_logger(__name__).warning("redteam_population_only", policy=target.policy.id, tier=tier.value)
            notes.append(
                f"population evidence only: policy {target.policy.id} demands '{tier.value}' evidence, so "
                "its verification_tier check fails closed on every row; this run does not test the "
                "per-example checks"
            )
        if not target.original.training_root:
            notes.append(
                "the model records no training_root: the forget and retain sets could not be checked "
                "against its training data"
            )
        loaded = load_model_version(target.original, device="cpu", layout=self.context.layout)
        recipe = loaded.metadata.train_config
        if per_example and recipe is None:
            raise InputError(
                f"model {model} v{target.original.version} records no training recipe; the '{tier.value}' "
                "tier trains shadow models the same way and cannot run without one (population_only "
                "skips it; the tier check then fails closed)"
            )
        with tempfile.TemporaryDirectory(prefix="deletion-sdk-redteam-") as tmp:
            scratch = HomeLayout(Path(tmp))
            sets = self._sets(target, loaded.metadata.image_size, scratch)
            self.progress(
                f"red team of policy {target.policy.id} on {model} v{target.original.version}: "
                f"{target.n_requests} due requests, {len(sets.forget)} forget vs {len(sets.splits.holdout)} "
                f"holdout examples, {len(selected)} cheat{'' if len(selected) == 1 else 's'}"
            )
            bank = None
            if per_example and recipe is not None:
                bank = self._bank(target.original, sets, recipe, scratch)
            rows = []
            with registered(*selected):
                for i, cheat in enumerate(selected, start=1):
                    self.progress(f"cheat {cheat.name} ({i}/{len(selected)})")
                    row = self._judge(cheat.name, target, loaded, sets, recipe, bank)
                    get_logger(__name__).info(
                        "redteam_row", cheat=row.cheat, outcome=row.outcome, policy=target.policy.id
                    )
                    self.progress(f"{cheat.name}: {row.summary}")
                    rows.append(row)
        return RedTeamReport(
            model=model,
            model_version=target.original.version,
            model_digest=target.original.weights_digest,
            policy_id=target.policy.id,
            policy_digest=target.policy.digest,
            policy_tier=tier.value,
            evidence_tier=tier.value if per_example else Tier.POPULATION.value,
            n_requests=target.n_requests,
            n_forget=len(sets.forget),
            n_holdout=len(sets.splits.holdout),
            forget_merkle_root=target.forget_merkle_root,
            rows=tuple(rows),
            certified_any=any(r.certified for r in rows),
            notes=tuple(notes),
        )

    # -- steps -------------------------------------------------------------------------------------

    def _target(self, model: str, policy_id: str | None) -> _Target:
        """The deployed version, the due requests under the policy and their forget set (read-only)."""
        with _read_only(self.ledger) as session:
            original = registry.deployed(session, model)
            if original.dataset_id is None:
                raise InputError(
                    f"The 'model' parameter must name a model trained on a registered dataset; "
                    f"model {model} v{original.version} names none."
                )
            if policy_id is None:
                earliest = reqs.list_requests(session, status=RequestStatus.VERIFIED, limit=1)
                if not earliest:
                    raise InputError(
                        "no verified request is due: the red team judges a policy on the requests a batch "
                        "job would take now; verify a request first"
                    )
                policy_id = earliest[0].policy
            due = reqs.list_requests(session, status=RequestStatus.VERIFIED, policy=policy_id)
            if not due:
                raise InputError(
                    f"no verified request is due under policy {policy_id}: the red team judges a policy on "
                    "the requests a batch job would take now"
                )
            manifest = lineage.resolve_forget_set(
                session,
                request_ids=[r.request_id for r in due],
                dataset=original.dataset_id,
                split="train",
            )
            if manifest.count == 0:
                raise InputError(
                    f"none of the {len(due)} verified requests due under policy {policy_id} has a "
                    f"training example in model {model} v{original.version}'s dataset: a batch job would "
                    "forget nothing"
                )
        return _Target(
            original=original,
            policy=self.context.policies.get(policy_id),
            n_requests=len(due),
            forget_ids=frozenset(manifest.example_ids),
            forget_merkle_root=manifest.merkle_root,
        )

    def _sets(self, target: _Target, image_size: int, scratch: HomeLayout) -> JobSets:
        """Forget, retain, holdout and test sets, as the batch job loads them (checked against the model's
        training root), with images decoded into ``scratch``'s cache, never the deployment's."""
        return load_job_sets(
            self.ledger,
            scratch,
            original=target.original,
            forget_ids=target.forget_ids,
            image_size=image_size,
            bins=self.bins,
            master_key=self.context.master_key,
        )

    def _bank(
        self, original: ModelVersionRecord, sets: JobSets, recipe: TrainConfig, scratch: HomeLayout
    ) -> _Bank:
        """The shadow bank the per-example evidence uses, by the context that says where it lives.

        The deployment's own bank of this version when it is complete (reading it writes nothing);
        otherwise a bank trained now under ``scratch`` and discarded with it.
        """

        settings = self.context.settings
        pool = shadow_pool(sets.retain, sets.forget)  # the batch job's pool: its bank is the same
        deployed_bank = ShadowBank(
            pool=pool,
            model_digest=original.weights_digest,
            config=recipe,
            k=settings.shadow_models,
            directory=self.context.layout.shadow_bank(original.weights_digest),
            device=settings.device,
        )
        try:
            index = deployed_bank.load_index()
        except (ConflictError, IntegrityError) as e:
            self.progress(f"the deployment's shadow bank of v{original.version} is unusable ({e})")
            index = None
        if index is not None and index.complete:
            self.progress(f"per-example LiRA against the deployment's shadow bank of v{original.version}")
            return _Bank(context=self.context, pool=pool, recipe=recipe)
        k = settings.shadow_models or default_shadow_models(settings.device)
        self.progress(
            f"per-example LiRA needs a shadow bank of v{original.version}: training {k} shadow models "
            "in a temporary directory (discarded afterwards; the batch job builds its own)"
        )
        return _Bank(context=dataclasses.replace(self.context, layout=scratch), pool=pool, recipe=recipe)

    def _judge(
        self,
        cheat: str,
        target: _Target,
        loaded: LoadedCheckpoint,
        sets: JobSets,
        recipe: TrainConfig | None,
        bank: _Bank | None,
    ) -> RedTeamRow:
        """Run one (registered) cheat on the original and judge its candidate as the batch job would.

        No time budget: a cheat that ran out of one would never be certified, so without it the red team
        asks the harder question.
        """
        policy, original = target.policy, target.original
        seed = attempt_seed(self.context.settings.seed, target.forget_merkle_root, 0)
        context = UnlearningContext(device=self.context.device, seed=seed, train_config=recipe)
        result = run_unlearner(cheat, loaded.model, forget=sets.forget, retain=sets.retain, context=context)
        report = population_evidence(
            result.model,
            original=loaded.model,
            sets=sets,
            policy=policy,
            device=self.context.device,
            seed=seed,
            bins=self.bins,
        )
        if bank is not None:
            report = per_example_evidence(
                report,
                unlearned=result.model,
                original=loaded.model,
                forget=sets.forget,
                pool=bank.pool,
                original_digest=original.weights_digest,
                config=bank.recipe,
                context=bank.context,
            )
        # judged as the batch job judges: a qualification counts only for the same code and parameters
        decision, _ = decide(
            policy,
            report,
            method=cheat,
            code_sha256=unlearner_provenance(cheat).code_sha256,
            params=jsonable_params(result.params),
            qualification_dir=self.context.layout.qualification,
        )
        return RedTeamRow(
            cheat=cheat,
            outcome=decision.outcome,
            certified=decision.passed,
            failed_checks=tuple(c.name for c in decision.failed_checks),
            summary=decision.summary(),
        )
