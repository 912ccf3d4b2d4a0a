"""Statutory response deadlines: calendar months with end-of-month clamping, plus days.

GDPR Art. 12(3): one month from receipt, extendable once by two further months. "One month" is the
same date in the next month, or that month's last day when the date does not exist (31 January ->
28/29 February). CCPA § 1798.130: 45 calendar days, extendable once by 45 more.

The extension is added to the original due date, which is never later than adding it to the receipt
(31 January + 1 month = 28 February; + 2 months = 28 April, not 30 April): the conservative reading.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DeadlineRule", "Duration", "add_months"]


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` moved by whole calendar months, clamped to the target month's last day."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


class Duration(BaseModel):
    """A calendar duration: whole months (clamped at month ends) and then days."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    months: int = Field(default=0, ge=0, le=120)
    days: int = Field(default=0, ge=0, le=3650)

    def after(self, moment: datetime) -> datetime:
        """``moment`` plus this duration."""
        return add_months(moment, self.months) + timedelta(days=self.days)

    def describe(self) -> str:
        parts = []
        if self.months:
            parts.append(f"{self.months} month" + ("s" if self.months != 1 else ""))
        if self.days:
            parts.append(f"{self.days} day" + ("s" if self.days != 1 else ""))
        return " and ".join(parts) or "0 days"


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class DeadlineRule(BaseModel):
    """When a request must be answered, and by how much it may be extended."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    response: Duration = Field(description="Time allowed from receipt to the answer.")
    extension: Duration | None = Field(default=None, description="Extra time one extension grants.")
    max_extensions: int = Field(default=0, ge=0, le=1)

    def due_at(self, received_at: datetime) -> datetime:
        """The due date of a request received at ``received_at`` (naive times are taken as UTC)."""
        return self.response.after(_aware(received_at))

    def extended_due_at(self, due_at: datetime) -> datetime:
        """The due date after one extension of ``due_at``.

        Raises:
            ValueError: when the policy allows no extension.
        """
        if self.extension is None or self.max_extensions < 1:
            raise ValueError("this policy allows no extension")
        return self.extension.after(_aware(due_at))
