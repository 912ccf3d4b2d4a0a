"""Erasure policies: deadlines, allowed unlearners, verification tier and thresholds."""

from __future__ import annotations

from deletion_sdk.policy.deadlines import DeadlineRule, Duration, add_months
from deletion_sdk.policy.evaluate import Check, Decision, ExactRetraining, evaluate
from deletion_sdk.policy.loader import list_policies, load_policy, load_policy_file
from deletion_sdk.policy.resolver import PolicyDrift, PolicyResolver
from deletion_sdk.policy.schema import (
    CertificateRule,
    Policy,
    Thresholds,
    Tier,
    UnlearningRule,
    VerificationRule,
)

__all__ = [
    "CertificateRule",
    "Check",
    "DeadlineRule",
    "Decision",
    "Duration",
    "ExactRetraining",
    "Policy",
    "PolicyDrift",
    "PolicyResolver",
    "Thresholds",
    "Tier",
    "UnlearningRule",
    "VerificationRule",
    "add_months",
    "evaluate",
    "list_policies",
    "load_policy",
    "load_policy_file",
]
