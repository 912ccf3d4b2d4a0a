"""Render :class:`~deletion_sdk.report.data.ReportData` as one self-contained HTML page.

The page has inline CSS, figures embedded as base64 PNG ``data:`` URIs, no script and no external URL; a
Content-Security-Policy meta tag forbids the browser from fetching anything else. Templates are rendered by
jinja2 with autoescaping on and undefined names as errors. Everything the template shows is prepared here as
plain values (strings, numbers, small dicts), so the template holds layout only.
"""

from __future__ import annotations

import base64
import math
import os
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path, PurePath
from typing import Any

import jinja2

from deletion_sdk._fs import atomic_write
from deletion_sdk.errors import InputError
from deletion_sdk.logging import get_logger
from deletion_sdk.policy.evaluate import Check, Decision
from deletion_sdk.policy.schema import Tier
from deletion_sdk.report import plots
from deletion_sdk.report.data import (
    AttemptInfo,
    CertificateInfo,
    ReportData,
    RequestInfo,
    check_no_personal_data,
)
from deletion_sdk.verification.report import ModelEvidence, VerificationReport
from deletion_sdk.verification.utility import UtilityReport

__all__ = ["render_report", "write_report"]

_TEMPLATE = "report.html.j2"
_REF_SHOWN = 12
_log = get_logger(__name__)

