"""OpenSSH with our module: ssh-keygen -D and a real login against a private sshd.

sshd runs on 127.0.0.1 on a free port with a throw-away config and host key;
authorized_keys is written from `tpm2-ptool ssh-pubkey`.  Keys come from our
tpm2-ptool on swtpm (direct TCTI).
"""

import getpass
import os
import shlex
import socket
import stat
import time

import pytest

from p11_common import USER_PIN, module_path, provision
from ptool_fixtures import (_Daemon, assert_no_tpm_leaks, requires_tool, reset_lockout, run,
                            run_ptool)

SSHD = "/usr/sbin/sshd"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tokens(swtpm_module, tmp_path_factory):
    for tool in ("ssh", "ssh-keygen", SSHD):
        requires_tool(tool)
    base = tmp_path_factory.mktemp("ssh")
    out = {}
    for name, pin, keys in (("tok", USER_PIN, (("ecc256", "k256"), ("ecc384", "k384"),
                                                ("rsa2048", "krsa"))),
                            ("open", "", (("ecc256", "kopen"),))):
        store = base / f"store-{name}"
        store.mkdir(mode=0o700)
        token = provision(swtpm_module.tcti, store, token=name, userpin=pin, keys=keys)
        token.update(dir=base, tcti=swtpm_module.tcti)
        out[name] = token
    return out


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    requires_tool(SSHD)
    d = tmp_path_factory.mktemp("sshd")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # Debian's privilege-separation dir
    host_key = d / "host_ed25519"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", host_key])
    authorized = d / "authorized_keys"
    authorized.write_text("")
    (d / "user_ca.pub").write_text("")  # test_attest_ssh_ca.py puts its SSH CA here
    port = _free_port()
    config = d / "sshd_config"
    config.write_text(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {d / 'sshd.pid'}
AuthorizedKeysFile {authorized}
TrustedUserCAKeys {d / 'user_ca.pub'}
StrictModes no
UsePAM no
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
LogLevel VERBOSE
""")
    daemon = _Daemon([SSHD, "-D", "-e", "-f", config], d / "sshd.log")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if not daemon.alive():
                pytest.fail(f"sshd exited:\n{daemon.log()}")
            time.sleep(0.05)
    else:
        daemon.stop()
        pytest.fail(f"sshd did not listen:\n{daemon.log()}")
    yield {"port": port, "authorized": authorized, "daemon": daemon, "dir": d}
    daemon.stop()


def _ssh(sshd, env, check=True):
    return run(["ssh", "-F", "/dev/null", "-I", module_path(), "-o", "BatchMode=no",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no",
                "-p", str(sshd["port"]), f"{getpass.getuser()}@127.0.0.1", "echo", "logged-in"],
               env=env, check=check, timeout=60)


def _authorize(sshd, token, key_label):
    line = run_ptool(["ssh-pubkey", "--label", token["token"], "--key-label", key_label],
                     token["env"]).stdout
    assert line.count("\n") == 1
    sshd["authorized"].write_text(line)


@pytest.mark.parametrize("name", ["tok", "open"])
def test_ssh_keygen_matches_ssh_pubkey(tokens, name):
    token = tokens[name]
    ours = run_ptool(["ssh-pubkey", "--label", token["token"]], token["env"]).stdout
    via_module = run(["ssh-keygen", "-D", module_path()], env=token["env"]).stdout
    assert via_module == ours
    assert len(ours.splitlines()) == len(token["ids"])


def test_ssh_login_with_empty_pin_token(tokens, sshd):
    token = tokens["open"]
    _authorize(sshd, token, "kopen")
    proc = _ssh(sshd, token["env"])
    assert proc.stdout.strip() == "logged-in"
    assert_no_tpm_leaks(token["tcti"])


def test_ssh_refused_for_unauthorized_key(tokens, sshd):
    # The login above must depend on authorized_keys: with another key it fails.
    _authorize(sshd, tokens["tok"], "k256")
    proc = _ssh(sshd, tokens["open"]["env"], check=False)
    assert proc.returncode != 0
    assert "Permission denied (publickey)" in proc.stderr, proc.stderr


@pytest.mark.parametrize("key_label", ["k256", "k384", "krsa"])
def test_ssh_login_with_pin_from_askpass(tokens, sshd, key_label):
    token = tokens["tok"]
    _authorize(sshd, token, key_label)
    askpass = sshd["dir"] / "askpass.sh"
    askpass.write_text(f"#!/bin/sh\necho '{USER_PIN}'\n")
    askpass.chmod(stat.S_IRWXU)
    env = dict(token["env"], SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force",
               DISPLAY=":0")
    proc = _ssh(sshd, env)
    assert proc.stdout.strip() == "logged-in"
    assert_no_tpm_leaks(token["tcti"])


def test_ssh_login_fails_with_wrong_pin_from_askpass(tokens, sshd):
    token = tokens["tok"]
    _authorize(sshd, token, "k256")
    askpass = sshd["dir"] / "askpass-wrong.sh"
    askpass.write_text("#!/bin/sh\necho 'not-the-pin'\n")
    askpass.chmod(stat.S_IRWXU)
    env = dict(token["env"], SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force",
               DISPLAY=":0")
    try:
        proc = _ssh(sshd, env, check=False)
        assert proc.returncode != 0
        assert "Permission denied (publickey)" in proc.stderr, proc.stderr
    finally:
        reset_lockout(token["tcti"])


def test_ssh_config_logs_in_with_the_second_of_three_keys(tokens, sshd, tmp_path):
    """ssh-config --label with three keys: one IdentityFile per key, so the second works."""
    token = tokens["tok"]
    out = run_ptool(["ssh-config", "--host", "127.0.0.1", "--label", token["token"],
                     "--module", module_path()], token["env"]).stdout
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    # Write each file with the command the block's comment shows.
    for line in out.splitlines():
        if line.strip().startswith("#   tpm2-ptool ssh-pubkey "):
            command, target = line.strip()[4:].split(" > ")
            assert target.startswith("~/")
            (home / target[2:]).write_text(
                run_ptool(shlex.split(command)[1:], token["env"]).stdout)
    files = [line.split()[1] for line in out.splitlines() if line.strip().startswith("IdentityFile")]
    assert len(files) == 3 and len(set(files)) == 3
    assert all(len((home / f[2:]).read_text().splitlines()) == 1 for f in files)
    config = tmp_path / "ssh_config"
    config.write_text(out.replace("~/", f"{home}/") + "    StrictHostKeyChecking no\n"
                      "    UserKnownHostsFile /dev/null\n    PasswordAuthentication no\n"
                      "    KbdInteractiveAuthentication no\n")
    _authorize(sshd, token, "k384")
    askpass = tmp_path / "askpass.sh"
    askpass.write_text(f"#!/bin/sh\necho '{USER_PIN}'\n")
    askpass.chmod(stat.S_IRWXU)
    env = dict(token["env"], SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force",
               DISPLAY=":0")
    proc = run(["ssh", "-F", config, "-p", str(sshd["port"]), f"{getpass.getuser()}@127.0.0.1",
                "echo", "logged-in"], env=env, timeout=60)
    assert proc.stdout.strip() == "logged-in"
    assert_no_tpm_leaks(token["tcti"])
