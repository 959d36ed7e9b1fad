"""Small frictions a new user hits: DA lockout counts and doctor --clear-lockout,
TCTI errors without library noise, Ed25519, rmkey/rmtoken asking on a terminal (tmux), the
module's one line when the TPM is down, and permission problems told as such."""

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from ptool_fixtures import (PTOOL_BIN, PTOOL_MODULE, base_env, ptool_env, run, run_ptool,
                            store_query)

SO, USER = "sopin", "userpin"


def _provision(env, keys=("k1",)):
    run_ptool(["init"], env)
    run_ptool(["addtoken", "--pid", "1", "--label", "tok", "--sopin", SO, "--userpin", USER],
              env)
    for key in keys:
        run_ptool(["addkey", "--label", "tok", "--algorithm", "ecc256", "--key-label", key,
                   "--userpin", USER], env)


def _error_lines(proc):
    return proc.stderr.strip().splitlines()


# --------------------------------------------------------------------------
# Dictionary-attack lockout
# --------------------------------------------------------------------------

def test_wrong_pins_count_down_and_doctor_clears_the_lockout(swtpm, store):
    env = ptool_env(swtpm, store)
    _provision(env, keys=())
    run(["tpm2_dictionarylockout", "-T", swtpm.tcti, "-s", "-n", "3", "-t", "1000", "-l",
         "1000"], env=base_env())
    wrong = ["addkey", "--label", "tok", "--algorithm", "ecc256", "--userpin", "nope"]
    hints = []
    for _ in range(3):
        proc = run_ptool(wrong, env, check=False)
        assert proc.returncode == 3, proc.stderr
        hints.append(_error_lines(proc)[-1])
    assert "2 of 3 tries left" in hints[0], hints
    assert "1 of 3 tries left" in hints[1], hints
    assert "locked out after 3 failures" in hints[2] and "within 1000 s" in hints[2], hints
    proc = run_ptool(wrong[:-1] + [USER], env, check=False)  # the right PIN, locked out
    assert proc.returncode == 3 and "doctor --clear-lockout" in proc.stderr, proc.stderr
    doctor = run_ptool(["doctor"], env, check=False).stdout
    assert "doctor --clear-lockout" in doctor and "tpm2_dictionarylockout" not in doctor

    # Through TPM2_PKCS11_TCTI only (tpm2_dictionarylockout's hint ignored it).
    env_only = dict(env)
    del env_only["TPM2TOOLS_TCTI"]
    proc = run_ptool(["doctor", "--clear-lockout"], env_only, input="")  # no terminal: empty
    assert "lockout cleared (0 of 3 failures)" in proc.stderr, proc.stderr
    run_ptool(wrong[:-1] + [USER], env)


# --------------------------------------------------------------------------
# TCTI errors
# --------------------------------------------------------------------------

def test_tcti_errors_are_one_line_naming_the_source(store):
    proc = run_ptool(["--tcti", "foo", "init"], ptool_env("swtpm:port=1", store), check=False)
    assert proc.returncode == 4, proc.stderr
    lines = _error_lines(proc)
    assert len(lines) == 2, proc.stderr
    assert "unknown TCTI 'foo'" in lines[0] and "(from --tcti)" in lines[0], lines
    assert "Functionality not supported" not in proc.stderr

    env = ptool_env("swtpm:host=127.0.0.1,port=1", store)
    del env["TPM2TOOLS_TCTI"]
    proc = run_ptool(["init"], env, check=False)
    assert proc.returncode == 4
    assert "(from TPM2_PKCS11_TCTI)" in _error_lines(proc)[0], proc.stderr

    # No TCTI at all: tctildr probes tabrmd (no D-Bus here: GLib criticals) and devices.
    env = base_env()
    env.update({"HOME": str(store.parent), "TPM2_PKCS11_STORE": str(store),
                "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent",
                "DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent"})
    for var in ("TPM2TOOLS_TCTI", "TPM2_PKCS11_TCTI", "TCTI", "TSS2_LOG", "TPM2_PTOOL_LOG"):
        env.pop(var, None)
    proc = run_ptool(["init"], env, check=False)
    assert proc.returncode == 4, proc.stderr
    assert "CRITICAL" not in proc.stderr and "ERROR:" not in proc.stderr, proc.stderr
    assert len(_error_lines(proc)) == 2 and "the default TCTI" in proc.stderr, proc.stderr
    assert not store.exists() or list(store.iterdir()) == []