_OUTCOMES = {
    "passed": ("passed verification", "ok"),
    "failed": ("did not pass verification", "bad"),
    "inconclusive": ("inconclusive: the checks could not tell it from doing nothing", "warn"),
    "budget_exceeded": ("ran out of its time budget", "warn"),
    "error": ("stopped with an error", "bad"),
}
_JOB_STATUS = {"completed": "ok", "failed": "bad", "running": "warn"}
_COMPARISON = {"<=": "at most", ">=": "at least", "==": "exactly"}
_ROLES = ("original", "unlearned", "reference")
_TIERS = tuple(t.value for t in Tier)  # cheapest first, the order of the policy's tier ranks
# What a decision on proven exact retraining rests on (policy.evaluate never waives these two).
_DECISIVE_WHEN_EXACT = ("verification_tier", "exact_retraining")
# A rate below this many expected false alarms in the holdout is not estimable: at FPR f, the holdout
# needs at least _MIN_FALSE_ALARMS / f never-seen examples (10,000 for 0.1%).
_MIN_FALSE_ALARMS = 10


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("deletion_sdk.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["dt"] = _fmt_dt
    env.filters["num"] = _fmt_num
    env.filters["duration"] = _fmt_duration
    return env


def _fmt_dt(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _fmt_num(value: float | None, spec: str = ".3g") -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    return format(value, spec)


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def _fmt_span(delta: timedelta) -> str:
    hours = abs(delta.total_seconds()) / 3600
    if hours < 48:
        return f"{hours:.0f} hour{'s' if round(hours) != 1 else ''}"
    days = hours / 24
    return f"{days:.0f} days"


def _data_uri(png: bytes | None) -> str | None:
    return None if png is None else "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _request_row(request: RequestInfo, now: datetime) -> dict[str, Any]:
    if request.deadline_met is True:
        deadline = ("met", "ok")
    elif request.deadline_met is False:
        late = (request.completed_at or now) - request.due_at
        deadline = (f"MISSED by {_fmt_span(late)}" if late.total_seconds() > 0 else "MISSED", "bad")
    else:
        left = request.due_at - now
        deadline = (f"open, due in {_fmt_span(left)}" if left.total_seconds() > 0 else "open", "pending")
    return {
        "request_id": request.request_id,
        "ref_short": request.subject_ref[:_REF_SHOWN],
        "ref_full": request.subject_ref,
        "policy_id": request.policy_id,
        "status": request.status,
        "received_at": request.received_at,
        "due_at": request.due_at,
        "completed_at": request.completed_at,
        "extensions": request.extensions,
        "deadline_text": deadline[0],
        "deadline_class": deadline[1],
        "verified": next(
            ({"by": e.actor, "at": e.at} for e in request.history if e.to_status == "verified"), None
        ),
        "history": [
            {
                "at": e.at,
                "move": "deadline extended"
                if e.from_status == e.to_status
                else f"{e.from_status or 'received'} → {e.to_status}"
                if e.from_status
                else f"received as {e.to_status}",
                "actor": e.actor,
                "reason": e.reason or "",
            }
            for e in request.history
        ],
    }


def _param_text(value: Any) -> str:
    if value is None:
        return "default"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_param_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_param_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def _version_text(version: str) -> str:
    """``v1.2`` for a version number; other recorded text (``not recorded``) as it is."""
    return f"v{version}" if version[:1].isdigit() else f"version {version}"


def _attempt_row(attempt: AttemptInfo, retrain_estimate_s: float | None) -> dict[str, Any]:
    estimate = attempt.retrain_estimate_s or retrain_estimate_s
    share = None if estimate is None else attempt.wall_time_s / estimate
    budget_share = None if estimate is None or attempt.budget_s is None else attempt.budget_s / estimate
    # The bar's full width is the retraining estimate, or the budget / time taken when either is longer.
    scale = max(1.0, share or 0.0, budget_share or 0.0)
    label, css = _OUTCOMES[attempt.outcome]
    return {
        "index": attempt.index,
        "method": attempt.method,
        "method_version": attempt.method_version,
        "version_text": _version_text(attempt.method_version),
        "params": [(k, _param_text(v)) for k, v in sorted(attempt.params.items())],
        "wall_time_s": attempt.wall_time_s,
        "estimate_s": estimate,
        "share": share,
        "bar_pct": None if share is None else round(share / scale * 100, 1),
        "budget_s": attempt.budget_s,
        "budget_share": budget_share,
        "budget_pct": None if budget_share is None else round(budget_share / scale * 100, 1),
        "retrain_pct": round(100 / scale, 1),
        "over_budget": attempt.budget_s is not None and attempt.wall_time_s > attempt.budget_s,
        "device": attempt.device,
        "outcome": attempt.outcome,
        "outcome_text": label,
        "outcome_class": css,
        "note": attempt.note,
        "decision_text": None if attempt.decision is None else attempt.decision.summary(),
    }


def _check_value(check: Check, value: float | None) -> str:
    if value is None:
        return "missing"
    if check.name == "verification_tier" and value in range(len(_TIERS)):
        return _TIERS[int(value)]  # the policy encodes tiers by rank; show the name
    return _fmt_num(value, ".4g")


def _check_row(check: Check) -> dict[str, Any]:
    return {
        "name": check.name,
        "description": check.description,
        "value": _check_value(check, check.value),
        "comparison": _COMPARISON.get(check.comparison, check.comparison),
        "threshold": "—" if check.threshold is None else _check_value(check, check.threshold),
        "passed": check.passed,
        "note": check.note,
    }


def _split_checks(decision: Decision) -> tuple[list[Check], list[Check], bool]:
    """(the checks the verdict rests on, the checks shown for information, whether they agree).

    As :func:`deletion_sdk.policy.evaluate.evaluate` decides: with proven exact retraining the verdict rests
    on the evidence tier and the retraining proof, and the measured figures are informational; otherwise
    on every check except an exact-retraining claim that was not accepted. A decision whose verdict does
    not follow from its checks (not one ``evaluate`` makes) shows every check as decisive and says so.
    """
    if decision.basis == "exact":
        decisive = [c for c in decision.checks if c.name in _DECISIVE_WHEN_EXACT]
    else:
        decisive = [c for c in decision.checks if c.name != "exact_retraining"]
    informational = [c for c in decision.checks if c not in decisive]
    if decision.passed != (bool(decisive) and all(c.passed for c in decisive)):
        return list(decision.checks), [], False
    return decisive, informational, True


def _info_row(check: Check) -> dict[str, Any]:
    row = _check_row(check)
    row["within"] = None if check.value is None else check.passed
    return row


def _decision_view(attempt: AttemptInfo, decision: Decision) -> dict[str, Any]:
    decisive, informational, consistent = _split_checks(decision)
    return {
        "attempt": attempt.index,
        "method": attempt.method,
        "passed": decision.passed,
        "verdict": "PASS" if decision.passed else ("INCONCLUSIVE" if decision.inconclusive else "FAIL"),
        "basis": decision.basis,
        "exact": decision.basis == "exact",
        "consistent": consistent,
        "policy_id": decision.policy_id,
        "policy_digest": decision.policy_digest,
        "tier": decision.tier,
        "summary": decision.summary(),
        "n_checks": len(decisive),
        "n_failed": sum(not c.passed for c in decisive),
        "checks": [_check_row(c) for c in decisive],
        "info_checks": [_info_row(c) for c in informational],
        "n_info_beyond": sum(not c.passed for c in informational),
    }


def _with_ci(value: float, ci: tuple[float, float]) -> str:
    return f"{_fmt_num(value, '.3f')} ({_fmt_num(ci[0], '.2f')}–{_fmt_num(ci[1], '.2f')})"


def _evidence_rows(report: VerificationReport) -> list[dict[str, Any]]:
    ev: dict[str, ModelEvidence | None] = {r: getattr(report, r) for r in _ROLES}

    def row(label: str, help_text: str, get: Any) -> dict[str, Any]:
        cells = {r: (None if e is None else get(e)) for r, e in ev.items()}
        shown = {r: cells[r] or "—" for r in _ROLES}
        return {"label": label, "help": help_text, "small_sample": False, **shown}

    rows = [
        row(
            "Attack AUC, losses",
            "0.5 = the attacker cannot tell the forget set from never-seen people; 1.0 = always can",
            lambda e: _with_ci(e.loss_attack.auc, e.loss_attack.auc_ci),
        ),
        row(
            "Attack AUC, confidences",
            "the same attack reading the model's confidence instead of its loss",
            lambda e: _with_ci(e.confidence_attack.auc, e.confidence_attack.auc_ci),
        ),
    ]
    for fpr in sorted(report.unlearned.loss_attack.tpr_at_fpr):
        label = f"Caught at {fpr:.1%} false alarms"
        needed = math.ceil(_MIN_FALSE_ALARMS / fpr)
        if report.n_holdout < needed:
            # Too few never-seen examples: the threshold for this rate sits on a handful of examples (or
            # none), so any value would be noise presented as a measurement.
            rows.append(
                {
                    "label": label,
                    "help": f"not estimable here: a {fpr:.1%} false-alarm rate needs at least {needed:,} "
                    f"never-seen examples; this check had {report.n_holdout:,}",
                    "small_sample": True,
                    **{r: ("—" if ev[r] is None else "not shown") for r in _ROLES},
                }
            )
            continue
        rows.append(
            row(
                label,
                f"share of forget examples the attacker catches while wrongly flagging only {fpr:.1%} "
                "of never-seen people",
                lambda e, f=fpr: _fmt_num(e.loss_attack.tpr_at_fpr.get(f), ".3f"),
            )
        )
    rows.append(
        row(
            "KS test p-value, losses",
            "small (below 0.05) = the two loss distributions differ detectably",
            lambda e: _fmt_num(e.loss_tests.ks_pvalue, ".3g"),
        )
    )
    rows.append(
        row(
            "Learned attack accuracy",
            "a logistic-regression attacker on the losses, cross-validated; 0.5 = chance",
            lambda e: None if e.logistic_attack is None else _fmt_num(e.logistic_attack.accuracy, ".3f"),
        )
    )
    if report.lira is not None:
        lira = {
            "original": report.lira.original,
            "unlearned": report.lira.target,
            "reference": report.lira.retrained,
        }
        for fpr in sorted(report.lira.target.flagged_fraction):
            few = report.n_forget * fpr < _MIN_FALSE_ALARMS / 2
            help_text = f"a model that never saw them flags about {fpr:.0%}"
            if few:
                help_text += (
                    f"; only {report.n_forget} forget examples, so one example moves this figure by "
                    f"{1 / max(report.n_forget, 1):.0%}: read it as rough"
                )
            rows.append(
                {
                    "label": f"LiRA: forget examples flagged at {fpr:.0%}",
                    "help": help_text,
                    "small_sample": few,
                    **{
                        r: "—" if res is None else _fmt_num(res.flagged_fraction.get(fpr), ".1%")
                        for r, res in lira.items()
                    },
                }
            )
    figures = report.figures
    for label, value, help_text in (
        (
            "Forgetting quality F",
            figures.forgetting_quality,
            "the NeurIPS 2023 unlearning challenge's score over many runs: 1 = as good as retraining",
        ),
        (
            "Challenge final score",
            figures.final_score,
            "F times the accuracy kept on retained and test data, relative to retraining",
        ),
    ):
        if value is not None:
            rows.append(
                {
                    "label": label,
                    "help": help_text,
                    "small_sample": False,
                    "original": "—",
                    "unlearned": _fmt_num(value, ".3f"),
                    "reference": "—",
                }
            )
    return rows


def _utility_rows(utility: UtilityReport) -> list[dict[str, Any]]:
    models = {"original": utility.original, "unlearned": utility.unlearned, "reference": utility.reference}
    names: list[str] = [s for s in ("retain", "holdout", "test", "forget") if s in utility.unlearned.accuracy]
    names += sorted(set(utility.unlearned.accuracy) - set(names))
    rows = []
    for name in names:
        acc: dict[str, str] = {}
        mae: dict[str, str] = {}
        for role, u in models.items():
            a = None if u is None else u.accuracy.get(name)
            m = None if u is None else u.mae_years.get(name)
            acc[role] = "—" if a is None else _with_ci(a.value, (a.ci_low, a.ci_high))
            mae[role] = "—" if m is None else f"{_fmt_num(m.value, '.1f')} years"
        ratio = (utility.accuracy_ratio_to_original or {}).get(name)
        rows.append(
            {
                "set": plots.SET_LABELS.get(name, name),
                "key": name,
                "acc": acc,
                "mae": mae,
                "ratio": _fmt_num(ratio, ".3f"),
            }
        )
    return rows


def _evidence_view(attempt: AttemptInfo, report: VerificationReport) -> dict[str, Any]:
    figures = []

    def add(key: str, title: str, png: bytes | None, alt: str, caption: str) -> None:
        uri = _data_uri(png)
        if uri is not None:
            figures.append({"key": key, "title": title, "src": uri, "alt": alt, "caption": caption})

    add(
        "loss-histograms",
        "How sure the model is about these people: losses",
        plots.histogram_png(report, "loss"),
        "Histograms of per-example losses, forget set vs holdout, before and after unlearning",
        "Each panel compares the forget set (the people who asked to be erased, vermillion) with the holdout "
        "set (people the model never saw, blue). If the model still remembered these people, their losses "
        "would be lower than the holdout's and the vermillion shape would sit to the left of the blue one. "
        "Before unlearning a gap is expected; after unlearning the two shapes should overlap about as much "
        "as they would for a model retrained without these people.",
    )
    add(
        "confidence-histograms",
        "How confident the model is about these people",
        plots.histogram_png(report, "confidence"),
        "Histograms of per-example confidences, forget set vs holdout, before and after unlearning",
        "The same comparison on the model's confidence in the right answer. A model that remembers someone "
        "is unusually confident about their photos, which would push the vermillion shape to the right of "
        "the blue one. After unlearning the two should look alike.",
    )
    add(
        "roc",
        "Can an attacker tell who was in the training data?",
        plots.roc_png(report),
        "ROC curves of the loss-threshold membership attack before and after unlearning",
        "An attacker tries to pick out the forget set from never-seen people by their losses. The curve "
        "shows how many forget examples it catches (up) against how many never-seen people it wrongly "
        "accuses (right). A curve on the dotted diagonal (AUC 0.5) means the attacker is only guessing; the "
        "more the curve bulges towards the top left, the more the model still remembers.",
    )
    if report.lira is not None:
        add(
            "lira",
            "Person-by-person test (LiRA)",
            plots.lira_png(report.lira),
            "Histogram of per-example LiRA scores for the models tested",
            "For every forget example, LiRA compares the model's confidence with that of reference models "
            "that never saw it and gives a score: a small score means 'more confident than a model that "
            "never saw this person would be', and examples left of a dashed line are flagged. A model "
            "that forgot flags about as few examples as that line's rate; the original model shows how "
            "strong the signal was before unlearning.",
        )
    add(
        "utility",
        "Does the model still work?",
        plots.utility_png(report.utility),
        "Bar chart of accuracy per data set before and after unlearning",
        "Accuracy of the age predictor on each group of data, with 95% intervals. Unlearning should leave "
        "accuracy on the kept training data and on never-seen people about where it was; accuracy on the "
        "forget set is expected to fall towards the never-seen level.",
    )
    unlearned_auc = report.unlearned.loss_attack
    return {
        "attempt": attempt.index,
        "method": attempt.method,
        "exact": attempt.decision is not None and attempt.decision.basis == "exact",
        "auc": _fmt_num(unlearned_auc.auc, ".2f"),
        "auc_ci": f"{_fmt_num(unlearned_auc.auc_ci[0], '.2f')}–{_fmt_num(unlearned_auc.auc_ci[1], '.2f')}",
        "reference_auc": None
        if report.reference is None
        else _fmt_num(report.reference.loss_attack.auc, ".2f"),
        "tier": str(report.tier),
        "n_forget": report.n_forget,
        "n_holdout": report.n_holdout,
        "n_retain": report.n_retain,
        "n_test": report.n_test,
        "has_original": report.original is not None,
        "has_reference": report.reference is not None,
        "rows": _evidence_rows(report),
        "utility_rows": _utility_rows(report.utility),
        "figures": figures,
    }


def _package_version() -> str:
    try:
        return version("deletion-sdk")
    except PackageNotFoundError:  # pragma: no cover - source tree without install
        return "unknown"


def _context(data: ReportData) -> dict[str, Any]:
    now = data.generated_at
    requests = [_request_row(r, now) for r in data.requests]
    final = data.attempts[-1] if data.attempts else None
    with_evidence = [a for a in data.attempts if a.verification is not None]
    evidence_attempt = with_evidence[-1] if with_evidence else None
    final_decision = (
        None if final is None or final.decision is None else _decision_view(final, final.decision)
    )
    earlier = [_decision_view(a, a.decision) for a in data.attempts[:-1] if a.decision is not None]
    return {
        "data": data,
        "job_status_class": _JOB_STATUS.get(data.job.status, "pending"),
        "requests": requests,
        "n_met": sum(r.deadline_met is True for r in data.requests),
        "n_missed": sum(r.deadline_met is False for r in data.requests),
        "n_open": sum(r.deadline_met is None for r in data.requests),
        "attempts": [_attempt_row(a, data.retrain_estimate_s) for a in data.attempts],
        "final": None if final is None else _attempt_row(final, data.retrain_estimate_s),
        "final_decision": final_decision,
        "earlier_decisions": earlier,
        "evidence": None
        if evidence_attempt is None or evidence_attempt.verification is None
        else _evidence_view(evidence_attempt, evidence_attempt.verification),
        "certificate": None if data.certificate is None else _certificate_view(data.certificate),
        "record": _record_view(data),
        "version": _package_version(),
    }


def _certificate_view(cert: CertificateInfo) -> dict[str, Any]:
    """The certificate as a recipient sees it: file names only (the operator's folders mean nothing to
    them, and disclose the deployment's layout), the key's fingerprint, and the command to run."""
    return {
        "file": PurePath(cert.path).name,
        "key_file": PurePath(cert.public_key_path).name,
        "key_id": cert.key_id,
        "payload_sha256": cert.payload_sha256,
        "verify_command": cert.verify_command,
    }


def _record_view(data: ReportData) -> list[tuple[str, str]]:
    """The GDPR Art. 30 record-of-processing fields as (label, text) rows; every label is always listed."""
    record = data.processing_record
    missing = "not recorded in the policy"

    def text(value: str | None) -> str:
        return value if value else missing

    return [
        ("Controller", text(None if record is None else record.controller)),
        ("Controller contact", text(None if record is None else record.controller_contact)),
        ("Data protection officer", text(None if record is None else record.dpo_contact)),
        ("Purpose of the processing", text(None if record is None else record.purpose)),
        ("Legal basis of the processing", text(None if record is None else record.legal_basis)),
        (
            "Categories of personal data",
            text(None if record is None or not record.data_categories else "; ".join(record.data_categories)),
        ),
        ("Retention", text(None if record is None else record.retention)),
    ]


def render_report(data: ReportData) -> str:
    """The whole report as one self-contained HTML page.

    Args:
        data: what to show (see :class:`ReportData`).

    Returns:
        The HTML document: inline CSS, base64 PNG figures, no script, no external URL.

    Raises:
        InputError: ``data`` holds something that looks like a raw personal identifier.
    """
    if not isinstance(data, ReportData):
        raise InputError(f"The 'data' parameter must be a ReportData. Got {type(data).__name__} instead.")
    check_no_personal_data(data)  # again: model_construct() or a subclass could have skipped validation
    html = _environment().get_template(_TEMPLATE).render(**_context(data))
    _log.info("report.rendered", job_id=data.job.job_id, n_requests=len(data.requests), bytes=len(html))
    return html


def write_report(data: ReportData, path: str | os.PathLike[str]) -> Path:
    """Render the report and write it to ``path`` atomically (temporary file in the same folder, renamed).

    Args:
        data: what to show.
        path: destination ``.html`` file; its folder is created when missing.

    Returns:
        The absolute path written.

    Raises:
        InputError: as :func:`render_report`.
    """
    out = Path(path).expanduser().resolve()
    html = render_report(data)
    return atomic_write(out, html)
