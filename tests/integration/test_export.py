"""tpm2-ptool export: TSS2 PEM that tpm2-openssl signs with, tpm2 blobs, public PEM, safety."""

import os
import stat

import pytest
import yaml

from keyops_common import USER_PIN, add_key, file_digest, make_token, object_ids, store_dump
from ptool_fixtures import (assert_no_tpm_leaks, requires_file, requires_tool, reset_lockout, run,
                            run_ptool)

PROVIDER = "/usr/lib/x86_64-linux-gnu/ossl-modules/tpm2.so"
MSG = b"export test message\n"


def _ossl_env(env, tpm):
    return dict(env, TPM2OPENSSL_TCTI=tpm.tcti)


def _sign_and_verify(env, tpm, key_pem, pub_pem, tmp_path, password=None):
    requires_tool("openssl")
    requires_file(PROVIDER, "tpm2-openssl provider")
    msg, sig = tmp_path / "msg", tmp_path / "sig"
    msg.write_bytes(MSG)
    args = ["openssl", "pkeyutl", "-sign", "-provider", "tpm2", "-provider", "default",
            "-inkey", key_pem, "-in", msg, "-rawin", "-digest", "sha256", "-out", sig]
    if password is not None:
        args += ["-passin", f"pass:{password}"]
    run(args, env=_ossl_env(env, tpm))
    run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub_pem, "-in", msg, "-rawin",
         "-digest", "sha256", "-sigfile", sig], env=env)


@pytest.fixture
def token(swtpm, store, tmp_path, monkeypatch):
    env = make_token(swtpm, store)
    monkeypatch.chdir(tmp_path)
    return env, store, swtpm


@pytest.mark.parametrize("algorithm", ["ecc256", "rsa2048"])
def test_pem_signs_with_tpm2_openssl(token, tmp_path, algorithm):
    env, store, tpm = token
    add_key(env, algorithm, "k1")
    priv_id, pub_id = object_ids(store, 3)[0], object_ids(store, 2)[0]
    out = yaml.safe_load(run_ptool(["export", "--label", "tok", "--key-label", "k1",
                                    "--userpin", USER_PIN], env).stdout)
    assert len(out["object-auth"]) == 32
    assert out["primary-object"] == {"auth": "", "hierarchy": "owner", "is_transient": False}
    pem = tmp_path / "k1.pem"
    assert pem.read_text().startswith("-----BEGIN TSS2 PRIVATE KEY-----")
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    asn1 = run(["openssl", "asn1parse", "-in", pem], env=env).stdout
    assert "2.23.133.10.1.3" in asn1 and ":81000001" in asn1
    run_ptool(["export", "--id", str(pub_id), "--output-prefix", "pub"], env)
    _sign_and_verify(env, tpm, pem, tmp_path / "pub.pem", tmp_path, out["object-auth"])
    assert priv_id < pub_id
    assert_no_tpm_leaks(tpm.tcti)


def test_new_auth_file_rekeys_copy_only(token, tmp_path):
    env, store, tpm = token
    add_key(env, "ecc256", "k1")
    dump = store_dump(store)
    pw = tmp_path / "pw"
    pw.write_text("chosen\n")
    pw.chmod(0o600)
    proc = run_ptool(["export", "--label", "tok", "--key-label", "k1", "--userpin", USER_PIN,
                      "--new-auth-file", pw, "--output-prefix", "mine"], env)
    assert "object-auth" not in proc.stdout and "chosen" not in proc.stdout
    assert store_dump(store) == dump
    run_ptool(["export", "--id", str(object_ids(store, 2)[0]), "--output-prefix", "pub"], env)
    _sign_and_verify(env, tpm, tmp_path / "mine.pem", tmp_path / "pub.pem", tmp_path, "chosen")


