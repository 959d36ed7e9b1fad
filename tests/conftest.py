"""Shared pytest fixtures and hooks for the tpm2-ptool test suites.

Fixtures (see ptool_fixtures.py for the underlying helpers):

* ``swtpm`` / ``swtpm_module`` -- a private swtpm (function / module scope).
* ``abrmd`` / ``abrmd_module`` -- tpm2-abrmd on a private D-Bus session bus in
  front of the matching swtpm fixture.
* ``store`` / ``home`` -- fresh 0700 directories for the token store and $HOME.

CI policy: with ``CI=true`` in the environment, any skipped test (or skipped
module) makes the run fail, so a missing tool cannot silently turn an
interop test green.
"""

import os

import pytest

from ptool_fixtures import Abrmd, Swtpm, in_ci

# PTOOL_SANITIZER=asan|tsan (scripts/test): sanitizer reports fail the tests.
pytest_plugins = ["sanitizer_plugin"]


# --------------------------------------------------------------------------
# TPM backends
# --------------------------------------------------------------------------

def _swtpm():
    tpm = Swtpm()
    try:
        yield tpm
    finally:
        tpm.stop()


def _abrmd(tpm):
    daemon = Abrmd(tpm)
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def swtpm():
    """A fresh swtpm for one test."""
    yield from _swtpm()


@pytest.fixture(scope="module")
def swtpm_module():
    """A swtpm shared by all tests of a module."""
    yield from _swtpm()


@pytest.fixture
def abrmd(swtpm):
    """tpm2-abrmd (+ private dbus) on the test's swtpm."""
    yield from _abrmd(swtpm)


@pytest.fixture(scope="module")
def abrmd_module(swtpm_module):
    """tpm2-abrmd (+ private dbus) on the module's swtpm."""
    yield from _abrmd(swtpm_module)


# --------------------------------------------------------------------------
# Directories
# --------------------------------------------------------------------------

def _private_dir(path):
    path.mkdir(mode=0o700)
    os.chmod(path, 0o700)  # mkdir's mode is subject to the umask
    return path


@pytest.fixture
def store(tmp_path):
    """An empty store directory (mode 0700)."""
    return _private_dir(tmp_path / "store")


@pytest.fixture
def home(tmp_path):
    """An empty $HOME (mode 0700); ptool_env() uses <store>/../home by default."""
    return _private_dir(tmp_path / "home")


# --------------------------------------------------------------------------
# CI: skips are failures
# --------------------------------------------------------------------------

_skipped = []


def _record_skip(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid or str(report.fspath))


def pytest_runtest_logreport(report):
    _record_skip(report)


def pytest_collectreport(report):
    _record_skip(report)


def pytest_sessionfinish(session, exitstatus):
    if in_ci() and _skipped and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if in_ci() and _skipped:
        terminalreporter.section("CI=true: skipped tests count as failures", red=True)
        for nodeid in _skipped:
            terminalreporter.line(f"SKIPPED (fails in CI): {nodeid}", red=True)
