"""tpm2-ptool changepin / initpin / verify on swtpm, and interop with the upstream module."""

import yaml

import pytest

from keyops_common import SO_PIN, USER_PIN, add_key, make_token, store_dump
from ptool_fixtures import (UPSTREAM_MODULE, assert_no_tpm_leaks, requires_file, requires_tool,
                            reset_lockout, run, run_ptool, store_query)

MSG = b"changepin interop\n"


def _verify(env, *pins):
    out = run_ptool(["verify", "--label", "tok", *pins], env)
    assert "verify prints the token's secrets" in out.stderr
    return yaml.safe_load(out.stdout)


def test_verify_output_like_upstream(swtpm, store):
    env = make_token(swtpm, store)
    add_key(env, "ecc256", "k1")
    out = _verify(env, "--userpin", USER_PIN, "--sopin", SO_PIN)
    assert sorted(out) == ["config", "label", "objects", "pin", "wrappingkey"]
    assert out["label"] == "tok"
    assert out["config"]["token-init"] is True
    assert set(out["pin"]) == {"so", "user"}
    assert out["wrappingkey"]["auth"] == out["pin"]["user"]["seal-auth"]
    assert out["wrappingkey"]["soauth"] == out["pin"]["so"]["seal-auth"]
    # hex of the 64-character sealed text
    assert len(out["wrappingkey"]["hex"]) == 128
    priv, pub = out["objects"]
    assert len(priv["auth"]) == 32 and priv["encauth"].count(":") == 2
    assert pub["auth"] is None and pub["encauth"] is None
    assert_no_tpm_leaks(swtpm.tcti)


def test_verify_wrong_pin_exit_3(swtpm, store):
    env = make_token(swtpm, store)
    proc = run_ptool(["verify", "--label", "tok", "--userpin", "nope"], env, check=False)
    assert proc.returncode == 3, proc.stderr
    assert "wrong PIN" in proc.stderr and proc.stdout == ""
    reset_lockout(swtpm)


def test_verify_unknown_label(swtpm, store):
    env = make_token(swtpm, store)
    proc = run_ptool(["verify", "--label", "nope", "--userpin", USER_PIN], env, check=False)
    assert proc.returncode == 6 and 'No token labeled "nope"' in proc.stderr


@pytest.mark.parametrize("who,old,new", [("user", USER_PIN, "newuser"), ("so", SO_PIN, "newso")])
def test_changepin_then_verify(swtpm, store, who, old, new):
    env = make_token(swtpm, store)
    before = store_query(store, "SELECT userauthsalt, soauthsalt, userpub, sopub FROM sealobjects")
    run_ptool(["changepin", "--label", "tok", "--user", who, "--old", old, "--new", new], env)
    after = store_query(store, "SELECT userauthsalt, soauthsalt, userpub, sopub FROM sealobjects")
    changed = 0 if who == "user" else 1
    assert after[0][changed] != before[0][changed]      # fresh salt
    assert after[0][1 - changed] == before[0][1 - changed]
    assert after[0][2:] == before[0][2:]                 # public parts unchanged
    flag = "--userpin" if who == "user" else "--sopin"
    _verify(env, flag, new)
    proc = run_ptool(["verify", "--label", "tok", flag, old], env, check=False)
    assert proc.returncode == 3
    reset_lockout(swtpm)
    assert_no_tpm_leaks(swtpm.tcti)


def test_changepin_wrong_old_pin_changes_nothing(swtpm, store):
    env = make_token(swtpm, store)
    dump = store_dump(store)
    proc = run_ptool(["changepin", "--label", "tok", "--old", "wrong", "--new", "x"], env,
                     check=False)
    assert proc.returncode == 3, proc.stderr
    assert "wrong old PIN" in proc.stderr
    assert store_dump(store) == dump
    reset_lockout(swtpm)


def test_changepin_pins_from_files_and_env(swtpm, store, tmp_path):
    env = make_token(swtpm, store)
    old, new = tmp_path / "old", tmp_path / "new"
    old.write_text(USER_PIN + "\n")
    new.write_text("fromfile\n")
    old.chmod(0o600)
    new.chmod(0o600)
    run_ptool(["changepin", "--label", "tok", "--old-file", old, "--new-file", new], env)
    _verify(env, "--userpin", "fromfile")
    env2 = dict(env, TPM2_PTOOL_OLD_PIN="fromfile", TPM2_PTOOL_NEW_PIN="fromenv")
    run_ptool(["changepin", "--label", "tok"], env2)
    _verify(env, "--userpin", "fromenv")


def test_empty_user_pin_managed(swtpm, store):
    env = make_token(swtpm, store)
    cfg = lambda: store_query(store, "SELECT config FROM tokens")[0][0]  # noqa: E731
    run_ptool(["changepin", "--label", "tok", "--old", USER_PIN, "--new", ""], env)
    assert '"empty-user-pin"' in cfg()
    # verify and changepin need no PIN now
    _verify(env)
    run_ptool(["changepin", "--label", "tok", "--new", "again"], env)
    assert "empty-user-pin" not in cfg()
    _verify(env, "--userpin", "again")


