"""The report in a real browser: headless Debian Chromium renders it, the screenshot is not blank, no errors.

Chromium prints every console message of the page (``console.*`` calls, uncaught exceptions, and the
Content-Security-Policy violations that any attempt to fetch something external would cause) to stderr
as ``…:CONSOLE:<line>] "<message>", source: <url>`` when started with ``--enable-logging=stderr``, all at
level INFO whatever the message's own level. The report runs no script, so any such line is a failure.
A deliberately broken page checks that the detector sees them.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deletion_sdk.report import ReportData, write_report

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
WINDOW = (1280, 2000)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian's chromium is not installed; run scripts/ensure-chromium.sh (the test set-up) first",
    ),
]

_CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\]\s*(?P<message>.*)$")


def screenshot(html: Path, tmp_path: Path, window: tuple[int, int] = WINDOW) -> tuple[Path, str]:
    """Render ``html`` in headless Chromium; return the screenshot path and the browser's log."""
    png = tmp_path / f"{html.stem}.png"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        f"--screenshot={png}",
        f"--window-size={window[0]},{window[1]}",
        "--enable-logging=stderr",
        "--v=0",
        html.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    return png, done.stdout + done.stderr


def page_errors(log: str) -> list[str]:
    """Console messages and uncaught exceptions of the page in a Chromium log."""
    errors = []
    for line in log.splitlines():
        match = _CONSOLE.search(line)
        if match:
            errors.append(match.group("message"))
        elif "Uncaught" in line:
            errors.append(line)
    return errors


def test_report_renders_in_headless_chromium(
    make_report_data: Callable[..., ReportData], tmp_path: Path
) -> None:
    html = write_report(make_report_data(), tmp_path / "report.html")
    png, log = screenshot(html, tmp_path)
    assert png.exists(), f"no screenshot; browser log:\n{log[-3000:]}"
    assert page_errors(log) == [], f"the page logged errors:\n{log[-3000:]}"
    with Image.open(io.BytesIO(png.read_bytes())) as img:
        assert img.format == "PNG"
        assert img.size == WINDOW
        rgb = img.convert("RGB")
    pixels = np.asarray(rgb, dtype=np.float64)
    assert pixels.std() > 20, "the screenshot is (nearly) one colour"
    colours = rgb.getcolors(maxcolors=1 << 22)
    assert colours is not None and len(colours) > 500, "too few distinct colours for text, tables and plots"
    # the dark header band is drawn at the top and the plots further down (not an empty white page)
    assert pixels[:60].mean() < 150
    assert (pixels[WINDOW[1] // 2 :].std(axis=(0, 1)) > 10).all()


def test_the_detector_sees_console_errors_and_blocked_fetches(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><head>"
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
        "script-src 'unsafe-inline'\">"
        "</head><body><h1>broken</h1>"
        '<img src="https://example.invalid/tracker.png">'
        "<script>console.error('deliberate'); notDefinedAnywhere();</script></body></html>",
        encoding="utf-8",
    )
    png, log = screenshot(bad, tmp_path)
    assert png.exists()
    errors = page_errors(log)
    assert any("deliberate" in e for e in errors), log[-3000:]
    assert any("Uncaught" in e and "notDefinedAnywhere" in e for e in errors), log[-3000:]
    assert any("example.invalid" in e and "Content Security Policy" in e for e in errors), log[-3000:]


FAIL_BACKGROUND = (0xFD, 0xE8, 0xE6)  # --bad-bg: a failed check's row, a missed deadline, an alert
FAIL_RED = (0xB4, 0x23, 0x18)  # --bad: a FAIL badge's text, the budget line


def _pixels_of(png: Path, colour: tuple[int, int, int]) -> int:
    with Image.open(png) as img:
        pixels = np.asarray(img.convert("RGB"))
    return int((pixels == np.array(colour, dtype=np.uint8)).all(axis=-1).sum())


def test_retrain_only_report_shows_no_fail_under_its_pass(
    make_exact_report: Callable[..., ReportData],
    make_report_data: Callable[..., ReportData],
    tmp_path: Path,
) -> None:
    """The whole page of a retrain-only job (PASS on exact retraining whose measured figures miss the
    approximate methods' limits) paints nothing in the failure colours; the same page with a failed
    approximate attempt as the final one does, so the measure can fail."""
    tall = (1280, 10_000)  # the whole page: header to footer
    data = make_exact_report()
    final = data.attempts[-1].decision
    assert final is not None and final.passed and any(not c.passed for c in final.checks)
    exact_png, log = screenshot(write_report(data, tmp_path / "exact.html"), tmp_path, tall)
    assert exact_png.exists(), f"no screenshot; browser log:\n{log[-3000:]}"
    assert page_errors(log) == [], f"the page logged errors:\n{log[-3000:]}"
    with Image.open(exact_png) as img:
        pixels = np.asarray(img.convert("RGB"), dtype=np.float64)
    drawn = np.nonzero((pixels < 250).any(axis=(1, 2)))[0]
    assert drawn.max() < tall[1] - 200, "the page is longer than the screenshot: raise its height"
    assert _pixels_of(exact_png, FAIL_BACKGROUND) == 0
    assert _pixels_of(exact_png, FAIL_RED) == 0
    failed = make_report_data().attempts[0]
    assert failed.decision is not None and not failed.decision.passed
    control = make_exact_report(attempts=(failed,))
    control_png, _ = screenshot(write_report(control, tmp_path / "control.html"), tmp_path, tall)
    assert _pixels_of(control_png, FAIL_BACKGROUND) > 1000
    assert _pixels_of(control_png, FAIL_RED) > 100
