"""Self-test of the fixtures against the real upstream stack only.

Nothing here uses our tpm2-ptool: upstream ``tpm2_ptool`` 1.9.0 provisions a
store through tpm2-abrmd, and the upstream ``libtpm2_pkcs11.so`` is exercised
with ``ssh-keygen -D`` and ``pkcs11-tool``; signatures are checked with
openssl.  If this file fails, the fixtures (not our code) are broken.
"""

import sys

import pytest
import yaml

from ptool_fixtures import upstream_addkey
from ptool_fixtures import (UPSTREAM_MODULE, assert_no_tpm_leaks, ptool_env,
                            requires_file, requires_tool, run, run_upstream,
                            store_query, tpm_handles)

USER_PIN = "user"
SO_PIN = "so"
TOKEN = "tok"
MESSAGE = b"interop fixture self-test\n"


def test_swtpm_starts_empty(swtpm):
    requires_tool("tpm2_getcap")
    assert swtpm.tcti == f"swtpm:host=127.0.0.1,port={swtpm.port}"
    assert swtpm.state_dir.is_dir()
    assert tpm_handles(swtpm.tcti, "transient") == []
    assert tpm_handles(swtpm.tcti, "persistent") == []
    assert_no_tpm_leaks(swtpm.tcti)


def test_two_swtpms_get_distinct_ports(swtpm, swtpm_module):
    assert swtpm.port != swtpm_module.port
    assert tpm_handles(swtpm_module.tcti, "transient") == []


@pytest.fixture(scope="module")
def upstream_token(abrmd_module, tmp_path_factory):
    """A store with one token (ECC P-256 key "k1", RSA-2048 key "k2")."""
    for tool in ("tpm2_ptool", "ssh-keygen", "pkcs11-tool", "openssl"):
        requires_tool(tool)
    requires_file(UPSTREAM_MODULE, "upstream PKCS#11 module")

    base = tmp_path_factory.mktemp("upstream")
    store = base / "store"
    store.mkdir(mode=0o700)
    env = ptool_env(abrmd_module, store)

    init = yaml.safe_load(run_upstream(["init"], env).stdout)
    pid = init["id"]
    run_upstream(["addtoken", "--pid", pid, "--label", TOKEN,
                  "--sopin", SO_PIN, "--userpin", USER_PIN], env)

    ids = {}
    for algorithm, key_label in (("ecc256", "k1"), ("rsa2048", "k2")):
        out = yaml.safe_load(upstream_addkey(
            ["--label", TOKEN, "--algorithm", algorithm,
             "--key-label", key_label, "--userpin", USER_PIN], env, store).stdout)
        assert out["action"] == "add"
        assert out["private"]["CKA_ID"] == out["public"]["CKA_ID"]
        ids[key_label] = out["private"]["CKA_ID"]

    return {"env": env, "store": store, "dir": base, "pid": pid, "ids": ids,
            "abrmd": abrmd_module}


def _pkcs11(token, *args, check=True):
    return run(["pkcs11-tool", "--module", UPSTREAM_MODULE, "--token-label", TOKEN, *args],
               env=token["env"], check=check)


def _public_key_pem(token, key_label):
    """Read the public key object through PKCS#11 and convert it to PEM, once per key.

    Once in a few hundred runs, pkcs11-tool answers a read of the same, unchanged P-256
    public key object through upstream's module with "cannot create EVP_PKEY" (seen in CI,
    not reproduced in 10 runs here). That read is retried twice, and said on stderr; a key
    the fixture made wrong fails every time."""
    pems = token.setdefault("pems", {})
    if key_label in pems:
        return pems[key_label]
    der = token["dir"] / f"{key_label}.pub.der"
    pem = token["dir"] / f"{key_label}.pub.pem"
    args = ("--read-object", "--type", "pubkey", "--id", token["ids"][key_label], "-o", der)
    for attempt in range(3):
        proc = _pkcs11(token, *args, check=attempt == 2)
        if proc.returncode == 0:
            break
        print(f"upstream pkcs11-tool --read-object {key_label} failed, retrying: "
              f"{proc.stderr.strip()}", file=sys.stderr)
    run(["openssl", "pkey", "-pubin", "-inform", "DER", "-in", der, "-out", pem])
    pems[key_label] = pem
    return pem


def _message_file(token):
    path = token["dir"] / "message.bin"
    path.write_bytes(MESSAGE)
    return path


