"""What a privacy officer reads: a verdict its rows agree with, the time budget, figures only where the
sample allows them, filled-in versions and parameters, the key fingerprint, the Art. 30 record, histories."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from deletion_sdk.policy import Check, Decision
from deletion_sdk.report import AttemptInfo, ReportData, render_report

from .conftest import PROCESSING_RECORD, Evidence
from .test_report_render import _parse

MakeData = Callable[..., ReportData]


def _section(html: str, start: str, end: str) -> str:
    return html[html.index(f'id="{start}"') : html.index(f'id="{end}"')]


def _visible_text(html: str) -> str:
    return " ".join(_parse(html).text)


@pytest.fixture(scope="module")
def data(make_report_data: MakeData) -> ReportData:
    return make_report_data()


@pytest.fixture(scope="module")
def exact_html(make_exact_report: MakeData) -> str:
    return render_report(make_exact_report())


def test_retrain_only_job_shows_no_fail_under_its_pass(
    exact_html: str, exact_decision: Decision, make_exact_report: MakeData
) -> None:
    # The evidence is one a careless template shows as red FAIL rows under PASS: measured checks fail.
    assert exact_decision.passed and exact_decision.basis == "exact"
    failing = [c for c in exact_decision.checks if not c.passed]
    assert failing, "the fixture's strict policy must make some measured checks fail"
    assert "FAIL" not in _visible_text(exact_html)
    decision = _section(exact_html, "decision", "evidence")
    page = _parse(decision)
    decisive = [a["data-check"] for _, a in page.with_attr("data-check")]
    assert decisive == ["verification_tier", "exact_retraining"]
    for _, attrs in page.with_attr("data-check"):
        assert "pass" in attrs["class"].split()
    # every measured check is still shown, in the informational table, without a verdict of its own
    info = [a["data-info-check"] for _, a in page.with_attr("data-info-check")]
    assert sorted(info) == sorted(c.name for c in exact_decision.checks if c.name not in decisive)
    for check in failing:
        row = " ".join(page.row_text.get(f"data-info-check={check.name}", []) or [""])
        assert check.name in info
        assert "FAIL" not in row
    assert "not part of the verdict" in " ".join(page.text)
    summary = _visible_text(_section(exact_html, "summary", "requests"))
    assert "PASS" in summary and "2 of 2 checks passed" in summary and "exact retraining" in summary


def test_an_after_retrain_auc_is_explained_not_read_as_memory(exact_html: str, evidence: Evidence) -> None:
    report = evidence.attempts[1][1]
    text = _visible_text(_section(exact_html, "evidence", "certificate"))
    assert "retrained from scratch without these people's data" in text
    assert f"attack AUC of {report.unlearned.loss_attack.auc:.2f}" in text
    assert 'does not mean it "still remembers"' in text


def test_a_verdict_that_does_not_follow_from_its_checks_is_flagged(
    make_report_data: MakeData, data: ReportData
) -> None:
    final = data.attempts[-1]
    assert final.decision is not None
    failing = Check(
        name="max_attack_auc",
        description="attack AUC",
        value=0.9,
        threshold=0.6,
        comparison="<=",
        passed=False,
    )
    forged = final.decision.model_copy(update={"passed": True, "checks": (failing,)})
    html = render_report(make_report_data(attempts=(final.model_copy(update={"decision": forged}),)))
    text = _visible_text(_section(html, "decision", "evidence"))
    assert "does not follow from its checks" in text and "FAIL" in text


def test_time_budget_is_drawn_on_the_time_bars(make_report_data: MakeData, data: ReportData) -> None:
    html = render_report(data)
    first, second = data.attempts
    assert first.budget_s is not None and second.budget_s is None
    estimate = data.retrain_estimate_s
    assert estimate is not None
    row = re.search(r'data-attempt="1".*?</tr>', html, re.S)
    assert row is not None
    scale = max(1.0, first.wall_time_s / estimate, first.budget_s / estimate)
    left = round(first.budget_s / estimate / scale * 100, 1)
    assert f'class="budget" style="left: {left}%"' in row.group(0)
    assert "budget" in _visible_text(row.group(0)) and "25% of retraining" in _visible_text(row.group(0))
    retrain_row = re.search(r'data-attempt="2".*?</tr>', html, re.S)
    assert retrain_row is not None and 'class="budget"' not in retrain_row.group(0)
    assert "no time budget" in _visible_text(retrain_row.group(0))
    # an attempt that ran past its budget: the bar runs past the red line, and says so
    over = first.model_copy(update={"wall_time_s": first.budget_s * 2, "outcome": "budget_exceeded"})
    over_html = render_report(make_report_data(attempts=(over,)))
    over_row = re.search(r'data-attempt="1".*?</tr>', over_html, re.S)
    assert over_row is not None
    assert 'class="over"' in over_row.group(0) and "exceeded" in _visible_text(over_row.group(0))


def test_tpr_at_a_tiny_false_alarm_rate_is_hidden_with_too_few_holdout_examples(
    make_report_data: MakeData, data: ReportData
) -> None:
    final = data.attempts[-1]
    report = final.verification
    assert report is not None and report.n_holdout < 10_000
    tpr = report.unlearned.loss_attack.tpr_at_fpr
    assert 0.001 in tpr
    html = render_report(data)
    row = re.search(r"<tr[^>]*><td>Caught at 0\.1% false alarms.*?</tr>", html, re.S)
    assert row is not None
    row_text = _visible_text(row.group(0))
    assert "not shown" in row_text and "10,000" in row_text and f"{report.n_holdout:,}" in row_text
    assert f"{tpr[0.001]:.3f}" not in row_text
    assert "small-sample" in row.group(0)
    # with enough never-seen examples the same figure is shown
    big = report.model_copy(update={"n_holdout": 10_000})
    html_big = render_report(make_report_data(attempts=(final.model_copy(update={"verification": big}),)))
    row_big = re.search(r"<tr[^>]*><td>Caught at 0\.1% false alarms.*?</tr>", html_big, re.S)
    assert row_big is not None and f"{tpr[0.001]:.3f}" in _visible_text(row_big.group(0))


def test_versions_and_parameters_are_always_filled(make_report_data: MakeData, data: ReportData) -> None:
    attempt = data.attempts[0].model_copy(update={"params": {"epochs": None, "lr": 0.01}})
    text = _visible_text(render_report(make_report_data(attempts=(attempt,))))
    assert "epochs=default" in text and "None" not in text and "vn/a" not in text
    assert f"v{attempt.method_version}" in text
    unknown = attempt.model_copy(update={"method_version": "not recorded"})
    text = _visible_text(render_report(make_report_data(attempts=(unknown,))))
    assert "version not recorded" in text and "vnot" not in text


def test_record_of_processing_fields(exact_html: str, make_report_data: MakeData) -> None:
    text = _visible_text(_section(exact_html, "record", "glossary"))
    for value in (
        PROCESSING_RECORD.controller,
        PROCESSING_RECORD.controller_contact,  # the organisation's addresses are not refused as personal
        PROCESSING_RECORD.dpo_contact,
        PROCESSING_RECORD.purpose,
        PROCESSING_RECORD.legal_basis,
        PROCESSING_RECORD.retention,
        *PROCESSING_RECORD.data_categories,
    ):
        assert value and value in text
    missing = _visible_text(_section(render_report(make_report_data()), "record", "glossary"))
    assert missing.count("not recorded in the policy") == 7


def test_each_request_shows_who_verified_the_identity_and_when(
    exact_html: str, make_exact_report: MakeData
) -> None:
    data = make_exact_report()
    page = _parse(exact_html)
    for request in data.requests:
        verified = next(e for e in request.history if e.to_status == "verified")
        row = " ".join(page.row_text[f"data-request={request.request_id}"])
        assert verified.at.strftime("%Y-%m-%d %H:%M") in row and "privacy-desk" in row
        block = re.search(rf'data-history="{request.request_id}".*?</details>', exact_html, re.S)
        assert block is not None
        history = _visible_text(block.group(0))
        assert "received → verified" in history and "identity confirmed by e-mail link" in history
        assert "verifying → completed" in history and "batch-worker-a" in history


def test_a_raw_identifier_in_a_history_reason_is_refused(
    make_exact_report: MakeData, evidence: Evidence
) -> None:
    data = make_exact_report()
    raw = evidence.forget_subjects[0]
    request = data.requests[0]
    event = request.history[1].model_copy(update={"reason": f"checked {raw}"})
    bad = request.model_copy(update={"history": (request.history[0], event)})
    with pytest.raises(ValueError, match="personal data"):
        make_exact_report(requests=(bad,))


def test_attempt_without_budget_or_estimate_still_renders(make_report_data: MakeData) -> None:
    bare = AttemptInfo(
        index=1, method="finetune", method_version="1.0", wall_time_s=1.0, device="cpu", outcome="error"
    )
    text = _visible_text(render_report(make_report_data(attempts=(bare,), retrain_estimate_s=None)))
    assert "stopped with an error" in text and "defaults" in text
