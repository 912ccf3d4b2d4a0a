"""The rendered page: every section, every check, decodable PNGs, nothing external, nothing personal."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from deletion_sdk.errors import InputError
from deletion_sdk.report import (
    AttemptInfo,
    JobInfo,
    ReportData,
    check_no_personal_data,
    render_report,
    write_report,
)
from deletion_sdk.report.plots import histogram_png, lira_png
from deletion_sdk.verification import forgetting_quality

from .conftest import Evidence

MakeData = Callable[..., ReportData]


class _Page(HTMLParser):
    """Collects elements with their attributes, text outside attributes, and tag nesting for rows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.row_text: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.elements.append((tag, a))
        if tag not in {"meta", "link", "img", "br", "input"}:
            self.stack.append((tag, a))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        for _, a in self.stack:
            for key in ("data-request", "data-check", "data-attempt"):
                if key in a:
                    self.row_text.setdefault(f"{key}={a[key]}", []).append(data)

    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.elements if "id" in a}

    def with_attr(self, name: str, value: str | None = None) -> list[tuple[str, dict[str, str]]]:
        return [(t, a) for t, a in self.elements if name in a and (value is None or a[name] == value)]


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


@pytest.fixture(scope="module")
def data(make_report_data: MakeData) -> ReportData:
    return make_report_data()


@pytest.fixture(scope="module")
def html(data: ReportData) -> str:
    return render_report(data)


@pytest.fixture(scope="module")
def page(html: str) -> _Page:
    return _parse(html)


def test_every_section_is_present(page: _Page, data: ReportData) -> None:
    expected = {
        "header",
        "summary",
        "requests",
        "work",
        "decision",
        "evidence",
        "utility",
        "certificate",
        "glossary",
    }
    assert expected <= page.ids()
    figures = {"fig-loss-histograms", "fig-confidence-histograms", "fig-roc", "fig-lira", "fig-utility"}
    assert figures <= page.ids()
    text = " ".join(page.text)
    assert data.job.job_id in text and data.job.policy_title in text and data.job.model_name in text
    for term in ("AUC", "Holdout", "Forget set", "LiRA", "Subject reference"):
        assert term in text
    # every figure has a plain-language caption
    assert len([t for t, _ in page.elements if t == "figcaption"]) == len(figures)
    assert "their losses would be lower than the holdout" in text


def test_requests_table_shows_pseudonyms_dates_and_deadlines(page: _Page, data: ReportData) -> None:
    text = " ".join(page.text)
    for request in data.requests:
        row = " ".join(page.row_text[f"data-request={request.request_id}"])
        assert request.subject_ref[:12] in row
        assert request.subject_ref not in row  # only the truncated form is shown as text ...
        assert page.with_attr("title", request.subject_ref)  # ... the full one in a title attribute
        assert request.received_at.strftime("%Y-%m-%d") in row
        assert request.due_at.strftime("%Y-%m-%d") in row
        if request.deadline_met is False:
            assert "MISSED" in row
        elif request.deadline_met is None:
            assert "open" in row and "MISSED" not in row
        else:
            assert "met" in row and "MISSED" not in row
    missed = [r.request_id for r in data.requests if r.deadline_met is False]
    assert missed, "the fixture has a late request"
    rows = {a["data-request"]: a for _, a in page.with_attr("data-request")}
    for rid, attrs in rows.items():
        assert ("missed" in attrs["class"].split()) == (rid in missed)
    assert f"{len(missed)} request missed the statutory deadline" in text
    assert "req-0099" in text  # the no-data request of the forget set


def test_attempts_show_method_params_time_and_outcome(page: _Page, data: ReportData) -> None:
    assert len(data.attempts) == 2
    for attempt in data.attempts:
        row = " ".join(page.row_text[f"data-attempt={attempt.index}"])
        assert attempt.method in row and attempt.device in row
        for key in attempt.params:
            assert f"{key}=" in row
        if attempt.decision is not None:
            assert ("passed verification" in row) == attempt.decision.passed
    # wall time against the retraining estimate, as a share
    estimate = data.retrain_estimate_s
    assert estimate is not None
    first = data.attempts[0]
    share = f"({first.wall_time_s / estimate * 100:.0f}%)"
    assert share in " ".join(page.row_text[f"data-attempt={first.index}"])


