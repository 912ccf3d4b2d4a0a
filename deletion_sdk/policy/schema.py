"""The policy document: what a privacy officer reads and the batch job obeys.

Every field is validated; unknown fields are rejected so a misspelt threshold cannot be silently
ignored. A threshold left out (or null) is not checked; a threshold that is set but whose figure the
verification report lacks fails its check (verification fails closed).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from deletion_sdk.policy.deadlines import DeadlineRule

__all__ = [
    "CertificateRule",
    "ErasureRule",
    "Policy",
    "ProcessingRecord",
    "Thresholds",
    "Tier",
    "UnlearningRule",
    "VerificationRule",
]


class Tier(StrEnum):
    """Verification tiers, cheapest first (see DESIGN.md)."""

    POPULATION = "population"
    PER_EXAMPLE = "per_example"
    QUALIFICATION = "qualification"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class UnlearningRule(_Frozen):
    """Which methods may be used, in order of preference, and how long each may take."""

    methods: tuple[str, ...] = Field(min_length=1, description="Unlearners to try in order; retrain last.")
    time_budget_fraction: float = Field(
        gt=0.0, le=1.0, description="Each approximate method may take this fraction of retraining time."
    )

    @field_validator("methods")
    @classmethod
    def _retrain_is_last_resort(cls, methods: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(methods)) != len(methods):
            raise ValueError(f"must not repeat a method. Got {list(methods)} instead.")
        if methods[-1] != "retrain":
            raise ValueError(f"must end with 'retrain', the last resort. Got {list(methods)} instead.")
        return methods


class Thresholds(_Frozen):
    """Pass/fail limits; a set one must be met.

    Which ones must be set depends on the tier (:data:`REQUIRED_THRESHOLDS`), and none may be set to a
    value that no evidence could fail (an AUC limit of 1.0, a ratio or p-value of 0).
    """

    max_attack_auc: float | None = Field(
        default=None, ge=0.5, lt=1.0, description="Loss-attack ROC AUC, forget vs holdout, at most this."
    )
    max_auc_gap_to_reference: float | None = Field(
        default=None,
        ge=0.0,
        lt=0.5,
        description="|AUC - retrain reference AUC| at most this (reference 0.5 when unmeasured).",
    )
    max_forget_accuracy_gap: float | None = Field(
        default=None,
        gt=0.0,
        lt=1.0,
        description="|forget accuracy - accuracy on people never seen| at most this (two-sided).",
    )
    max_relearn_accuracy_gap: float | None = Field(
        default=None,
        gt=0.0,
        lt=1.0,
        description="|forget - holdout accuracy| after a few retain-only training steps, at most this.",
    )
    max_perturbed_accuracy_gap: float | None = Field(
        default=None,
        gt=0.0,
        lt=1.0,
        description="|forget - holdout accuracy| under a small perturbation towards the labels, at most.",
    )
    max_ablation_auc_gain: float | None = Field(
        default=None,
        gt=0.0,
        lt=0.5,
        description="Rise of the attack AUC with the output layer's most forget-specific units off, at most.",
    )
    min_ks_pvalue: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description="KS test of forget vs holdout losses: p-value at least this.",
    )
    max_lira_excess_flagged: float | None = Field(
        default=None,
        ge=0.0,
        lt=1.0,
        description="LiRA flagged fraction at 5% FPR minus the retrain calibrator's, at most this.",
    )
    min_retain_accuracy_ratio: float | None = Field(
        default=None,
        gt=0.0,
        le=2.0,
        description="Retain accuracy / original's retain accuracy, at least this.",
    )
    min_holdout_accuracy_ratio: float | None = Field(
        default=None,
        gt=0.0,
        le=2.0,
        description="Holdout accuracy / original's holdout accuracy, at least this.",
    )
    min_qualification_score_ratio: float | None = Field(
        default=None,
        gt=0.0,
        le=2.0,
        description="The method's qualified final score / the oracle's forgetting quality, at least this.",
    )

    @property
    def uses_probes(self) -> tuple[str, ...]:
        """The probes a check needs (``"relearn"``, ``"perturb"``, ``"ablate"``); empty when none."""
        return tuple(
            name
            for name, threshold in (
                ("relearn", self.max_relearn_accuracy_gap),
                ("perturb", self.max_perturbed_accuracy_gap),
                ("ablate", self.max_ablation_auc_gain),
            )
            if threshold is not None
        )


# What each tier's evidence is judged by: a policy of that tier must set every one of these.
_POPULATION = (
    "max_attack_auc",  # under-forgetting, by the loss and the scale-free margin attacks
    "max_auc_gap_to_reference",  # either direction: over-forgetting singles people out too
    "max_forget_accuracy_gap",  # either direction, against people never seen
    "min_retain_accuracy_ratio",
    "min_holdout_accuracy_ratio",
)
REQUIRED_THRESHOLDS: dict[Tier, tuple[str, ...]] = {
    Tier.POPULATION: _POPULATION,
    Tier.PER_EXAMPLE: (*_POPULATION, "max_lira_excess_flagged"),
    Tier.QUALIFICATION: (*_POPULATION, "max_lira_excess_flagged", "min_qualification_score_ratio"),
}


class VerificationRule(_Frozen):
    """The tier of evidence the policy demands, and the thresholds it is judged by."""

    tier: Tier
    thresholds: Thresholds

    @model_validator(mode="after")
    def _tier_thresholds_are_set(self) -> VerificationRule:
        missing = [f for f in REQUIRED_THRESHOLDS[self.tier] if getattr(self.thresholds, f) is None]
        if missing:
            raise ValueError(
                f"the '{self.tier.value}' tier is judged by thresholds.{', thresholds.'.join(missing)}; "
                "set them (a policy without them would pass evidence it never looked at)"
            )
        return self


class CertificateRule(_Frozen):
    """What the certificate must carry beyond the always-present fields."""

    include_verification_summary: bool = True
    include_decision_checks: bool = True
    include_audit_inclusion_proof: bool = True
    require_qualification_report: bool = False


class ErasureRule(_Frozen):
    """What happens to artifacts that hold an erased person's data, once the unlearned model is deployed."""

    retired_weights_grace_days: int = Field(
        default=0,
        ge=0,
        le=3650,
        description="Days a retired model version's weights are kept before deletion (0: deleted at once).",
    )