# --------------------------------------------------------------------------
# Ed25519
# --------------------------------------------------------------------------

def test_ed25519_says_tpms_do_not_and_names_ecc256(store):
    proc = run_ptool(["addkey", "--label", "tok", "--algorithm", "ed25519", "--userpin", USER],
                     ptool_env("swtpm:port=1", store), check=False)
    # argparse's usage error (exit 2, as upstream), with the reason and the way out.
    assert proc.returncode == 2, proc.stderr
    assert "TPMs do not do Ed25519" in proc.stderr
    assert "--algorithm ecc256" in proc.stderr and "tpm2-ptool doctor" in proc.stderr
    assert "tpm2_getcap" not in proc.stderr
    proc = run_ptool(["addkey", "--label", "tok", "--algorithm", "dsa", "--userpin", USER],
                     ptool_env("swtpm:port=1", store), check=False)
    assert proc.returncode == 2 and "tpm2-ptool doctor" in proc.stderr


# --------------------------------------------------------------------------
# rmkey / rmtoken ask on a terminal (tmux), not in scripts
# --------------------------------------------------------------------------

class _Tmux:
    def __init__(self, tmp_path, env, args):
        self.socket = f"h16b-{os.getpid()}-{time.monotonic_ns()}"
        script = tmp_path / f"{self.socket}.sh"
        exports = "".join(f"export {k}='{v}'\n" for k, v in env.items() if "'" not in v)
        cmd = " ".join(f"'{a}'" for a in [PTOOL_BIN, *args])
        script.write_text(f"{exports}{cmd}\necho \"EXIT=$?\"\nsleep 60\n")
        run(["tmux", "-L", self.socket, "new-session", "-d", "-x", "200", "-y", "40",
             f"sh {script}"])

    def screen(self):
        return run(["tmux", "-L", self.socket, "capture-pane", "-p", "-J"]).stdout

    def wait_for(self, text, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never appeared:\n{self.screen()}")

    def send(self, keys):
        run(["tmux", "-L", self.socket, "send-keys", *([keys] if keys else []), "Enter"])

    def close(self):
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def _in_tmux(tmp_path, env, args, answer=None):
    t = _Tmux(tmp_path, env, args)
    try:
        if answer is not None:
            t.wait_for("[y/N]")
            t.send(answer)
        return t.wait_for("EXIT=")
    finally:
        t.close()


def _keys(store):
    return [r[0] for r in store_query(store, "SELECT id FROM tobjects")]


def test_rmkey_and_rmtoken_ask_on_a_terminal(swtpm, store, tmp_path):
    env = ptool_env(swtpm, store)
    _provision(env, keys=("k1", "k2"))
    before = _keys(store)
    screen = _in_tmux(tmp_path, env, ["rmkey", "--label", "tok", "--key-label", "k1"], "n")
    assert 'delete key "k1"' in screen and "nothing changed" in screen and "EXIT=0" in screen
    assert _keys(store) == before
    screen = _in_tmux(tmp_path, env, ["rmkey", "--label", "tok", "--key-label", "k1"], "y")
    assert "action: remove" in screen and "EXIT=0" in screen, screen
    assert len(_keys(store)) == len(before) - 2
    screen = _in_tmux(tmp_path, env, ["rmtoken", "--label", "tok"], "")  # Enter means no
    assert 'delete token "tok" with its 2 objects' in screen and "nothing changed" in screen
    assert store_query(store, "SELECT count(*) FROM tokens") == [(1,)]
    screen = _in_tmux(tmp_path, env, ["rmtoken", "--label", "tok", "--yes"])
    assert "[y/N]" not in screen and "EXIT=0" in screen, screen
    assert store_query(store, "SELECT count(*) FROM tokens") == [(0,)]


# --------------------------------------------------------------------------
# The module says why when the TPM is down
# --------------------------------------------------------------------------

def test_module_logs_one_line_when_the_tpm_is_unreachable(swtpm, store):
    env = ptool_env(swtpm, store)
    _provision(env)
    down = ptool_env("swtpm:host=127.0.0.1,port=1", store)
    down.pop("TPM2_PTOOL_LOG", None)
    proc = run(["pkcs11-tool", "--module", PTOOL_MODULE, "--token-label", "tok", "--login",
                "--pin", USER, "--list-objects"], env=down, check=False)
    assert proc.returncode != 0
    ours = [ln for ln in proc.stderr.splitlines() if ln.startswith("tpm2-ptool-pkcs11")]
    assert len(ours) == 1, proc.stderr
    assert ours[0].startswith("tpm2-ptool-pkcs11 error: cannot reach the TPM") and \
        "swtpm:host=127.0.0.1,port=1" in ours[0], proc.stderr
    down["TPM2_PTOOL_LOG"] = "off"
    proc = run(["pkcs11-tool", "--module", PTOOL_MODULE, "--token-label", "tok", "--login",
                "--pin", USER, "--list-objects"], env=down, check=False)
    assert "tpm2-ptool-pkcs11" not in proc.stderr


# --------------------------------------------------------------------------
# Permission problems are not a missing store
# --------------------------------------------------------------------------

OTHER_USER = "ptool-h16b"


@pytest.fixture(scope="module")
def other_user():
    created = False
    try:
        pwd.getpwnam(OTHER_USER)
    except KeyError:
        run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             OTHER_USER])
        created = True
    # A world-searchable base (pytest's own tmp dirs are 0700 root).
    base = Path(tempfile.mkdtemp(prefix="ptool-perm-", dir="/tmp"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)
        if created:
            subprocess.run(["userdel", OTHER_USER], capture_output=True)


def _as_other(args, store):
    env = base_env()
    env.update({"HOME": "/nonexistent", "TPM2_PKCS11_STORE": str(store),
                "TPM2_PKCS11_TCTI": "swtpm:host=127.0.0.1,port=1"})
    return run(["runuser", "-u", OTHER_USER, "--", PTOOL_BIN, *args], env=env, check=False)


def test_permission_denied_names_the_owner(swtpm, other_user):
    store = other_user / "store"
    env = ptool_env(swtpm, store, home=other_user / "home")
    _provision(env, keys=())
    store.chmod(0o700)
    proc = _as_other(["listtokens", "--pid", "1"], store)
    assert proc.returncode == 1, proc.stderr
    first, hint = _error_lines(proc)
    assert "permission denied" in first and "the store of root" in first, proc.stderr
    assert "run tpm2-ptool as root" in hint and "--path" in hint, proc.stderr
    assert "no store at" not in proc.stderr
    doctor = _as_other(["doctor"], store)
    assert doctor.returncode == 1, doctor.stdout
    assert "permission denied" in doctor.stdout and "no tpm2_pkcs11.sqlite3" not in doctor.stdout

    # A readable directory with a database only its owner may read.
    store.chmod(0o755)
    (store / "tpm2_pkcs11.sqlite3").chmod(0o600)
    proc = _as_other(["listtokens", "--pid", "1"], store)
    assert proc.returncode == 1, proc.stderr
    assert "permission denied: cannot open " + str(store / "tpm2_pkcs11.sqlite3") in proc.stderr
    assert "unable to open database file" not in proc.stderr
    assert yaml.safe_load(run_ptool(["listtokens", "--pid", "1"], env).stdout)