def test_decision_table_lists_every_check_of_the_final_attempt(html: str, data: ReportData) -> None:
    final = data.attempts[-1].decision
    assert final is not None
    decision_html = html[html.index('id="decision"') : html.index('id="evidence"')]
    earlier_start = decision_html.find("<details")
    final_part = _parse(decision_html[:earlier_start] if earlier_start >= 0 else decision_html)
    rows = final_part.with_attr("data-check")
    assert final.basis == "checks"  # judged by its checks: every check is one the verdict rests on
    assert [a["data-check"] for _, a in rows] == [c.name for c in final.checks]
    assert final.passed == all(c.passed for c in final.checks)
    for (_, attrs), check in zip(rows, final.checks, strict=True):
        assert ("pass" if check.passed else "fail") in attrs["class"].split()
        row = " ".join(final_part.row_text[f"data-check={check.name}"])
        assert check.description in row
        assert ("pass" in row) if check.passed else ("FAIL" in row)
        if check.name == "verification_tier":  # tier ranks are shown by name
            assert data.attempts[-1].verification is not None
            assert str(data.attempts[-1].verification.tier) in row
        elif check.value is not None:
            assert f"{check.value:.4g}" in row
        if check.note:
            assert check.note in row


def test_earlier_attempts_decisions_are_collapsed(html: str, data: ReportData) -> None:
    earlier = data.attempts[0].decision
    assert earlier is not None
    page = _parse(html)
    details = page.with_attr("data-attempt", str(data.attempts[0].index))
    assert any(tag == "details" for tag, _ in details)
    block = html[html.index("<details") : html.index("</details>")]
    assert "open" not in re.findall(r"<details[^>]*>", block)[0]
    for check in earlier.checks:
        assert f'data-check="{check.name}"' in block
    verdict = "PASS" if earlier.passed else "INCONCLUSIVE" if earlier.inconclusive else "FAIL"
    assert f"{verdict}, {len(earlier.failed_checks)} of {len(earlier.checks)} checks failed" in block


def test_embedded_images_decode_as_png(page: _Page) -> None:
    images = [a for t, a in page.elements if t == "img"]
    assert len(images) == 5
    for attrs in images:
        src = attrs["src"]
        assert src.startswith("data:image/png;base64,")
        raw = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert raw[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(io.BytesIO(raw)) as img:
            img.verify()
        with Image.open(io.BytesIO(raw)) as img:
            assert img.format == "PNG" and img.width >= 300 and img.height >= 200
            colours = img.convert("RGB").getcolors(maxcolors=1 << 20)
            assert colours is not None and len(colours) > 20  # a drawn plot, not a blank canvas
        assert attrs["alt"]


def test_page_is_self_contained(html: str, page: _Page) -> None:
    for tag, attrs in page.elements:
        for name in ("src", "href", "action", "srcset", "poster", "data"):
            if name in attrs:
                value = attrs[name]
                assert value.startswith(("data:", "#")), f"<{tag} {name}={value[:40]!r}> is not inline"
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.IGNORECASE)
    assert "url(" not in html and "@import" not in html
    assert not [t for t, _ in page.elements if t in {"script", "iframe", "object", "embed", "base", "frame"}]
    csp = page.with_attr("http-equiv", "Content-Security-Policy")
    assert csp and "default-src 'none'" in csp[0][1]["content"]


def test_certificate_key_id_and_verify_commands(page: _Page, data: ReportData, html: str) -> None:
    assert data.certificate is not None and data.audit is not None
    text = " ".join(page.text)
    assert data.certificate.key_id in text  # the key's fingerprint
    # the recipient's command names the two files, never the operator's folders
    command = "deletion-sdk certificate verify job-0007.intoto.json --key signing.pub.pem"
    assert data.certificate.verify_command == command
    assert command in text
    assert "/srv/dsdk" not in html
    assert "deletion-sdk audit verify" in text
    assert "deletion-sdk audit verify --file audit-log.jsonl --key signing.pub.pem" in text  # offline
    assert data.audit.root_hash in text and str(data.audit.tree_size) in text
    assert f"deletion-sdk audit prove {data.audit.entry_index}" in text


