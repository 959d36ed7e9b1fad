"""Upstream store -> our tool: a store made by tpm2_ptool 1.9.0 is read and extended by ours.

Everything here talks to the TPM through tpm2-abrmd (the Python tool needs it), which also
proves our tool works with the tabrmd TCTI.
"""

import pytest
import yaml

from ptool_fixtures import add_token
from ptool_fixtures import upstream_addkey
from ptool_fixtures import (UPSTREAM_MODULE, ptool_env, requires_file, requires_tool, run,
                            run_ptool, run_upstream, store_query)

MESSAGE = b"our key, upstream store, upstream module\n"


@pytest.fixture(scope="module")
def upstream(abrmd_module, tmp_path_factory):
    for tool in ("tpm2_ptool", "ssh-keygen", "pkcs11-tool", "openssl"):
        requires_tool(tool)
    requires_file(UPSTREAM_MODULE, "upstream PKCS#11 module")
    base = tmp_path_factory.mktemp("upstream")
    store = base / "store"
    store.mkdir(mode=0o700)
    env = ptool_env(abrmd_module, store)
    pid = yaml.safe_load(run_upstream(["init"], env).stdout)["id"]
    add_token(env, "up", pid, runner=run_upstream)
    for alg, label in (("ecc256", "u-ec"), ("rsa2048", "u-rsa")):
        upstream_addkey(["--label", "up", "--algorithm", alg, "--key-label", label,
                         "--userpin", "user"], env, store)
    msg = base / "msg"
    msg.write_bytes(MESSAGE)
    return {"env": env, "store": store, "dir": base, "msg": msg}


def test_ssh_pubkey_matches_ssh_keygen(upstream):
    ours = run_ptool(["ssh-pubkey", "--label", "up"], upstream["env"]).stdout
    module = run(["ssh-keygen", "-D", UPSTREAM_MODULE], env=upstream["env"]).stdout
    assert ours == module and len(ours.splitlines()) == 2


@pytest.mark.parametrize("alg, mech", [("ecc256", "ECDSA-SHA256"), ("rsa2048", "SHA256-RSA-PKCS")])
def test_our_addkey_into_upstream_token_signs_upstream(upstream, alg, mech):
    label = f"ours-{alg}"
    out = yaml.safe_load(run_ptool(["addkey", "--label", "up", "--algorithm", alg, "--key-label", label,
                                    "--userpin", "user"], upstream["env"]).stdout)
    line = run_ptool(["ssh-pubkey", "--label", "up", "--key-label", label], upstream["env"]).stdout
    pub = upstream["dir"] / f"{label}.pub"
    pub.write_text(line)
    pem = upstream["dir"] / f"{label}.pem"
    pem.write_text(run(["ssh-keygen", "-e", "-m", "PKCS8", "-f", pub]).stdout)
    sig = upstream["dir"] / f"{label}.sig"
    fmt = ["--signature-format", "openssl"] if mech.startswith("ECDSA") else []
    run(["pkcs11-tool", "--module", UPSTREAM_MODULE, "--token-label", "up", "--login", "--pin", "user",
         "--sign", "-m", mech, "--id", out["private"]["CKA_ID"], *fmt, "-i", upstream["msg"], "-o", sig],
        env=upstream["env"])
    run(["openssl", "dgst", "-sha256", "-verify", pem, "-signature", sig, upstream["msg"]])
    # and upstream's own tool accepts the object we added
    verified = yaml.safe_load(run_upstream(["verify", "--label", "up", "--userpin", "user"],
                                           upstream["env"]).stdout)
    assert len(verified["objects"]) >= 6


def test_our_addtoken_under_upstream_primary(upstream):
    run_ptool(["addtoken", "--pid", "1", "--label", "ours", "--sopin", "so", "--userpin", "pin2"],
              upstream["env"])
    upstream_addkey(["--label", "ours", "--algorithm", "ecc256", "--key-label", "by-upstream",
                     "--userpin", "pin2"], upstream["env"], upstream["store"])
    assert run_ptool(["ssh-pubkey", "--label", "ours"], upstream["env"]).stdout.endswith(" by-upstream\n")
    assert store_query(upstream["store"], "SELECT count(*) FROM tokens") == [(2,)]
