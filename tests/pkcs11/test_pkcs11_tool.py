"""Our module driven by OpenSC's pkcs11-tool against swtpm.

Stores come from our tpm2-ptool (direct swtpm TCTI) and from the upstream
Python tool (through abrmd).  Every signature is checked with openssl against
the public key read back through the module.
"""

import hashlib

import pytest

from p11_common import KEYS, SO_PIN, USER_PIN, module_path, pkcs11_tool, provision
from ptool_fixtures import assert_no_tpm_leaks, requires_tool, run, run_ptool, tpm_handles

MESSAGE = b"pkcs11 module test message\n"
# DER DigestInfo prefix for SHA-256 (RFC 8017 9.2 note 1): what OpenSSH passes to CKM_RSA_PKCS.
SHA256_DIGESTINFO = bytes.fromhex("3031300d060960864801650304020105000420")

EC_MECHS = ("ECDSA", "ECDSA-SHA256")
RSA_MECHS = ("SHA256-RSA-PKCS", "RSA-PKCS", "SHA256-RSA-PKCS-PSS")


@pytest.fixture(scope="module")
def ours(swtpm_module, tmp_path_factory):
    for tool in ("pkcs11-tool", "openssl"):
        requires_tool(tool)
    base = tmp_path_factory.mktemp("ours")
    store = base / "store"
    store.mkdir(mode=0o700)
    token = provision(swtpm_module.tcti, store)
    token.update(dir=base, tcti=swtpm_module.tcti)
    return token


@pytest.fixture(scope="module")
def upstream(abrmd_module, tmp_path_factory):
    for tool in ("pkcs11-tool", "openssl", "tpm2_ptool"):
        requires_tool(tool)
    base = tmp_path_factory.mktemp("upstream")
    store = base / "store"
    store.mkdir(mode=0o700)
    token = provision(abrmd_module, store, token="up",
                      keys=(("ecc256", "k256"), ("rsa2048", "krsa")), upstream=True)
    token.update(dir=base, tcti=abrmd_module.swtpm.tcti)
    return token


def _p11(token, *args, check=True):
    return pkcs11_tool(token["env"], *args, token=token["token"], check=check)


def _public_pem(token, label):
    """The key's public half as read through our module (ssh-keygen -D), as PEM.

    (pkcs11-tool 0.23 --read-object cannot build a P-384 EVP_PKEY, so ssh-keygen
    reads the public key objects instead.)
    """
    requires_tool("ssh-keygen")
    pem = token["dir"] / f"{label}.pub.pem"
    lines = run(["ssh-keygen", "-D", module_path()], env=token["env"]).stdout.splitlines()
    [line] = [x for x in lines if x.split()[2:] == [label]]
    ssh_pub = token["dir"] / f"{label}.ssh.pub"
    ssh_pub.write_text(line + "\n")
    pem.write_text(run(["ssh-keygen", "-e", "-m", "PKCS8", "-f", ssh_pub]).stdout)
    return pem


def _sign_and_verify(token, label, mech):
    d = token["dir"]
    pem = _public_pem(token, label)
    msg = d / "msg.bin"
    msg.write_bytes(MESSAGE)
    digest = hashlib.sha256(MESSAGE).digest()
    sig = d / f"{label}-{mech}.sig"
    args = ["--login", "--pin", USER_PIN, "--sign", "-m", mech, "--id", token["ids"][label],
            "-o", sig]
    if mech.startswith("ECDSA"):
        args += ["--signature-format", "openssl"]  # DER for openssl
    if mech == "ECDSA":
        raw_in = d / "digest.bin"
        raw_in.write_bytes(digest)
        _p11(token, *args, "-i", raw_in)
        run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pem, "-in", raw_in,
             "-sigfile", sig])
    elif mech == "RSA-PKCS":
        raw_in = d / "digestinfo.bin"
        raw_in.write_bytes(SHA256_DIGESTINFO + digest)
        _p11(token, *args, "-i", raw_in)
        assert sig.stat().st_size == 256
        run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pem, "-in", raw_in,
             "-sigfile", sig])
    else:
        _p11(token, *args, "-i", msg)
        opts = []
        if mech.endswith("PSS"):
            opts = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1"]
        run(["openssl", "dgst", "-sha256", *opts, "-verify", pem, "-signature", sig, msg])
    # A corrupted message must not verify: the check above can fail.
    if mech == "ECDSA-SHA256":
        bad = d / "bad.bin"
        bad.write_bytes(MESSAGE + b"x")
        proc = run(["openssl", "dgst", "-sha256", "-verify", pem, "-signature", sig, bad],
                   check=False)
        assert proc.returncode != 0