def test_evidence_tables_carry_the_measured_figures(page: _Page, data: ReportData) -> None:
    report = data.attempts[-1].verification
    assert report is not None and report.original is not None and report.lira is not None
    text = " ".join(page.text)
    assert f"{report.unlearned.loss_attack.auc:.3f}" in text
    assert f"{report.original.loss_attack.auc:.3f}" in text
    retain = report.utility.unlearned.accuracy["retain"]
    assert f"{retain.value:.3f}" in text
    flagged = report.lira.target.flagged_fraction[0.05]
    assert f"{flagged:.1%}" in text


def test_qualification_figures_are_shown_when_present(
    make_report_data: MakeData, data: ReportData, evidence: Evidence, page: _Page
) -> None:
    quality = forgetting_quality(evidence.model_confs, evidence.reference_confs[:3], device="cpu")
    final = data.attempts[-1]
    assert final.verification is not None
    figures = final.verification.figures.model_copy(update={"forgetting_quality": quality.score})
    report = final.verification.model_copy(update={"forgetting": quality, "figures": figures})
    attempt = final.model_copy(update={"verification": report})
    text = " ".join(_parse(render_report(make_report_data(attempts=(attempt,)))).text)
    assert "Forgetting quality F" in text and f"{quality.score:.3f}" in text
    assert "Challenge final score" not in text  # not measured, so not shown
    assert "Forgetting quality F" not in " ".join(page.text)


def test_no_raw_identifier_reaches_the_page(html: str, evidence: Evidence) -> None:
    assert evidence.forget_subjects and "@" in evidence.forget_subjects[0]
    for raw in evidence.faces.subjects:
        assert raw not in html
    for example_id in evidence.forget.example_ids:
        assert example_id not in html
    body = html[html.index("<body>") :]
    assert "@" not in re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", body)


@pytest.mark.parametrize(
    "where",
    ["attempt params value", "attempt params key", "attempt note", "job worker", "phone in policy title"],
)
def test_a_raw_identifier_in_any_field_is_refused(
    where: str, make_report_data: MakeData, data: ReportData, evidence: Evidence
) -> None:
    raw = evidence.forget_subjects[0]
    job = data.job
    attempt = data.attempts[0]
    overrides: dict[str, Any]
    secret = raw
    if where == "attempt params value":
        overrides = {"attempts": (attempt.model_copy(update={"params": {**attempt.params, "comment": raw}}),)}
    elif where == "attempt params key":
        overrides = {"attempts": (attempt.model_copy(update={"params": {"email": "redacted"}}),)}
        secret = "redacted"
    elif where == "attempt note":
        overrides = {"attempts": (attempt.model_copy(update={"note": f"failed for {raw}"}),)}
    elif where == "job worker":
        overrides = {"job": job.model_copy(update={"worker": f"host-1 ({raw})"})}
    else:
        secret = "+44 20 7946 0958"
        overrides = {"job": job.model_copy(update={"policy_title": f"call {secret}"})}
    with pytest.raises(ValidationError) as excinfo:
        make_report_data(**overrides)
    assert secret not in str(excinfo.value)
    assert "personal data" in str(excinfo.value)
    # validation skipped on construction (model_construct) is caught again at render time
    sneaky = ReportData.model_construct(**{**dict(data), **overrides})
    with pytest.raises(InputError) as excinfo2:
        render_report(sneaky)
    assert secret not in str(excinfo2.value)


def test_a_raw_identifier_as_subject_reference_is_refused(data: ReportData, evidence: Evidence) -> None:
    raw = evidence.forget_subjects[0]
    request = data.requests[0].model_dump()
    with pytest.raises(ValidationError) as excinfo:
        type(data.requests[0]).model_validate({**request, "subject_ref": raw})
    assert raw not in str(excinfo.value)
    bad = data.requests[0].model_construct(**{**request, "subject_ref": raw})
    with pytest.raises(InputError) as excinfo2:
        check_no_personal_data(ReportData.model_construct(**{**dict(data), "requests": (bad,)}))
    assert raw not in str(excinfo2.value)


