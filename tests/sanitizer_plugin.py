"""The sanitizer passes of scripts/test: any report fails the run.

Off unless ``PTOOL_SANITIZER`` is ``asan`` (PTOOL_BIN/PTOOL_MODULE from a
-DPTOOL_ENABLE_ASAN_UBSAN=ON build) or ``tsan`` (the stress test against a
-DPTOOL_ENABLE_TSAN=ON module).  Then every child gets sanitizer options that
write reports to files under ``$PTOOL_SANITIZER_LOG_DIR/pytest-<pid>/`` and
exit with 86 (documented exit codes are 0-6, so a test that expects e.g. exit 3
still sees a difference).  A test that only checks ``returncode != 0`` would
pass on a crash, so after every test (setup and teardown included) the plugin
marks it failed if a new report file appeared or a direct child exited with 86
(GCC 12's UBSan ignores log_path and only writes to stderr, so for UBSan the
exit status is the signal); whatever appears after the last test fails the
session.

ASan only: our module in a host that is not instrumented (pkcs11-tool, ssh,
ssh-agent -> ssh-pkcs11-helper, ssh-keygen, python) needs libasan first in the
process, so every child whose argv names ``PTOOL_MODULE`` gets ``LD_PRELOAD``
of GCC's libasan + libubsan and ``detect_leaks=0``: LeakSanitizer would report
the host's own never-freed startup allocations, which are not ours to fix.
Errors (overflows, use-after-free, UB) stay fatal there.  Nothing else (sshd,
swtpm, tpm2-tools, the upstream tool) gets the preload.  The pytest process
itself loads the module through ctypes (test_module_api.py), so scripts/test
starts it with the preload; it is removed from ``os.environ`` here so that
children do not inherit it.
"""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

MODE = os.environ.get("PTOOL_SANITIZER", "").strip().lower()
EXIT_CODE = 86
SSH_PKCS11_HELPER = "/usr/lib/openssh/ssh-pkcs11-helper"
TSAN_SUPPRESSIONS = Path(__file__).resolve().parent / "stress" / "tsan.supp"

_state = {"dir": None, "seen": set(), "late": [], "exits": [], "preload": "", "host_asan": ""}


def _preload_libs():
    libs = []
    for name in ("libasan.so", "libubsan.so"):
        out = subprocess.run(["gcc", f"-print-file-name={name}"], capture_output=True,
                             text=True).stdout.strip()
        if not os.path.isabs(out):
            raise pytest.UsageError(f"PTOOL_SANITIZER=asan: gcc does not know {name}")
        libs.append(out)
    return " ".join(libs)


def _helper_wrapper(path):
    """ssh-agent is setgid (_ssh): the loader drops LD_PRELOAD for it and its children, so
    ssh-pkcs11-helper, which loads the module, gets the preload back through this wrapper
    ($SSH_PKCS11_HELPER is honoured by ssh and ssh-agent)."""
    path.write_text("#!/bin/sh\n"
                    f"LD_PRELOAD='{_state['preload']}' exec {SSH_PKCS11_HELPER} \"$@\"\n")
    path.chmod(0o755)
    return path


def _module_paths():
    from ptool_fixtures import PTOOL_MODULE
    paths = {PTOOL_MODULE}
    try:
        paths.add(str(Path(PTOOL_MODULE).resolve()))
    except OSError:
        pass
    return paths


def _ours(program):
    """True for our instrumented programs (e.g. tests/stress/p11_sign_stress): no preload,
    and LeakSanitizer stays on."""
    build = os.environ.get("PTOOL_BUILD_DIR")
    try:
        return bool(build) and Path(program).resolve().is_relative_to(Path(build).resolve())
    except (OSError, TypeError):
        return False


def _hosts_module(argv):
    """Whether the child loads our module: named in argv, or by the ssh config file that
    `ssh -F FILE` reads (PKCS11Provider in an ssh-config block)."""
    if any(str(x) in _MODULES for x in argv):
        return True
    if not argv or os.path.basename(str(argv[0])) != "ssh":
        return False  # `stty -F /dev/pts/N` names a terminal: reading it would block
    for flag, value in zip(argv, argv[1:]):
        if str(flag) == "-F":
            try:
                if not Path(value).is_file():
                    continue
                text = Path(value).read_text(errors="replace")
            except (OSError, TypeError, ValueError):
                continue
            if any(m in text for m in _MODULES):
                return True
    return False


class _SanitizedPopen(subprocess.Popen):
    """Popen that gives every child the sanitizer options (and module hosts the preload)."""

    def __init__(self, args, *a, **kw):
        env = kw.get("env")
        env = dict(os.environ if env is None else env)
        # A child the test runs with detect_leaks=0 (upstream's module in an instrumented
        # case program, p11_common.side_by_side) keeps it: upstream's leaks are not ours.
        no_leaks = "detect_leaks=0" in env.get("ASAN_OPTIONS", "").split(":")
        for key in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"):
            if key in os.environ:
                env[key] = os.environ[key]
        if no_leaks and "ASAN_OPTIONS" in env:
            env["ASAN_OPTIONS"] += ":detect_leaks=0"
        argv = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args)
        if MODE == "asan" and not _ours(argv[0]) and _hosts_module(argv):
            env["LD_PRELOAD"] = _state["preload"]
            env["ASAN_OPTIONS"] = _state["host_asan"]
            env["SSH_PKCS11_HELPER"] = str(_state["helper"])
        kw["env"] = env
        super().__init__(args, *a, **kw)

    def _handle_exitstatus(self, *a, **kw):
        # GCC 12's UBSan ignores log_path (it writes to stderr only): the exit code is what
        # gives it away, whatever the test expected.
        super()._handle_exitstatus(*a, **kw)
        if self.returncode == EXIT_CODE:
            _state["exits"].append(f"exit status {EXIT_CODE} (a sanitizer report, see the "
                                   f"test's stderr for UBSan): {self.args}")


