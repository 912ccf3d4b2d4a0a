"""What every facade operation builds on: the deployment's context, ledger and subject key."""

from __future__ import annotations

from deletion_sdk.context import Context
from deletion_sdk.errors import InputError
from deletion_sdk.layout import HomeLayout
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.subjects import SubjectKey, subject_ref
from deletion_sdk.policy import Policy
from deletion_sdk.settings import Settings

__all__ = ["FacadeBase", "positive_int", "text_arg"]


def text_arg(value: object, parameter: str, *, what: str) -> str:
    """``value`` stripped, or InputError naming ``parameter`` when it is not a non-blank string."""
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"The '{parameter}' parameter must be {what}. Got {value!r} instead.")
    return value.strip()


def positive_int(value: object, parameter: str) -> int | None:
    """``value`` when it is None or an int >= 1; otherwise InputError naming ``parameter``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"The '{parameter}' parameter must be an int >= 1 or None. Got {value!r} instead.")
    return value


class FacadeBase:
    """One deployment: its resolved context, its ledger and its subject key.

    Attributes:
        context: settings, home layout and policy resolver, handed to every job and verification.
        ledger: the SQL ledger.
        subject_key: the HMAC key that turns identifiers into subject references.
    """

    def __init__(self, *, context: Context, ledger: Ledger, subject_key: SubjectKey) -> None:
        self.context = context
        self.ledger = ledger
        self.subject_key = subject_key

    @property
    def settings(self) -> Settings:
        """The resolved settings."""
        return self.context.settings

    @property
    def layout(self) -> HomeLayout:
        """Every artifact path under HOME."""
        return self.context.layout

    def policy(self, policy_id: str) -> Policy:
        """The policy with this id, from the deployment's policy directory or the built-ins.

        Raises:
            UnknownPolicyError: no such policy (the message lists the known ids).
        """
        return self.context.policies.get(policy_id)

    def subject_ref(self, *, subject: str) -> str:
        """The subject reference of a raw identifier under this deployment's key."""
        return subject_ref(subject, self.subject_key)
