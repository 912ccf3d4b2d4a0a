"""Resolving policy ids for one deployment, and pinning a policy for the life of a job.

A :class:`PolicyResolver` is built once from the deployment's configuration (its extra policy directory)
and handed to everything that needs a policy: the facade, the batch job, the report. Nothing reads the
environment here. A batch job pins the policy it was claimed under (the parsed policy and its file
digest are stored with the job); :meth:`PolicyResolver.drift` tells whether the file has changed since.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from deletion_sdk.errors import PolicyError, UnknownPolicyError
from deletion_sdk.policy.loader import list_policies, load_policy
from deletion_sdk.policy.schema import Policy

__all__ = ["PolicyDrift", "PolicyResolver"]


@dataclass(frozen=True)
class PolicyDrift:
    """A pinned policy whose file now reads differently (or is gone)."""

    policy_id: str
    pinned_digest: str
    current_digest: str | None
    detail: str


@dataclass
class PolicyResolver:
    """Policies by id: the deployment's ``policy_dir`` first, then the built-in policies.

    Args:
        policy_dir: the deployment's extra policy directory (overrides built-ins by id); None for none.
    """

    policy_dir: Path | None = None
    _cache: dict[str, Policy] = field(default_factory=dict, repr=False)

    def get(self, policy_id: str) -> Policy:
        """The policy with this id (read once per resolver).

        Raises:
            UnknownPolicyError: no such policy (the message lists the known ids).
            PolicyError: the policy file is malformed.
        """
        cached = self._cache.get(policy_id)
        if cached is None:
            cached = load_policy(policy_id, policy_dir=self.policy_dir)
            self._cache[policy_id] = cached
        return cached

    def reload(self, policy_id: str) -> Policy:
        """The policy as its file reads now (bypassing the cache)."""
        return load_policy(policy_id, policy_dir=self.policy_dir)

    def list(self) -> list[Policy]:
        """Every known policy, sorted by id."""
        return list_policies(policy_dir=self.policy_dir)

    def drift(self, pinned: Policy) -> PolicyDrift | None:
        """None when ``pinned`` is still what its file says; otherwise what changed."""
        try:
            current = self.reload(pinned.id)
        except (UnknownPolicyError, PolicyError) as e:
            return PolicyDrift(pinned.id, pinned.digest, None, f"the policy file no longer loads: {e}")
        if current.digest == pinned.digest:
            return None
        return PolicyDrift(
            pinned.id,
            pinned.digest,
            current.digest,
            f"policy {pinned.id} changed on disk (now sha256:{current.digest[:12]}); "
            f"the job keeps the pinned sha256:{pinned.digest[:12]}",
        )