_MODULES = set()


def pytest_configure(config):
    """Set the options and patch subprocess before any test or fixture runs."""
    config.addinivalue_line("markers", "no_asan(reason): not run in the ASan pass (listed, "
                            "with the reason, in docs/reliability.md)")
    if not MODE:
        return
    if MODE not in ("asan", "tsan"):
        raise pytest.UsageError(f"PTOOL_SANITIZER={MODE!r}: expected asan or tsan")
    root = os.environ.get("PTOOL_SANITIZER_LOG_DIR")
    if not root:
        raise pytest.UsageError("PTOOL_SANITIZER needs PTOOL_SANITIZER_LOG_DIR")
    log_dir = Path(root) / f"pytest-{os.getpid()}"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_dir.chmod(0o1777)  # test_secrets.py runs our CLI as nobody
    _state["dir"] = log_dir
    common = f"exitcode={EXIT_CODE}:log_path={log_dir}/report"
    if MODE == "asan":
        _state["preload"] = os.environ.pop("LD_PRELOAD", "") or _preload_libs()
        os.environ["ASAN_OPTIONS"] = f"detect_leaks=1:halt_on_error=1:{common}"
        _state["host_asan"] = f"detect_leaks=0:halt_on_error=1:{common}"
        os.environ["UBSAN_OPTIONS"] = f"halt_on_error=1:print_stacktrace=1:{common}"
        _MODULES.update(_module_paths())
        _state["helper"] = _helper_wrapper(
            Path(tempfile.mkdtemp(prefix="ptool-asan-")) / "ssh-pkcs11-helper")
    else:
        os.environ["TSAN_OPTIONS"] = (f"halt_on_error=1:second_deadlock_stack=1:{common}:"
                                      f"suppressions={TSAN_SUPPRESSIONS}")
    subprocess.Popen = _SanitizedPopen


def pytest_collection_modifyitems(config, items):
    if MODE != "asan":
        return
    kept = [i for i in items if not i.get_closest_marker("no_asan")]
    deselected = [i for i in items if i.get_closest_marker("no_asan")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
        # A file that is excluded as a whole (test_heap_secrets.py) passes, not "no tests".
        _state["all_deselected"] = not kept


def _killed_during_leak_check(path):
    """True for the lines LeakSanitizer's tracer writes (one per thread it could not stop; a
    process on the tabrmd TCTI has GLib's threads too) when the process it stops is SIGKILLed
    during the exit-time leak check (test_crash_safety.py and test_full_tpm.py kill on
    purpose). Such a file is moved aside (*.killed) so that scripts/test-sanitizers' final
    check ignores it."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return False
    if re.fullmatch(r"(?:==\d+==Unable to get registers from thread \d+\.\n)+", text):
        path.rename(path.parent.parent / f"{path.name}.killed")
        _state["killed"] = _state.get("killed", 0) + 1
        return True
    return False


def _new_reports():
    """Report files and sanitizer exit statuses since the last call."""
    log_dir = _state["dir"]
    if log_dir is None:
        return []
    new = sorted(p for p in log_dir.iterdir() if p.is_file() and p not in _state["seen"])
    _state["seen"].update(new)
    new = [p for p in new if not _killed_during_leak_check(p)]
    exits, _state["exits"] = _state["exits"], []
    _state["exit_count"] = _state.get("exit_count", 0) + len(exits)
    return exits + new


def _describe(paths):
    parts = []
    for p in paths:
        if isinstance(p, str):
            parts.append(p)
            continue
        try:
            text = p.read_text(errors="replace")
        except OSError as exc:
            text = str(exc)
        parts.append(f"--- {p} ---\n{text}")
    return "sanitizer report(s):\n" + "\n".join(parts)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    new = _new_reports()
    if new:
        report.outcome = "failed"
        report.longrepr = _describe(new)


def pytest_sessionfinish(session, exitstatus):
    if _state.get("all_deselected") and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.OK
    if _state.get("helper"):
        shutil.rmtree(_state["helper"].parent, ignore_errors=True)
    late = _new_reports()
    if late:
        _state["late"] = late
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if MODE:
        terminalreporter.section(f"PTOOL_SANITIZER={MODE}")
        terminalreporter.line(f"reports in {_state['dir']}: {len(_state['seen'])}, "
                              f"exit status {EXIT_CODE}: {_state.get('exit_count', 0)}, "
                              f"leak checks cut short by SIGKILL: {_state.get('killed', 0)}")
    if _state["late"]:
        terminalreporter.section("sanitizer reports after the last test", red=True)
        terminalreporter.line(_describe(_state["late"]), red=True)
