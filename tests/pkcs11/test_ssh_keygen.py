"""tpm2-ptool ssh-keygen end to end: one command makes the primary, the token and the key,
writes the .pub, prints what ssh-keygen prints, and ssh logs in with it through our module
(the throw-away sshd of test_ssh.py; the PIN through SSH_ASKPASS)."""

import getpass
import json
import os
import pty
import re
import select
import socket
import stat
import subprocess
import time

import pytest

from p11_common import module_path
from ptool_fixtures import (PTOOL_BIN, assert_no_tpm_leaks, base_env, ptool_env, requires_tool,
                            reset_lockout, run, run_ptool, store_query)
from test_ssh import sshd  # noqa: F401  (sshd is a fixture)

USER_PIN = "kg-user-1"
SO_PIN = "kg-so-1"


def _counts(store):
    db = store / "tpm2_pkcs11.sqlite3"
    return tuple(store_query(store, f"SELECT COUNT(*) FROM {t}")[0][0]
                 for t in ("pobjects", "tokens", "sealobjects", "tobjects")) if db.exists() else None


@pytest.fixture(scope="module")
def made(swtpm_module, tmp_path_factory):
    """The first run on an empty store, unattended (PINs from the environment)."""
    base = tmp_path_factory.mktemp("keygen")
    store = base / "store"
    store.mkdir(mode=0o700)
    env = ptool_env(swtpm_module, store, TPM2_PTOOL_USERPIN=USER_PIN, TPM2_PTOOL_SOPIN=SO_PIN)
    proc = run_ptool(["ssh-keygen", "--key-label", "alice@laptop"], env)
    pub = base / "home" / ".ssh" / "id_tpm_alice@laptop.pub"
    return {"env": env, "store": store, "out": proc.stdout, "pub": pub, "base": base,
            "tcti": swtpm_module.tcti}


def test_writes_one_pub_line_0644(made):
    st = os.stat(made["pub"])
    assert stat.S_IMODE(st.st_mode) == 0o644
    assert stat.S_IMODE(os.stat(made["pub"].parent).st_mode) == 0o700
    line = made["pub"].read_text()
    assert re.fullmatch(r"ecdsa-sha2-nistp256 [A-Za-z0-9+/=]+ alice@laptop\n", line)
    # The same key as the store's: ssh-pubkey prints the same line.
    assert run_ptool(["ssh-pubkey", "--label", "ssh"], made["env"]).stdout == line
    assert _counts(made["store"]) == (1, 1, 1, 2)


def test_prints_fingerprint_and_randomart_as_ssh_keygen(made):
    requires_tool("ssh-keygen")
    lv = run(["ssh-keygen", "-lv", "-f", made["pub"]], env=base_env()).stdout.splitlines()
    # ssh-keygen -lv: "256 SHA256:... comment (ECDSA)", then the 11 lines of the art.
    bits, fp, rest = lv[0].split(" ", 2)
    assert (bits, rest) == ("256", "alice@laptop (ECDSA)")
    out = made["out"].splitlines()
    i = out.index("The key fingerprint is:")
    assert out[i + 1] == f"{fp} alice@laptop"
    assert out[i + 2] == "The key's randomart image is:"
    assert out[i + 3:i + 14] == lv[1:12]
    assert lv[1] == "+---[ECDSA 256]---+" and lv[11] == "+----[SHA256]-----+"
    assert f"Your public key has been saved in {made['pub']}" in out


def test_prints_ssh_config_lines_with_the_module(made):
    out = made["out"]
    provider = [l.split()[1] for l in out.splitlines() if l.startswith("    PKCS11Provider ")]
    assert [os.path.realpath(p) for p in provider] == [os.path.realpath(module_path())]
    assert "    IdentityFile ~/.ssh/id_tpm_alice@laptop.pub\n    IdentitiesOnly yes\n" in out


