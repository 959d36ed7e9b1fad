"""tpm2-ptool link: adopt tpm2-openssl TSS2 PEM keys, our exports and tpm2-tools blobs."""

import pytest
import yaml

from keyops_common import USER_PIN, make_token, object_ids, store_dump
from ptool_fixtures import (UPSTREAM_MODULE, assert_no_tpm_leaks, requires_file, requires_tool,
                            run, run_ptool)

PROVIDER = "/usr/lib/x86_64-linux-gnu/ossl-modules/tpm2.so"


@pytest.fixture
def token(swtpm, store, tmp_path):
    requires_tool("openssl")
    requires_file(PROVIDER, "tpm2-openssl provider")
    env = make_token(swtpm, store)
    return env, store, swtpm, tmp_path


def _genpkey(env, tpm, path, *opts):
    run(["openssl", "genpkey", "-provider", "tpm2", "-algorithm", "EC", "-pkeyopt",
         "group:P-256", *opts, "-out", path], env=dict(env, TPM2OPENSSL_TCTI=tpm.tcti))


def test_link_openssl_key_signs_through_upstream(token):
    env, store, tpm, base = token
    key = base / "k.pem"
    _genpkey(env, tpm, key, "-pkeyopt", "parent:0x81000001")
    out = yaml.safe_load(run_ptool(["link", "--label", "tok", "--key-label", "lk",
                                    "--userpin", USER_PIN, key], env).stdout)
    assert out["action"] == "link" and out["public"]["CKA_ID"] == out["private"]["CKA_ID"]
    requires_tool("pkcs11-tool")
    requires_file(UPSTREAM_MODULE, "upstream PKCS#11 module")
    msg, sig, pub = base / "msg", base / "sig", base / "pub.pem"
    msg.write_bytes(b"link\n")
    run(["pkcs11-tool", "--module", UPSTREAM_MODULE, "--token-label", "tok", "--login", "--pin",
         USER_PIN, "--sign", "-m", "ECDSA-SHA256", "--signature-format", "openssl", "--id",
         out["private"]["CKA_ID"], "-i", msg, "-o", sig], env=env)
    run(["openssl", "pkey", "-provider", "tpm2", "-provider", "default", "-in", key, "-pubout",
         "-out", pub], env=dict(env, TPM2OPENSSL_TCTI=tpm.tcti))
    run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature", sig, msg], env=env)
    assert_no_tpm_leaks(tpm.tcti)


def test_link_our_export_and_blobs(token, monkeypatch):
    env, store, tpm, base = token
    monkeypatch.chdir(base)
    run_ptool(["addkey", "--label", "tok", "--algorithm", "ecc256", "--key-label", "k1",
               "--userpin", USER_PIN], env)
    run_ptool(["export", "--label", "tok", "--key-label", "k1", "--userpin", USER_PIN], env)
    run_ptool(["export", "--label", "tok", "--key-label", "k1", "--userpin", USER_PIN,
               "--format", "tpm2"], env)
    auth = yaml.safe_load(run_ptool(["export", "--label", "tok", "--key-label", "k1",
                                     "--userpin", USER_PIN, "--output-prefix", "again"],
                                    env).stdout)["object-auth"]
    run_ptool(["link", "--label", "tok", "--key-label", "fromexport", "--userpin", USER_PIN,
               "--auth", auth, "k1.pem"], env)
    # blob order does not matter
    run_ptool(["link", "--label", "tok", "--key-label", "fromblobs", "--userpin", USER_PIN,
               "--auth", auth, "k1.priv", "k1.pub"], env)
    assert len(object_ids(store, 3)) == 3
    verify = yaml.safe_load(run_ptool(["verify", "--label", "tok", "--userpin", USER_PIN],
                                      env).stdout)
    auths = [o["auth"] for o in verify["objects"] if o["auth"]]
    assert auths == [auth, auth, auth]


def test_wrong_parent_and_garbage_rejected(token):
    env, store, tpm, base = token
    owner_parent = base / "owner.pem"
    _genpkey(env, tpm, owner_parent)  # parent 0x40000001: not this token's primary
    junk = base / "junk"
    junk.write_bytes(b"\x00\x01garbage")
    dump = store_dump(store)
    for args, rc, text in (([owner_parent], 2, "is not the token's primary"),
                           ([junk], 2, ""),
                           ([junk, junk], 2, ""),
                           ([base / "missing.pem"], 2, "cannot open")):
        proc = run_ptool(["link", "--label", "tok", "--userpin", USER_PIN, *args], env,
                         check=False)
        assert proc.returncode == rc, proc.stderr
        assert text in proc.stderr
    assert store_dump(store) == dump
