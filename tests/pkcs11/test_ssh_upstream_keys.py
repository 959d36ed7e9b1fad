"""`ssh -I` with keys our module did not create itself: keys made by the upstream
Python tpm2_ptool (store provisioned through tpm2-abrmd) and an RSA key imported with
our `tpm2-ptool import`.

The module reaches the TPM through abrmd (TPM2_PKCS11_TCTI=tabrmd:..., as ptool_env
sets it) and, since abrmd does not monopolise the swtpm socket, through the direct
swtpm TCTI as well; both are exercised.
"""

import stat

import pytest

from p11_common import USER_PIN, provision
from ptool_fixtures import requires_tool, run, run_ptool
from test_ssh import _authorize, _ssh, sshd  # noqa: F401  (sshd is a fixture)


@pytest.fixture(scope="module")
def upstream(abrmd_module, tmp_path_factory):
    for tool in ("ssh", "openssl", "tpm2_ptool"):
        requires_tool(tool)
    base = tmp_path_factory.mktemp("upstream-ssh")
    store = base / "store"
    store.mkdir(mode=0o700)
    token = provision(abrmd_module, store, token="up", upstream=True)
    assert token["env"]["TPM2_PKCS11_TCTI"].startswith("tabrmd:")
    # One more key, imported by our tool into the upstream-made token.
    pem = base / "imported.pem"
    run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
         "-out", pem])
    run_ptool(["import", "--label", "up", "--privkey", str(pem), "--key-label", "kimp",
               "--userpin", USER_PIN], token["env"])
    askpass = base / "askpass.sh"
    askpass.write_text(f"#!/bin/sh\necho '{USER_PIN}'\n")
    askpass.chmod(stat.S_IRWXU)
    token.update(dir=base, askpass=askpass)
    return token


@pytest.mark.parametrize("tcti", ["abrmd", "swtpm"])
@pytest.mark.parametrize("key_label", ["k256", "k384", "krsa", "kimp"])
def test_ssh_login_with_upstream_and_imported_keys(upstream, abrmd_module, sshd,  # noqa: F811
                                                   key_label, tcti):
    _authorize(sshd, upstream, key_label)
    env = dict(upstream["env"], SSH_ASKPASS=str(upstream["askpass"]),
               SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
    if tcti == "swtpm":
        env["TPM2_PKCS11_TCTI"] = abrmd_module.swtpm.tcti
    proc = _ssh(sshd, env)
    assert proc.stdout.strip() == "logged-in"


def test_imported_key_is_the_pem_key(upstream):
    # ssh-pubkey of the imported key is the public half of the openssl-made PEM.
    ours = run_ptool(["ssh-pubkey", "--label", "up", "--key-label", "kimp"],
                     upstream["env"]).stdout.split()[:2]
    from_pem = run(["ssh-keygen", "-y", "-f", upstream["dir"] / "imported.pem"]).stdout.split()
    assert ours == from_pem[:2]