def test_initpin_resets_user_pin(swtpm, store):
    env = make_token(swtpm, store)
    add_key(env, "ecc256", "k1")
    before = _verify(env, "--userpin", USER_PIN)
    run_ptool(["initpin", "--label", "tok", "--sopin", SO_PIN, "--userpin", "fresh"], env)
    after = _verify(env, "--userpin", "fresh")
    # same wrapping key, so object auths still unwrap
    assert after["wrappingkey"]["hex"] == before["wrappingkey"]["hex"]
    assert after["objects"][0]["auth"] == before["objects"][0]["auth"]
    proc = run_ptool(["initpin", "--label", "tok", "--sopin", "bad", "--userpin", "x"], env,
                     check=False)
    assert proc.returncode == 3
    reset_lockout(swtpm)
    assert_no_tpm_leaks(swtpm.tcti)


def test_updates_by_tokid_not_row_id(swtpm, store):
    """sealobjects.id != tokens.id: upstream's tool would update the wrong row."""
    env = make_token(swtpm, store, label="first")
    run_ptool(["addemptytoken", "--pid", "1"], env)
    run_ptool(["addtoken", "--pid", "1", "--label", "tok", "--sopin", SO_PIN,
               "--userpin", USER_PIN], env)
    rows = store_query(store, "SELECT s.id, s.tokid FROM sealobjects s JOIN tokens t "
                              "ON t.id = s.tokid WHERE t.label = 'tok'")
    assert rows[0][0] != rows[0][1]
    first = store_query(store, "SELECT * FROM sealobjects WHERE tokid = 1")
    run_ptool(["changepin", "--label", "tok", "--old", USER_PIN, "--new", "n1"], env)
    run_ptool(["initpin", "--label", "tok", "--sopin", SO_PIN, "--userpin", "n2"], env)
    _verify(env, "--userpin", "n2")
    assert store_query(store, "SELECT * FROM sealobjects WHERE tokid = 1") == first


def test_upstream_module_uses_changed_pin(swtpm, store, tmp_path):
    for tool in ("pkcs11-tool", "openssl"):
        requires_tool(tool)
    requires_file(UPSTREAM_MODULE, "upstream PKCS#11 module")
    env = make_token(swtpm, store)
    key_id = add_key(env, "ecc256", "k1")
    run_ptool(["changepin", "--label", "tok", "--old", USER_PIN, "--new", "changed"], env)
    msg = tmp_path / "msg"
    msg.write_bytes(MSG)
    sig, pub = tmp_path / "sig", tmp_path / "pub.der"
    base = ["pkcs11-tool", "--module", UPSTREAM_MODULE, "--token-label", "tok"]
    run([*base, "--login", "--pin", "changed", "--sign", "-m", "ECDSA-SHA256",
         "--signature-format", "openssl", "--id", key_id.encode().hex(), "-i", msg, "-o", sig],
        env=env)
    run([*base, "--read-object", "--type", "pubkey", "--id", key_id.encode().hex(), "-o", pub],
        env=env)
    run(["openssl", "dgst", "-sha256", "-verify", pub, "-keyform", "DER", "-signature", sig, msg],
        env=env)
    bad = run([*base, "--login", "--pin", USER_PIN, "--sign", "-m", "ECDSA-SHA256",
               "--id", key_id.encode().hex(), "-i", msg, "-o", sig], env=env, check=False)
    assert bad.returncode != 0
    assert "CKR_PIN_INCORRECT" in bad.stdout + bad.stderr, bad.stderr
    reset_lockout(swtpm)


def test_changepin_rereads_the_seal_row_inside_its_transaction(swtpm, store, tmp_path):
    """A changepin that read the seal row, then waited (here: for its new PIN on a FIFO) while
    another changepin finished, must not overwrite that one's seal object with a PIN change of
    the old one: it fails with nothing written, and the other's PIN stays valid."""
    import os
    import subprocess
    from ptool_fixtures import PTOOL_BIN
    env = make_token(swtpm, store)
    fifo = tmp_path / "newpin"
    os.mkfifo(fifo, 0o600)
    slow = subprocess.Popen([PTOOL_BIN, "changepin", "--label", "tok", "--old", USER_PIN,
                             "--new-file", str(fifo)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        with open(fifo, "w") as f:  # opens once the slow one reads its new PIN
            run_ptool(["changepin", "--label", "tok", "--old", USER_PIN, "--new", "second"], env)
            f.write("first\n")
        out, err = slow.communicate(timeout=60)
    finally:
        slow.kill()
    assert slow.returncode == 1, err
    assert "seal objects changed while this command ran" in err and "nothing was written" in err
    _verify(env, "--userpin", "second")
