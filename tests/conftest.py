"""What both suites share (the test CA), and the hooks: integration tests are marked
``engine``, and the report header names this run's container label. The fixtures of the real
parts (the engine, containers, the agent process, receivers) are in
tests/integration/conftest.py."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.helpers.compiled import compiled_modules, stale_modules
from tests.helpers.containers import RUN_ID, TEST_LABEL
from tests.helpers.tls import TlsFiles, make_test_ca

# Hypothesis' per-example deadline is a timing assertion: on a loaded 2-core machine a 200 ms
# deadline failed decoders that are correct. Examples are bounded by their size instead.
settings.register_profile("logship", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("logship")


@pytest.fixture(scope="session", autouse=True)
def no_docker_context() -> Iterator[None]:
    """The engine is the one DOCKER_HOST or the local socket names, never the current context
    of the machine's own docker CLI (a laptop's Docker Desktop, colima...): the context
    "default", for logship and the docker CLI alike (its config.json, plugins and logins stay)."""
    saved = os.environ.get("DOCKER_CONTEXT")
    os.environ["DOCKER_CONTEXT"] = "default"
    yield
    if saved is None:
        os.environ.pop("DOCKER_CONTEXT", None)
    else:
        os.environ["DOCKER_CONTEXT"] = saved


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """CA, server (127.0.0.1, localhost) and client certificates, made once per run."""
    return make_test_ca(tmp_path_factory.mktemp("tls"))


def pytest_configure(config: pytest.Config) -> None:
    stale = stale_modules()
    if stale:
        pytest.exit(
            f"compiled builds older than their source: {', '.join(stale)}; rebuild them "
            "(scripts/setup-venv.sh --compiled) or go back to pure Python (scripts/setup-venv.sh)",
            returncode=4,
        )
    if os.environ.get("LOGSHIP_EXPECT_COMPILED") == "1" and not compiled_modules():
        pytest.exit("LOGSHIP_EXPECT_COMPILED=1, but no module of logship is compiled", returncode=4)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.nodeid.split("::")[0]:
            item.add_marker(pytest.mark.engine)


def pytest_report_header() -> str:
    compiled = len(compiled_modules())
    build = f"{compiled} modules compiled (mypyc)" if compiled else "pure Python"
    return f"logship test run {RUN_ID} (containers labelled {TEST_LABEL}={RUN_ID}-*), {build}"
