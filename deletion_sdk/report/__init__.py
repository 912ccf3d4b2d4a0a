"""The privacy officer's report: one self-contained HTML page per batch job.

The batch pipeline fills a :class:`ReportData` (requests, attempts with their verification evidence and
policy decisions, certificate, audit log) and calls :func:`render_report` or :func:`write_report`.
"""

from __future__ import annotations

from deletion_sdk.report.data import (
    AttemptInfo,
    AuditInfo,
    CertificateInfo,
    ForgetSetInfo,
    JobInfo,
    ModelRef,
    ModelsInfo,
    Outcome,
    ReportData,
    RequestEvent,
    RequestInfo,
    ResultModelRef,
    check_no_personal_data,
)
from deletion_sdk.report.html import render_report, write_report

__all__ = [
    "AttemptInfo",
    "AuditInfo",
    "CertificateInfo",
    "ForgetSetInfo",
    "JobInfo",
    "ModelRef",
    "ModelsInfo",
    "Outcome",
    "ReportData",
    "RequestEvent",
    "RequestInfo",
    "ResultModelRef",
    "check_no_personal_data",
    "render_report",
    "write_report",
]