def test_list_slots(ours):
    out = _p11(ours, "--list-slots").stdout
    assert "token label        : tok" in out
    assert "login required" in out and "token initialized" in out


def test_list_objects_shows_public_keys_without_login(ours):
    out = _p11(ours, "--list-objects").stdout
    assert out.count("Public Key Object") == 3
    assert "Private Key Object" not in out
    for label in ("k256", "k384", "krsa"):
        assert f"label:      {label}" in out


def test_list_objects_after_login_shows_private_keys(ours):
    out = _p11(ours, "--login", "--pin", USER_PIN, "--list-objects").stdout
    assert out.count("Private Key Object") == 3


@pytest.mark.parametrize("label", ["k256", "k384"])
@pytest.mark.parametrize("mech", EC_MECHS)
def test_ec_sign_verifies(ours, label, mech):
    _sign_and_verify(ours, label, mech)


@pytest.mark.parametrize("mech", RSA_MECHS)
def test_rsa_sign_verifies(ours, mech):
    _sign_and_verify(ours, "krsa", mech)


def test_pkcs11_tool_self_test(ours):
    out = _p11(ours, "--login", "--pin", USER_PIN, "--test").stdout
    assert "No errors" in out


@pytest.fixture(scope="module")
def two_tokens(swtpm_module, tmp_path_factory):
    """One store, two tokens under one primary, each with P-256, P-384 and RSA-2048 keys."""
    base = tmp_path_factory.mktemp("two-tokens")
    store = base / "store"
    store.mkdir(mode=0o700)
    token = provision(swtpm_module.tcti, store)
    run_ptool(["addtoken", "--pid", token["pid"], "--label", "tok2", "--sopin", SO_PIN,
               "--userpin", USER_PIN], token["env"])
    for algorithm, label in KEYS:
        run_ptool(["addkey", "--label", "tok2", "--algorithm", algorithm, "--key-label", label,
                   "--userpin", USER_PIN], token["env"])
    token.update(tcti=swtpm_module.tcti)
    return token


@pytest.mark.parametrize("label", ["tok", "tok2"])
def test_pkcs11_tool_self_test_every_token(two_tokens, label):
    out = pkcs11_tool(two_tokens["env"], "--login", "--pin", USER_PIN, "--test",
                      token=label).stdout
    assert out.rstrip().endswith("No errors"), out
    # pkcs11-tool saw all three keys, and signed, verified and decrypted with the RSA one.
    for i, key in enumerate(k for _, k in KEYS):
        assert f"testing key {i} ({key})" in out, out
    assert "all 4 signature functions seem to work" in out, out
    assert out.count("RSA-PKCS: OK") >= 3, out
    assert_no_tpm_leaks(two_tokens["tcti"])


def test_pkcs11_tool_self_test_upstream_store(upstream):
    out = _p11(upstream, "--login", "--pin", USER_PIN, "--test").stdout
    assert out.rstrip().endswith("No errors"), out
    assert "testing key 0 (k256)" in out and "testing key 1 (krsa)" in out, out


def test_wrong_pin(ours):
    proc = _p11(ours, "--login", "--pin", "wrong-pin", "--list-objects", check=False)
    assert proc.returncode != 0
    assert "CKR_PIN_INCORRECT" in proc.stdout + proc.stderr
    from ptool_fixtures import reset_lockout
    reset_lockout(ours["tcti"])


def test_so_login(ours):
    # The SO works in read-write sessions only (PKCS#11 §5.6, as upstream's library).
    out = _p11(ours, "--login", "--login-type", "so", "--so-pin", SO_PIN, "--session-rw",
               "--list-objects").stdout
    assert "Public Key Object" in out
    ro = _p11(ours, "--login", "--login-type", "so", "--so-pin", SO_PIN, "--list-objects",
              check=False)
    assert ro.returncode != 0 and "CKR_SESSION_READ_ONLY_EXISTS" in ro.stdout + ro.stderr


def test_no_transient_objects_left(ours):
    _sign_and_verify(ours, "k256", "ECDSA-SHA256")
    assert tpm_handles(ours["tcti"], "transient") == []
    assert_no_tpm_leaks(ours["tcti"])


@pytest.mark.parametrize("label,mech", [("k256", "ECDSA-SHA256"), ("k256", "ECDSA"),
                                        ("krsa", "SHA256-RSA-PKCS"), ("krsa", "RSA-PKCS"),
                                        ("krsa", "SHA256-RSA-PKCS-PSS")])
def test_upstream_store_sign_verifies(upstream, label, mech):
    _sign_and_verify(upstream, label, mech)


def test_upstream_store_lists_like_ours(upstream):
    out = _p11(upstream, "--list-objects").stdout
    assert out.count("Public Key Object") == 2
    assert_no_tpm_leaks(upstream["tcti"])