def test_init_created_persistent_primary(upstream_token):
    assert upstream_token["pid"] == 1
    rows = store_query(upstream_token["store"], "SELECT hierarchy, config FROM pobjects")
    assert len(rows) == 1 and rows[0][0] == "o"
    assert '? !!str "transient"\n  : !!bool "false"' in rows[0][1]
    swtpm = upstream_token["abrmd"].swtpm
    assert 0x81000001 in tpm_handles(swtpm.tcti, "persistent")


def test_store_uses_canonical_yaml_and_blob_salts(upstream_token):
    store = upstream_token["store"]
    [(label, config)] = store_query(store, "SELECT label, config FROM tokens")
    assert label == TOKEN
    assert config.startswith("---\n!!map {\n")
    assert '? !!str "token-init"\n  : !!bool "true"' in config
    [(user_salt, so_salt)] = store_query(
        store, "SELECT typeof(userauthsalt), typeof(soauthsalt) FROM sealobjects")
    assert (user_salt, so_salt) == ("blob", "blob")
    assert store_query(store, "SELECT count(*) FROM tobjects") == [(4,)]
    assert store_query(store, "SELECT schema_version FROM schema") == [(8,)]


def test_ssh_keygen_lists_both_keys(upstream_token):
    out = run(["ssh-keygen", "-D", UPSTREAM_MODULE], env=upstream_token["env"]).stdout
    lines = out.splitlines()
    assert len(lines) == 2, out
    # Object order (k1 added first); the comment is the CKA_LABEL.
    assert [line.split()[0] for line in lines] == ["ecdsa-sha2-nistp256", "ssh-rsa"]
    assert [line.split()[2] for line in lines] == ["k1", "k2"]


def test_ssh_public_key_matches_pkcs11_public_key(upstream_token):
    out = run(["ssh-keygen", "-D", UPSTREAM_MODULE], env=upstream_token["env"]).stdout
    ssh_pub = upstream_token["dir"] / "k1.ssh.pub"
    ssh_pub.write_text(out.splitlines()[0] + "\n")
    from_ssh = run(["ssh-keygen", "-e", "-m", "PKCS8", "-f", ssh_pub]).stdout
    assert from_ssh == _public_key_pem(upstream_token, "k1").read_text()


def test_ecdsa_sign_verifies_with_openssl(upstream_token):
    pem = _public_key_pem(upstream_token, "k1")
    msg = _message_file(upstream_token)
    sig = upstream_token["dir"] / "ecdsa.sig"
    # pkcs11-tool returns raw r||s; --signature-format openssl re-encodes as DER.
    _pkcs11(upstream_token, "--login", "--pin", USER_PIN, "--sign", "-m", "ECDSA-SHA256",
            "--id", upstream_token["ids"]["k1"], "--signature-format", "openssl",
            "-i", msg, "-o", sig)
    run(["openssl", "dgst", "-sha256", "-verify", pem, "-signature", sig, msg])


def test_rsa_sign_verifies_with_openssl(upstream_token):
    pem = _public_key_pem(upstream_token, "k2")
    msg = _message_file(upstream_token)
    for mech, sigopts in (("SHA256-RSA-PKCS", []),
                          ("SHA256-RSA-PKCS-PSS", ["-sigopt", "rsa_padding_mode:pss",
                                                   "-sigopt", "rsa_pss_saltlen:-1"])):
        sig = upstream_token["dir"] / f"{mech}.sig"
        _pkcs11(upstream_token, "--login", "--pin", USER_PIN, "--sign", "-m", mech,
                "--id", upstream_token["ids"]["k2"], "-i", msg, "-o", sig)
        run(["openssl", "dgst", "-sha256", *sigopts, "-verify", pem, "-signature", sig, msg])


def test_wrong_pin_is_rejected(upstream_token):
    proc = _pkcs11(upstream_token, "--login", "--pin", "wrong", "--sign", "-m", "ECDSA-SHA256",
                   "--id", upstream_token["ids"]["k1"], "-i", _message_file(upstream_token),
                   "-o", upstream_token["dir"] / "never.sig", check=False)
    assert proc.returncode != 0
    assert "CKR_PIN_INCORRECT" in proc.stdout + proc.stderr


def test_no_tpm_leaks_after_upstream_use(upstream_token):
    # abrmd flushes a client's objects on disconnect; check the raw TPM.
    assert_no_tpm_leaks(upstream_token["abrmd"].swtpm.tcti)