def test_text_is_escaped(make_report_data: MakeData, data: ReportData) -> None:
    job = JobInfo.model_validate({**data.job.model_dump(), "job_id": "<script>alert(1)</script>"})
    html = render_report(make_report_data(job=job, attempts=()))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_report_without_evidence_certificate_or_audit(make_report_data: MakeData, data: ReportData) -> None:
    failed = AttemptInfo(
        index=1,
        method="finetune",
        method_version=data.attempts[0].method_version,
        params={"epochs": 1},
        wall_time_s=3.0,
        retrain_estimate_s=12.0,
        device="cpu",
        outcome="error",
        note="out of memory",
    )
    minimal = make_report_data(
        attempts=(failed,),
        certificate=None,
        audit=None,
        models=data.models.model_copy(update={"result": None}),
    )
    page = _parse(render_report(minimal))
    text = " ".join(page.text)
    assert not [t for t, _ in page.elements if t == "img"]
    assert "No certificate was issued" in text
    assert "did not reach a decision" in text and "no new model version was produced" in text
    assert "stopped with an error" in text and "out of memory" in text
    assert "(25%)" in text  # 3 s of the attempt's own 12 s estimate
    empty = _parse(render_report(make_report_data(attempts=(), requests=())))
    assert "No unlearning attempt was made." in " ".join(empty.text)


def test_write_report_is_atomic_and_identical(tmp_path: Path, data: ReportData, html: str) -> None:
    out = write_report(data, tmp_path / "reports" / "job.html")
    assert out == (tmp_path / "reports" / "job.html").resolve()
    assert out.read_text(encoding="utf-8") == html
    assert sorted(p.name for p in out.parent.iterdir()) == ["job.html"]
    smaller = data.model_copy(update={"attempts": ()})
    assert write_report(smaller, out) == out  # replaced in place
    assert out.read_text(encoding="utf-8") == render_report(smaller) != html
    # a refused report leaves the previous file as it was and no temporary file behind
    personal = data.job.model_construct(**{**dict(data.job), "worker": "someone@example.org"})
    with pytest.raises(InputError):
        write_report(ReportData.model_construct(**{**dict(smaller), "job": personal}), out)
    assert out.read_text(encoding="utf-8") == render_report(smaller)
    assert sorted(p.name for p in out.parent.iterdir()) == ["job.html"]


def test_render_is_deterministic_and_data_round_trips(data: ReportData, html: str) -> None:
    again = ReportData.model_validate_json(data.model_dump_json())
    assert again == data
    assert render_report(again) == html


def test_render_report_rejects_other_types() -> None:
    with pytest.raises(InputError, match="'data' parameter must be a ReportData"):
        render_report({"job": {}})  # type: ignore[arg-type]


def test_plots_adapt_to_the_evidence_present(data: ReportData) -> None:
    report = data.attempts[-1].verification
    assert report is not None and report.lira is not None
    only_after = report.model_copy(
        update={"histograms": [h for h in report.histograms if h.model == "unlearned"]}
    )
    one = Image.open(io.BytesIO(histogram_png(only_after, "loss") or b""))
    both = Image.open(io.BytesIO(histogram_png(report, "loss") or b""))
    assert one.width < both.width  # one panel instead of two
    assert histogram_png(report.model_copy(update={"histograms": []}), "loss") is None
    # LiRA without per-example scores falls back to the flagged fractions as bars
    empty = np.zeros(0)
    lira = report.lira.model_copy(
        update={
            "target": report.lira.target.model_copy(update={"scores": empty}),
            "original": None
            if report.lira.original is None
            else report.lira.original.model_copy(update={"scores": empty}),
        }
    )
    bars = Image.open(io.BytesIO(lira_png(lira)))
    assert bars.format == "PNG" and bars.size != Image.open(io.BytesIO(lira_png(report.lira))).size


def test_interval_ends_a_rounding_error_past_the_value_still_render(evidence: Evidence) -> None:
    # Regression: a Wilson interval at accuracy 0 can put ci_low a hair above the value; matplotlib
    # refused the negative error bar and the whole report (and `batch run`) crashed.
    from deletion_sdk.report import plots

    report = evidence.attempts[-1][1]
    accuracy = dict(report.utility.unlearned.accuracy)
    accuracy["forget"] = accuracy["forget"].model_copy(update={"value": 0.0, "ci_low": 1e-17, "ci_high": 0.2})
    unlearned = report.utility.unlearned.model_copy(update={"accuracy": accuracy})
    png = plots.utility_png(report.utility.model_copy(update={"unlearned": unlearned}))
    assert png.startswith(b"\x89PNG")
