from __future__ import annotations

import pytest

from tests.integration.pipeline_workspace import Workspace, build


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """One trained deployment on SQLite, copied by each test that needs it."""
    return build(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def escalate_template(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Like ``sqlite_template`` but its requests fall under a policy whose first method always fails.

    Like every template, the model records a one-hour retraining estimate, so the time budget never
    decides the outcome: the first method must fail on verification, deterministically.
    """
    from deletion_sdk.redteam import NoopCheat, registered

    with registered(NoopCheat):  # policies name registered unlearners only, so its cheat must be registered
        return build(tmp_path_factory.mktemp("template-escalate"), policy="escalate-test", n_requests=3)


@pytest.fixture(scope="session")
def per_example_template(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Requests under a per-example-tier policy (LiRA against a shadow bank)."""
    return build(tmp_path_factory.mktemp("template-lira"), policy="per-example-test", n_requests=3)


@pytest.fixture
def env_for(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def apply(ws: Workspace) -> Workspace:
        monkeypatch.setenv("DELETION_SDK_HOME", str(ws.home))
        monkeypatch.setenv("DELETION_SDK_POLICY_DIR", str(ws.policy_dir))
        return ws

    return apply


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses a trained template (the session fixtures above) trains a deployment: it is ``slow``.

    Decided by what the test uses, not by its name. Tests that train or run a batch in some other way carry
    ``@pytest.mark.slow`` themselves.
    """
    trained_templates = {"sqlite_template", "escalate_template", "per_example_template", "gdpr_template"}
    for item in items:
        if trained_templates.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def gdpr_template(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Requests under the shipped ``gdpr-art17`` policy itself (its real methods and thresholds)."""
    return build(tmp_path_factory.mktemp("template-gdpr"), policy="gdpr-art17", n_requests=4)