def test_ssh_login_with_the_written_pub(made, sshd):  # noqa: F811
    requires_tool("ssh")
    sshd["authorized"].write_text(made["pub"].read_text())
    askpass = made["base"] / "askpass.sh"
    askpass.write_text(f"#!/bin/sh\necho '{USER_PIN}'\n")
    askpass.chmod(stat.S_IRWXU)
    env = dict(made["env"], SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
    proc = run(["ssh", "-F", "/dev/null", "-I", module_path(), "-o", "IdentitiesOnly=yes",
                "-i", made["pub"], "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "PasswordAuthentication=no",
                "-p", str(sshd["port"]), f"{getpass.getuser()}@127.0.0.1", "echo", "logged-in"],
               env=env, timeout=60)
    assert proc.stdout.strip() == "logged-in"
    assert_no_tpm_leaks(made["tcti"])


def test_existing_pub_is_not_overwritten_without_yes(made):
    before = made["pub"].read_text()
    proc = run_ptool(["ssh-keygen", "--key-label", "alice@laptop"], made["env"], check=False)
    assert proc.returncode == 2 and "already exists" in proc.stderr and "--yes" in proc.stderr
    assert made["pub"].read_text() == before
    assert _counts(made["store"]) == (1, 1, 1, 2)


def test_second_key_reuses_primary_and_token(made, tmp_path):
    pub = tmp_path / "second.pub"
    run_ptool(["ssh-keygen", "--key-label", "work", "--file", pub], made["env"])
    assert _counts(made["store"]) == (1, 1, 1, 4)
    assert pub.read_text().endswith(" work\n")
    # --yes replaces the file with a new key.
    old = pub.read_text()
    run_ptool(["ssh-keygen", "--key-label", "work", "--file", pub, "--yes"], made["env"])
    assert pub.read_text() != old and _counts(made["store"]) == (1, 1, 1, 6)


def test_wrong_pin_for_existing_token_changes_nothing(made, tmp_path):
    env = dict(made["env"], TPM2_PTOOL_USERPIN="wrong")
    proc = run_ptool(["ssh-keygen", "--key-label", "x", "--file", tmp_path / "x.pub"], env,
                     check=False)
    assert proc.returncode == 3
    assert not (tmp_path / "x.pub").exists()
    reset_lockout(made["tcti"])


@pytest.mark.parametrize("args", [["--algorithm", "aes128"], ["--key-label", "a\nb"],
                                  ["--label", "x" * 32], ["--host", "a#b"]])
def test_bad_options_are_usage_errors_before_anything(swtpm_module, tmp_path, args):
    store = tmp_path / "store"
    env = ptool_env(swtpm_module, store, TPM2_PTOOL_USERPIN=USER_PIN, TPM2_PTOOL_SOPIN=SO_PIN)
    proc = run_ptool(["ssh-keygen", "--file", tmp_path / "k.pub", *args], env, check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("tpm2-ptool: error:")
    assert not store.exists() and not (tmp_path / "k.pub").exists()


def test_unreachable_tpm_creates_no_store(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = tmp_path / "store"
    env = ptool_env(f"swtpm:host=127.0.0.1,port={port}", store, TPM2_PTOOL_USERPIN=USER_PIN,
                    TPM2_PTOOL_SOPIN=SO_PIN)
    proc = run_ptool(["ssh-keygen", "--file", tmp_path / "k.pub"], env, check=False)
    assert proc.returncode == 4
    assert not (store / "tpm2_pkcs11.sqlite3").exists() and not (tmp_path / "k.pub").exists()


def _terminal(args, env, answers, timeout=60):
    """Runs args on a pseudo-terminal; writes each answer after its prompt appears."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(a) for a in args], stdin=slave, stdout=slave, stderr=slave,
                            env=env, start_new_session=True)
    os.close(slave)
    seen = b""
    pending = list(answers)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        while pending and seen.count(pending[0][0].encode()) >= pending[0][2]:
            time.sleep(0.3)  # the prompt is printed just before echo is turned off
            os.write(master, pending[0][1].encode() + b"\n")
            pending.pop(0)
        if proc.poll() is not None and not ready:
            break
    proc.wait(timeout=10)
    os.close(master)
    return proc.returncode, seen.decode(errors="replace")


def test_pins_prompted_twice_and_reasked_on_a_terminal(swtpm_module, tmp_path):
    store = tmp_path / "store"
    env = ptool_env(swtpm_module, store)
    pub = tmp_path / "t.pub"
    # (prompt, answer, how many times the prompt must have appeared before answering)
    answers = [("Enter SO PIN: ", "so-pin", 1), ("Repeat SO PIN: ", "so-pin", 1),
               ("Enter user PIN: ", "one", 1), ("Repeat user PIN: ", "two", 1),
               ("Enter user PIN: ", "pin-2", 2), ("Repeat user PIN: ", "pin-2", 2)]
    rc, out = _terminal([PTOOL_BIN, "ssh-keygen", "--key-label", "tty", "--file", pub], env,
                        answers)
    assert rc == 0, out
    assert "differ. Try again." in out
    assert "so-pin" not in out and "pin-2" not in out  # no echo
    # The PIN that counts is the one given twice alike.
    run_ptool(["verify", "--label", "ssh", "--userpin", "pin-2", "--sopin", "so-pin"], env)
    proc = run_ptool(["verify", "--label", "ssh", "--userpin", "one", "--sopin", "so-pin"], env,
                     check=False)
    assert proc.returncode == 3
    reset_lockout(swtpm_module.tcti)
    # Overwriting asks on a terminal; "n" keeps the file and the store.
    before = pub.read_text()
    rc, out = _terminal([PTOOL_BIN, "ssh-keygen", "--key-label", "tty", "--file", pub],
                        env, [("Overwrite (y/n)? ", "n", 1)])
    assert rc == 1 and "already exists." in out and pub.read_text() == before
    assert _counts(store)[3] == 2


def test_output_json_says_what_the_text_says(made, swtpm, tmp_path):
    import json
    jsonschema = pytest.importorskip("jsonschema")
    from ptool_fixtures import REPO_ROOT
    schema = json.loads((REPO_ROOT / "docs" / "schemas" / "ssh-keygen.schema.json").read_text())
    # An existing token: nothing created but the key and its .pub.
    pub = tmp_path / "json.pub"
    proc = run_ptool(["ssh-keygen", "--key-label", "json", "--file", pub, "--host", "h",
                      "--output", "json"], made["env"])
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
    line = pub.read_text().rstrip("\n")
    fp = run(["ssh-keygen", "-lf", pub], env=base_env()).stdout.split()[1]
    assert doc["created_primary"] is None and doc["created_token"] is False
    assert doc["created_directory"] is None
    assert (doc["token_label"], doc["key_label"], doc["public_key_file"]) == ("ssh", "json",
                                                                             str(pub))
    assert doc["public_key_line"] == line and doc["fingerprint"] == fp
    assert len(doc["randomart"].splitlines()) == 11
    module = doc["ssh_config"]["pkcs11_provider"]
    assert os.path.realpath(module) == os.path.realpath(module_path())
    assert doc["ssh_config"] == {"host": "h", "pkcs11_provider": module,
                                 "identity_file": str(pub), "identities_only": True}
    assert doc["ssh_command"] == f"ssh -I {module} -o IdentitiesOnly=yes -i {pub} HOST"

    # An empty store on a fresh TPM: the primary and the token are made, and named.
    store = tmp_path / "fresh"
    home = tmp_path / "home"
    env = ptool_env(swtpm, store, home=home, TPM2_PTOOL_USERPIN=USER_PIN,
                    TPM2_PTOOL_SOPIN=SO_PIN)
    doc = json.loads(run_ptool(["ssh-keygen", "--key-label", "k", "--output", "json"],
                               env).stdout)
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
    assert doc["created_token"] is True and doc["created_primary"]["id"] == 1
    assert doc["created_primary"]["handle"] == "0x81000001"
    assert doc["created_directory"] == str(home / ".ssh")
    assert doc["public_key_file"] == str(home / ".ssh" / "id_tpm_k.pub")
    assert doc["ssh_config"]["identity_file"] == "~/.ssh/id_tpm_k.pub"
    assert store_query(store, "SELECT COUNT(*) FROM pobjects")[0][0] == 1


def test_empty_store_reuses_the_identical_primary_at_0x81000001(swtpm, tmp_path):
    """As init: a second store on the same TPM takes the primary already there, no copy."""
    def persistent():
        out = run(["tpm2_getcap", "-T", swtpm.tcti, "handles-persistent"], env=base_env())
        return out.stdout.split()

    first = ptool_env(swtpm, tmp_path / "a", home=tmp_path / "ha", TPM2_PTOOL_USERPIN=USER_PIN,
                      TPM2_PTOOL_SOPIN=SO_PIN)
    run_ptool(["ssh-keygen", "--key-label", "a"], first)
    handles = persistent()
    assert handles == ["-", "0x81000001"]
    second = ptool_env(swtpm, tmp_path / "b", home=tmp_path / "hb", TPM2_PTOOL_USERPIN=USER_PIN,
                       TPM2_PTOOL_SOPIN=SO_PIN)
    proc = run_ptool(["ssh-keygen", "--key-label", "b"], second)
    assert "Using the primary object already at persistent handle 0x81000001" in proc.stdout
    assert "Created a primary" not in proc.stdout
    assert persistent() == handles
    pub = tmp_path / "hb" / ".ssh" / "id_tpm_b.pub"
    listed = run([PTOOL_BIN, "ssh-pubkey", "--label", "ssh"], env=second).stdout
    assert pub.read_text().split()[:2] == listed.split()[:2]
    doc = json.loads(run_ptool(["ssh-keygen", "--key-label", "c", "--file", tmp_path / "c.pub",
                                "--output", "json"],
                               ptool_env(swtpm, tmp_path / "c", home=tmp_path / "hc",
                                         TPM2_PTOOL_USERPIN=USER_PIN,
                                         TPM2_PTOOL_SOPIN=SO_PIN)).stdout)
    assert doc["created_primary"] is None and doc["created_token"] is True
