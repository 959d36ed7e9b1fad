"""Our store -> upstream: Debian's libtpm2_pkcs11.so 1.9.0 and tpm2_ptool 1.9.0 use what we wrote.

The store is provisioned only by our tpm2-ptool (direct swtpm TCTI, no resource manager);
the upstream module lists the keys exactly as our ssh-pubkey prints them and signs with them,
and the signatures verify with openssl against the public keys our tool printed.
"""

import pytest
import yaml

from ptool_fixtures import add_token
from ptool_fixtures import (UPSTREAM_MODULE, assert_no_tpm_leaks, ptool_env, requires_file,
                            requires_tool, run, run_ptool, run_upstream)

MESSAGE = b"signed through the upstream module from a store tpm2-ptool wrote\n"


@pytest.fixture(scope="module")
def ours(swtpm_module, tmp_path_factory):
    for tool in ("ssh-keygen", "pkcs11-tool", "openssl"):
        requires_tool(tool)
    requires_file(UPSTREAM_MODULE, "upstream PKCS#11 module")
    base = tmp_path_factory.mktemp("ours")
    store = base / "store"
    env = ptool_env(swtpm_module, store)
    run_ptool(["init"], env)
    add_token(env)
    ids = {}
    for alg, label in (("ecc256", "ec"), ("rsa2048", "rsa"), ("ecc384", "ec384")):
        out = yaml.safe_load(run_ptool(["addkey", "--label", "tok", "--algorithm", alg, "--key-label",
                                        label, "--userpin", "user"], env).stdout)
        ids[label] = out["private"]["CKA_ID"]
    run_ptool(["addtoken", "--pid", "1", "--label", "open", "--sopin", "so", "--userpin", ""], env)
    run_ptool(["addkey", "--label", "open", "--algorithm", "ecc256", "--key-label", "nopin"], env)
    # our tool leaves nothing loaded (checked before the upstream module, which does leak
    # handles on a direct TCTI, touches the TPM)
    assert_no_tpm_leaks(swtpm_module.tcti)
    msg = base / "msg"
    msg.write_bytes(MESSAGE)
    return {"env": env, "store": store, "dir": base, "ids": ids, "msg": msg, "tpm": swtpm_module}


def _openssl_pem_from_ssh(ours, line, name):
    pub = ours["dir"] / f"{name}.pub"
    pub.write_text(line + "\n")
    pem = ours["dir"] / f"{name}.pem"
    pem.write_text(run(["ssh-keygen", "-e", "-m", "PKCS8", "-f", pub]).stdout)
    return pem


def _ssh_line(ours, label):
    out = run_ptool(["ssh-pubkey", "--label", "tok", "--key-label", label], ours["env"]).stdout
    return out.strip()


def test_ssh_keygen_lists_what_ssh_pubkey_prints(ours):
    module = run(["ssh-keygen", "-D", UPSTREAM_MODULE], env=ours["env"]).stdout
    mine = "".join(run_ptool(["ssh-pubkey", "--label", label], ours["env"]).stdout
                   for label in ("tok", "open"))
    assert module == mine
    assert len(module.splitlines()) == 4


@pytest.mark.parametrize("label, mech, sigopts", [
    ("ec", "ECDSA-SHA256", []),
    ("ec384", "ECDSA-SHA384", []),
    ("rsa", "SHA256-RSA-PKCS", []),
    ("rsa", "SHA256-RSA-PKCS-PSS", ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1"]),
])
def test_upstream_module_signs_with_our_keys(ours, label, mech, sigopts):
    pem = _openssl_pem_from_ssh(ours, _ssh_line(ours, label), label)
    sig = ours["dir"] / f"{label}-{mech}.sig"
    digest = "-sha384" if "384" in mech else "-sha256"
    fmt = ["--signature-format", "openssl"] if mech.startswith("ECDSA") else []
    run(["pkcs11-tool", "--module", UPSTREAM_MODULE, "--token-label", "tok", "--login", "--pin", "user",
         "--sign", "-m", mech, "--id", ours["ids"][label], *fmt, "-i", ours["msg"], "-o", sig],
        env=ours["env"])
    run(["openssl", "dgst", digest, *sigopts, "-verify", pem, "-signature", sig, ours["msg"]])


def test_empty_user_pin_token_signs_without_login(ours):
    line = run_ptool(["ssh-pubkey", "--label", "open"], ours["env"]).stdout.strip()
    pem = _openssl_pem_from_ssh(ours, line, "nopin")
    sig = ours["dir"] / "nopin.sig"
    run(["pkcs11-tool", "--module", UPSTREAM_MODULE, "--token-label", "open", "--sign", "-m",
         "ECDSA-SHA256", "--label", "nopin", "--signature-format", "openssl", "-i", ours["msg"],
         "-o", sig], env=ours["env"])
    run(["openssl", "dgst", "-sha256", "-verify", pem, "-signature", sig, ours["msg"]])


def test_wrong_pin_rejected_by_upstream_module(ours):
    proc = run(["pkcs11-tool", "--module", UPSTREAM_MODULE, "--token-label", "tok", "--login", "--pin",
                "nope", "--list-objects"], env=ours["env"], check=False)
    run(["tpm2_dictionarylockout", "-T", ours["tpm"].tcti, "-c"], env=ours["env"])
    assert proc.returncode != 0 and "CKR_PIN_INCORRECT" in proc.stdout + proc.stderr


def test_upstream_tool_reads_our_store(ours, abrmd_module, tmp_path):
    """tpm2_ptool 1.9.0 (through abrmd on the same swtpm) lists and verifies our token."""
    requires_tool("tpm2_ptool")
    env = dict(ptool_env(abrmd_module, ours["store"]))
    listed = yaml.safe_load(run_upstream(["listobjects", "--label", "tok"], env).stdout)
    assert [o["CKA_LABEL"] for o in listed] == ["ec", "ec", "rsa", "rsa", "ec384", "ec384"]
    verified = yaml.safe_load(run_upstream(["verify", "--label", "tok", "--userpin", "user"], env).stdout)
    assert all(o["auth"] for o in verified["objects"] if o["encauth"])

