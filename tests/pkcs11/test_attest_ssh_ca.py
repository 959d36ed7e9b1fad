"""An SSH CA that signs only TPM-attested keys: attest verify, ssh-keygen -s, then a login
with the certificate and the TPM key through our module against an sshd with
TrustedUserCAKeys (and no authorized_keys)."""

import getpass
import json

import pytest

from p11_common import USER_PIN, module_path, provision
from ptool_fixtures import Swtpm, requires_tool, run, run_ptool
from test_ssh import sshd  # noqa: F401  (the shared sshd fixture)

NONCE = "a1" * 16


@pytest.fixture(scope="module")
def ektpm():
    tpm = Swtpm(ek_certs=True)
    yield tpm
    tpm.stop()


def _doc(proc, path):
    path.write_text(proc.stdout)
    return path


def test_ssh_ca_signs_only_after_attestation(ektpm, sshd, tmp_path):  # noqa: F811
    for tool in ("ssh", "ssh-keygen"):
        requires_tool(tool)
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    token = provision(ektpm.tcti, store, keys=(("ecc256", "laptop"),))
    env = token["env"]
    roots = tmp_path / "roots.pem"
    roots.write_text(ektpm.ek_ca_root.read_text() + ektpm.ek_ca_issuer.read_text())

    # Enrollment (device <-> CA), then one key attestation.
    enroll = _doc(run_ptool(["attest", "enroll"], env), tmp_path / "enroll.json")
    state = tmp_path / "ca.state"
    chal = _doc(run_ptool(["attest", "challenge", "--ek-ca", roots, "--state", state, enroll],
                          env), tmp_path / "challenge.json")
    resp = _doc(run_ptool(["attest", "activate", chal], env), tmp_path / "response.json")
    record = _doc(run_ptool(["attest", "accept", "--state", state, resp], env),
                  tmp_path / "device.json")
    key = _doc(run_ptool(["attest", "key", "--label", token["token"], "--key-label", "laptop",
                          "--nonce", NONCE, "--userpin", USER_PIN], env), tmp_path / "key.json")
    verdict = run_ptool(["attest", "verify", "--device", record, "--nonce", NONCE, key],
                        env).stdout.splitlines()
    assert verdict[1].startswith("OK:")

    # The CA signs exactly the verified key.
    ca = tmp_path / "user_ca"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", ca])
    pub = tmp_path / "laptop.pub"
    pub.write_text(verdict[0] + "\n")
    user = getpass.getuser()
    run(["ssh-keygen", "-q", "-s", ca, "-I", "user", "-n", user, pub])
    cert = tmp_path / "laptop-cert.pub"
    assert json.loads(key.read_text())["ssh_public_key"] == verdict[0]
    sshd["authorized"].write_text("")  # only the CA can let us in
    (sshd["dir"] / "user_ca.pub").write_text((tmp_path / "user_ca.pub").read_text())
    try:
        askpass = tmp_path / "askpass.sh"
        askpass.write_text(f"#!/bin/sh\necho '{USER_PIN}'\n")
        askpass.chmod(0o700)
        login_env = dict(env, SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force",
                         DISPLAY=":0")
        args = ["ssh", "-F", "/dev/null", "-I", module_path(), "-o", "BatchMode=no",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no",
                "-p", str(sshd["port"]), f"{user}@127.0.0.1", "echo", "logged-in"]
        # Without the certificate the TPM key alone is not authorized ...
        assert run(args, env=login_env, check=False, timeout=60).returncode != 0
        # ... with it, it logs in.
        proc = run(args[:1] + ["-o", f"CertificateFile={cert}"] + args[1:], env=login_env,
                   timeout=60)
        assert proc.stdout.strip() == "logged-in"
        assert 'Accepted certificate ID "user"' in sshd["daemon"].log()
    finally:
        (sshd["dir"] / "user_ca.pub").write_text("")
