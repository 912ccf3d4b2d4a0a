"""Third-party unlearners through the ``deletion_sdk.unlearners`` entry-point group.

The fixture distribution in ``plugin_dist/`` is laid out the way an installer lays out an installed
distribution: its package beside a ``<name>-<version>.dist-info`` with ``METADATA`` and
``entry_points.txt`` generated from its ``pyproject.toml``. With that folder on ``sys.path``,
``importlib.metadata`` discovers it exactly as it would after ``pip install``.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from deletion_sdk.logging import EVENT_ATTRIBUTE
from deletion_sdk.unlearning import (
    get_unlearner,
    list_unlearners,
    load_entry_points,
    run_unlearner,
    unlearner_source,
)
from deletion_sdk.unlearning.registry import _unregister

from .conftest import TinyTask, forget_scores

PLUGIN_SRC = Path(__file__).parent / "plugin_dist"


def _install(site: Path) -> None:
    project = tomllib.loads((PLUGIN_SRC / "pyproject.toml").read_text())["project"]
    shutil.copytree(PLUGIN_SRC / "example_unlearner_plugin", site / "example_unlearner_plugin")
    dist_info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
        f"Summary: {project['description']}\n"
    )
    lines = []
    for group, eps in project["entry-points"].items():
        lines.append(f"[{group}]")
        lines.extend(f"{name} = {target}" for name, target in eps.items())
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture
def plugin_site(tmp_path: Path) -> Iterator[Path]:
    list_unlearners()  # the registry has done its one lazy scan before the plugin is installed
    site = tmp_path / "site"
    site.mkdir()
    _install(site)
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        _unregister("head_reset")
        for mod in [m for m in sys.modules if m.startswith("example_unlearner_plugin")]:
            del sys.modules[mod]
        importlib.invalidate_caches()


def test_plugin_is_discovered_registered_and_runnable(
    plugin_site: Path, tiny_task: TinyTask, caplog: pytest.LogCaptureFixture
) -> None:
    assert "head_reset" not in list_unlearners()
    caplog.set_level(logging.WARNING, logger="deletion_sdk")
    added = load_entry_points(force=True)
    assert added == ["head_reset"]
    logs = [getattr(r, EVENT_ATTRIBUTE, {}) for r in caplog.records]
    broken = [e for e in logs if e.get("event") == "unlearner_plugin.broken"]
    assert broken and broken[0]["entry_point"] == "broken_example"  # logged, registry intact
    assert "head_reset" in list_unlearners()
    assert "finetune" in list_unlearners()
    cls = get_unlearner("head_reset")
    assert cls.__module__ == "example_unlearner_plugin"
    assert unlearner_source("head_reset").startswith("plugin:example-unlearner-plugin==")

    before = {k: v.clone() for k, v in tiny_task.model.state_dict().items()}
    result = run_unlearner(
        "head_reset",
        tiny_task.model,
        forget=tiny_task.forget,
        retain=tiny_task.retain,
        context=tiny_task.context(),
    )
    assert result.name == "head_reset" and result.steps > 0
    assert all(torch.equal(before[k], v) for k, v in tiny_task.model.state_dict().items())
    acc_before, conf_before = forget_scores(tiny_task.model, tiny_task.forget)
    acc_after, conf_after = forget_scores(result.model, tiny_task.forget)
    assert acc_after < acc_before or conf_after < conf_before
    assert load_entry_points() == []  # loaded once; later lookups do not rescan


def test_cli_lists_plugin_in_a_fresh_process(plugin_site: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_site), *sys.path])}
    out = subprocess.run(
        [sys.executable, "-m", "deletion_sdk.cli", "unlearners", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    rows = {row["name"]: row for row in json.loads(out.stdout)}
    assert rows["head_reset"]["source"].startswith("plugin:example-unlearner-plugin==")
    assert rows["head_reset"]["params"] == {"epochs": 2, "lr_scale": 1.0}
    assert "retrain" in rows and rows["retrain"]["exact"] is True