class ProcessingRecord(_Frozen):
    """The GDPR Art. 30 record-of-processing fields the privacy officer's report shows (all optional).

    These describe the organisation's processing, not a person: contacts are the controller's and the data
    protection officer's (a role address such as ``dpo@example.org``), never a data subject's.
    """

    controller: str | None = Field(default=None, min_length=1, description="Name of the controller.")
    controller_contact: str | None = Field(default=None, min_length=1, description="Controller's contact.")
    dpo_contact: str | None = Field(default=None, min_length=1, description="Contact of the DPO.")
    purpose: str | None = Field(default=None, min_length=1, description="Purpose of the processing.")
    legal_basis: str | None = Field(
        default=None, min_length=1, description="Legal basis of the processing (e.g. Art. 6(1)(f))."
    )
    data_categories: tuple[str, ...] = Field(default=(), description="Categories of personal data processed.")
    retention: str | None = Field(
        default=None, min_length=1, description="How long the data (and models trained on it) are kept."
    )


class Policy(_Frozen):
    """One erasure policy (``policies/<id>.yaml``)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    title: str = Field(min_length=1)
    jurisdiction: str = Field(min_length=1)
    legal_basis: str = Field(min_length=1)
    summary: str = Field(min_length=1, description="Plain-language description for a privacy officer.")
    deadline: DeadlineRule
    unlearning: UnlearningRule
    verification: VerificationRule
    certificate: CertificateRule = CertificateRule()
    processing_record: ProcessingRecord | None = Field(
        default=None, description="GDPR Art. 30 record-of-processing fields shown in the report."
    )
    erasure: ErasureRule = ErasureRule()
    digest: str = Field(default="", description="SHA-256 of the policy file's bytes, set by the loader.")
