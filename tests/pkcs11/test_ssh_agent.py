"""OpenSSH through ssh-agent: `ssh-add -s` loads our module into a private agent
(PIN through SSH_ASKPASS), and `ssh` logs into the throw-away sshd of
test_ssh.py with the agent's keys only (no -I)."""

import getpass
import stat
import time

import pytest

from p11_common import USER_PIN, module_path, provision
from ptool_fixtures import _Daemon, assert_no_tpm_leaks, requires_tool, run
from test_ssh import _authorize, sshd  # noqa: F401  (sshd is a fixture)


@pytest.fixture(scope="module")
def token(swtpm_module, tmp_path_factory):
    for tool in ("ssh", "ssh-agent", "ssh-add"):
        requires_tool(tool)
    base = tmp_path_factory.mktemp("agent")
    store = base / "store"
    store.mkdir(mode=0o700)
    tok = provision(swtpm_module.tcti, store)
    tok.update(dir=base, tcti=swtpm_module.tcti)
    return tok


@pytest.fixture
def agent(token, tmp_path):
    """A foreground ssh-agent on a private socket; the module may live anywhere (-P)."""
    sock = tmp_path / "agent.sock"
    daemon = _Daemon(["ssh-agent", "-D", "-a", sock, "-P", module_path()],
                     tmp_path / "agent.log", env=token["env"])
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            if not daemon.alive() or time.monotonic() > deadline:
                pytest.fail(f"ssh-agent did not start:\n{daemon.log()}")
            time.sleep(0.02)
        askpass = tmp_path / "askpass.sh"
        askpass.write_text(f"#!/bin/sh\necho '{USER_PIN}'\n")
        askpass.chmod(stat.S_IRWXU)
        env = dict(token["env"], SSH_AUTH_SOCK=str(sock), SSH_ASKPASS=str(askpass),
                   SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
        yield env
        # Without a resource manager, objects of a killed helper would stay on the TPM:
        # `ssh-add -e` makes the agent's ssh-pkcs11-helper C_Finalize the module first.
        run(["ssh-add", "-e", module_path()], env=env, check=False)
    finally:
        daemon.stop()


def _ssh_via_agent(sshd, env, check=True):
    return run(["ssh", "-F", "/dev/null", "-o", "IdentitiesOnly=no", "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no",
                "-p", str(sshd["port"]), f"{getpass.getuser()}@127.0.0.1", "echo", "logged-in"],
               env=env, check=check, timeout=60)


def test_ssh_add_lists_the_module_keys(token, agent):
    run(["ssh-add", "-s", module_path()], env=agent)
    listed = run(["ssh-add", "-L"], env=agent).stdout
    labels = sorted(line.split()[2] for line in listed.splitlines())
    assert labels == sorted(token["ids"])


@pytest.mark.parametrize("key_label", ["k256", "k384", "krsa"])
def test_ssh_login_through_agent(token, agent, sshd, key_label):  # noqa: F811
    _authorize(sshd, token, key_label)
    run(["ssh-add", "-s", module_path()], env=agent)
    proc = _ssh_via_agent(sshd, agent)
    assert proc.stdout.strip() == "logged-in"


def test_ssh_without_agent_keys_is_refused(token, agent, sshd):  # noqa: F811
    # The login above must come from the agent: an empty agent cannot log in.
    _authorize(sshd, token, "k256")
    proc = _ssh_via_agent(sshd, agent, check=False)
    assert proc.returncode != 0
    assert "Permission denied (publickey)" in proc.stderr, proc.stderr


def test_card_removed_leaves_no_tpm_objects(token, agent, sshd):  # noqa: F811
    _authorize(sshd, token, "krsa")
    run(["ssh-add", "-s", module_path()], env=agent)
    assert _ssh_via_agent(sshd, agent).stdout.strip() == "logged-in"
    run(["ssh-add", "-e", module_path()], env=agent)
    assert run(["ssh-add", "-L"], env=agent, check=False).returncode == 1  # no identities
    assert_no_tpm_leaks(token["tcti"])
