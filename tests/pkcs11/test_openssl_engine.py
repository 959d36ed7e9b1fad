"""OpenSSL's pkcs11 engine (libp11) with our module and with upstream's, each on its own copy
of one store: public keys read through the engine by PKCS#11 URI (ours without reaching the
TPM), and signatures made in the token verified by `openssl dgst -engine pkcs11`.

Private-key operations through the engine are not here: with Debian 12's libp11 0.4.12 and
OpenSSL 3.0 the engine becomes the process's default RSA/EC implementation, and tpm2-tss then
cannot salt the TPM session, so C_Login fails in both modules (docs/reliability.md, "Real
PKCS#11 clients"; test_tls.py covers TLS with the token key through GnuTLS)."""

import pytest

from p11_clients import engine_config, exported_public_pem, sides, spki_der
from p11_common import KEYS, USER_PIN, pkcs11_tool, provision
from ptool_fixtures import assert_no_tpm_leaks, requires_tool

MESSAGE = b"signed in the token, verified through the engine\n"


@pytest.fixture(scope="module")
def token(swtpm_module, tmp_path_factory):
    requires_tool("openssl")
    base = tmp_path_factory.mktemp("engine")
    store = base / "store"
    store.mkdir(mode=0o700)
    token = provision(swtpm_module.tcti, store)
    token.update(tcti=swtpm_module.tcti, dir=base, sides=sides(token, base / "sides"))
    for side in token["sides"].values():
        side.engine_env = engine_config(side)
    return token


def _openssl(side, *args, check=True, env_extra=None):
    return side.run(["openssl", *args], check=check,
                    env_extra=dict(side.engine_env, **(env_extra or {})))


@pytest.mark.parametrize("label", [label for _, label in KEYS])
def test_engine_reads_public_keys(token, label):
    uri = f"pkcs11:token=tok;object={label};type=public"
    want = spki_der(exported_public_pem(token["env"], label, token["dir"]))
    for who, side in token["sides"].items():
        # Ours reads public keys from the store alone: a TCTI that leads nowhere is fine.
        lazy = {"TPM2_PKCS11_TCTI": "swtpm:host=127.0.0.1,port=1"} if who == "ours" else {}
        proc = _openssl(side, "pkey", "-engine", "pkcs11", "-inform", "engine", "-pubin",
                        "-in", uri, "-pubout", env_extra=lazy)
        assert spki_der(proc.stdout) == want, who
    assert_no_tpm_leaks(token["tcti"])


@pytest.mark.parametrize("label,mech,extra", [
    ("k256", "ECDSA-SHA256", ["--signature-format", "openssl"]),
    ("k384", "ECDSA-SHA256", ["--signature-format", "openssl"]),
    ("krsa", "SHA256-RSA-PKCS", []),
])
def test_engine_verifies_token_signatures(token, label, mech, extra):
    d = token["dir"]
    msg = d / f"msg-{label}.txt"
    msg.write_bytes(MESSAGE)
    bad = d / f"bad-{label}.txt"
    bad.write_bytes(MESSAGE + b"!")
    sig = d / f"{label}-{mech}.sig"
    pkcs11_tool(token["env"], "--login", "--pin", USER_PIN, "--sign", "-m", mech, "--id",
                token["ids"][label], "-i", msg, "-o", sig, *extra, token="tok")
    uri = f"pkcs11:token=tok;object={label};type=public"
    for who, side in token["sides"].items():
        args = ["dgst", "-sha256", "-engine", "pkcs11", "-keyform", "engine", "-verify", uri,
                "-signature", sig]
        assert "Verified OK" in _openssl(side, *args, msg).stdout, who
        assert _openssl(side, *args, bad, check=False).returncode != 0, who
    assert_no_tpm_leaks(token["tcti"])
