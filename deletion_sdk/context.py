"""The resolved configuration of one deployment, handed explicitly to every part of a job.

:class:`Context` is built once — by :meth:`deletion_sdk.DeletionSDK.open` or the CLI, the only places
that read ``DELETION_SDK_*`` variables — and passed down to the batch pipeline, verification, the shadow
bank and qualification. No library module builds :class:`~deletion_sdk.settings.Settings` from the
environment on its own, so a deployment configured in code (``Settings(policy_dir=...)``) is the same
deployment in every step.
"""

from __future__ import annotations

from dataclasses import dataclass

from deletion_sdk.layout import HomeLayout
from deletion_sdk.policy.resolver import PolicyResolver
from deletion_sdk.settings import Settings

__all__ = ["Context"]


@dataclass(frozen=True)
class Context:
    """Settings, the home layout and the policy resolver of one deployment.

    Attributes:
        settings: the resolved settings (HOME, database URL, device, shadow-bank size, ...).
        layout: every artifact path under HOME.
        policies: resolves policy ids against the deployment's policy directory, then the built-ins.
    """

    settings: Settings
    layout: HomeLayout
    policies: PolicyResolver

    @classmethod
    def from_settings(cls, settings: Settings) -> Context:
        """The context of ``settings`` (which the caller resolved, e.g. from the environment)."""
        return cls(
            settings=settings,
            layout=HomeLayout(settings.home),
            policies=PolicyResolver(settings.policy_dir),
        )

    @property
    def master_key(self) -> str | None:
        """The master key as hex when the settings give it (``DELETION_SDK_MASTER_KEY``); None: key file."""
        key = self.settings.master_key
        return None if key is None else key.get_secret_value()

    @property
    def device(self) -> str:
        """Where torch work runs: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""
        return self.settings.device