def test_tpm2_format_loads_with_tpm2_tools(token, tmp_path):
    env, store, tpm = token
    add_key(env, "ecc256", "k1")
    out = yaml.safe_load(run_ptool(["export", "--label", "tok", "--key-label", "k1",
                                    "--format", "tpm2", "--userpin", USER_PIN], env).stdout)
    for suffix in ("priv", "pub", "tr"):
        f = tmp_path / f"k1.{suffix}"
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    requires_tool("tpm2_load")
    ctx = tmp_path / "k.ctx"
    run(["tpm2_load", "-T", tpm.tcti, "-C", tmp_path / "k1.tr", "-u", tmp_path / "k1.pub",
         "-r", tmp_path / "k1.priv", "-c", ctx], env=env)
    run(["tpm2_flushcontext", "-T", tpm.tcti, "-t"], env=env)
    assert len(out["object-auth"]) == 32


def test_secret_key_only_tpm2_format(token):
    env, store, _ = token
    add_key(env, "aes128", "a1")
    proc = run_ptool(["export", "--label", "tok", "--key-label", "a1", "--userpin", USER_PIN],
                     env, check=False)
    assert proc.returncode == 6  # --key-label matches private keys only, as upstream
    sid = str(object_ids(store, 4)[0])
    proc = run_ptool(["export", "--id", sid, "--format", "pem", "--userpin", USER_PIN], env,
                     check=False)
    assert proc.returncode == 2 and "not supported for CKO_SECRET_KEY" in proc.stderr
    run_ptool(["export", "--id", sid, "--userpin", USER_PIN], env)
    assert os.path.exists(f"{sid}.priv") and os.path.exists(f"{sid}.pub")


def test_never_overwrites_without_force(token, tmp_path):
    env, store, tpm = token
    add_key(env, "ecc256", "k1")
    existing = tmp_path / "k1.pem"
    existing.write_text("keep me\n")
    before = file_digest(existing)
    proc = run_ptool(["export", "--label", "tok", "--key-label", "k1", "--userpin", USER_PIN],
                     env, check=False)
    assert proc.returncode == 2 and "already exists" in proc.stderr
    assert file_digest(existing) == before
    run_ptool(["export", "--label", "tok", "--key-label", "k1", "--userpin", USER_PIN,
               "--force"], env)
    assert existing.read_text().startswith("-----BEGIN TSS2 PRIVATE KEY-----")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".k1.pem")]


def test_bad_selections(token):
    env, store, tpm = token
    add_key(env, "ecc256", "k1")
    for args, rc in ((["--id", "999"], 6), (["--label", "tok", "--key-label", "nope"], 6),
                     (["--label", "nope", "--key-label", "k1"], 6), (["--label", "tok"], 2),
                     (["--id", "1", "--label", "tok"], 2)):
        proc = run_ptool(["export", *args, "--userpin", USER_PIN], env, check=False)
        assert proc.returncode == rc, (args, proc.stderr)
    proc = run_ptool(["export", "--label", "tok", "--key-label", "k1", "--userpin", "bad"], env,
                     check=False)
    assert proc.returncode == 3 and not os.path.exists("k1.pem")
    reset_lockout(tpm)


def test_transient_primary_export_signs(swtpm, store, tmp_path, monkeypatch):
    """Broken upstream (1.9.0): export under a transient primary."""
    env = make_token(swtpm, store, init_args=["--transient-parent", "tss2-engine-key"])
    monkeypatch.chdir(tmp_path)
    add_key(env, "ecc256", "k1")
    out = yaml.safe_load(run_ptool(["export", "--label", "tok", "--key-label", "k1",
                                    "--userpin", USER_PIN], env).stdout)
    assert out["primary-object"]["is_transient"] is True
    assert ":40000001" in run(["openssl", "asn1parse", "-in", "k1.pem"], env=env).stdout
    run_ptool(["export", "--id", str(object_ids(store, 2)[0]), "--output-prefix", "pub"], env)
    _sign_and_verify(env, swtpm, tmp_path / "k1.pem", tmp_path / "pub.pem", tmp_path,
                     out["object-auth"])
    assert_no_tpm_leaks(swtpm.tcti)
