"""Side by side with upstream's module: the spare uninitialized slot, C_InitToken, C_InitPIN
and C_SetPIN (tests/pkcs11/c/p11case_tokens.c); then pkcs11-tool makes a token through our
module on an empty store, and our CLI, upstream's tool and upstream's module use it."""

import re

import pytest
import yaml

from p11_common import module_path, pkcs11_tool, provision, side_by_side
from ptool_fixtures import (UPSTREAM_MODULE, ptool_env, reset_lockout, run, run_ptool,
                            run_upstream, store_query)

KNOWN = {
    # PKCS#11 2.40 C_InitPIN: "only in the R/W SO Functions state", any other state is
    # CKR_USER_NOT_LOGGED_IN; upstream answers CKR_SESSION_READ_ONLY even in R/W sessions.
    "spare_session.init_pin_read_only": "upstream: CKR_SESSION_READ_ONLY, spec: ..._NOT_LOGGED_IN",
    "init_pin.init_pin_public": "upstream: CKR_SESSION_READ_ONLY in a R/W public session",
    "init_pin.init_pin_as_user": "upstream: CKR_SESSION_READ_ONLY in a R/W user session",
    # Upstream's C_Login on the uninitialized slot says CKR_OPERATION_NOT_INITIALIZED.
    "spare_session.user_login": "ours: CKR_USER_PIN_NOT_INITIALIZED (there is no PIN yet)",
    # Upstream sets CKF_USER_PIN_INITIALIZED on every initialized token, also before C_InitPIN.
    "init.flags": "ours: no CKF_USER_PIN_INITIALIZED until C_InitPIN",
    # Upstream's C_SetPIN without a login reports CKR_OK for a wrong old PIN (and changes
    # nothing): its TPM session cleanup overwrites the failure.
    "set_pin.wrong_old": "upstream: CKR_OK for a wrong old PIN",
    # PKCS#11: C_InitToken with a session open on the token is CKR_SESSION_EXISTS; upstream
    # initializes the token anyway.
    "init_with_session.init_token": "upstream: CKR_OK with a session open",
    # A new PIN one byte over the ulMaxPinLen both report (128): ours says CKR_PIN_LEN_RANGE and changes
    # nothing; upstream takes it.
    "init_pin.init_pin_too_long": "upstream: takes a PIN over ulMaxPinLen",
    "set_pin.too_long_new": "upstream: takes a PIN over ulMaxPinLen",
    "so_pin_too_long.": "upstream: takes a PIN over ulMaxPinLen (and makes the token)",
}


@pytest.fixture(scope="module")
def token(swtpm_module, tmp_path_factory):
    store = tmp_path_factory.mktemp("sbs-tokens") / "store"
    store.mkdir(mode=0o700)
    return provision(swtpm_module.tcti, store, keys=(("ecc256", "k256"),))


def test_token_management_agrees_with_upstream(token, tmp_path, swtpm_module):
    reset_lockout(swtpm_module.tcti)  # one wrong old PIN per module below
    ours, theirs = side_by_side("tokens", token, tmp_path, known=KNOWN)
    # The spare slot: one more than the tokens, listed last, at the next id, uninitialized.
    assert ours["spare.slots"] == "2 present 2"
    assert ours["spare.spare_id_after_max"] == "1"
    assert ours["spare.flags"] == "0x5"  # CKF_RNG | CKF_LOGIN_REQUIRED
    assert ours["spare.label"] == "''"
    assert ours["spare.max_sessions"] == "1024 rw 1024"
    assert ours["spare_session.user_login"] == "0x102"  # CKR_USER_PIN_NOT_INITIALIZED
    assert ours["spare_session.init_pin_read_only"] == "0x101"  # CKR_USER_NOT_LOGGED_IN
    assert ours["init_errors.initialized_token"] == "0x7"  # refused: it would lose keys
    assert ours["init.init_token"] == "0x0"
    assert ours["init_pin.init_pin_too_long"] == "0xa2"  # CKR_PIN_LEN_RANGE
    assert ours["set_pin.too_long_new"] == "0xa2"
    assert ours["so_pin_too_long.init_token"] == "0xa2"
    assert ours["so_pin_too_long.slots"] == "3 present 3"  # no token made
    assert ours["init.made_in_spare_slot"] == "1" and ours["init.new_spare_after_made"] == "1"
    assert ours["init.flags"] == "0x405"  # initialized, no user PIN yet
    assert theirs["init.flags"] == "0x40d"
    assert ours["init_pin.user_login_no_pin"] == "0x102"
    assert ours["init_pin.init_pin"] == "0x0"
    assert ours["init_pin.flags_after"] == "0x40d"
    assert ours["init_pin.init_pin_as_user"] == "0x101"
    assert ours["set_pin.public"] == "0x0" and ours["set_pin.login_after_public"] == "0x0"
    assert ours["set_pin.wrong_old"] == "0xa0"  # CKR_PIN_INCORRECT
    assert ours["set_pin.read_only_session"] == "0xb5"  # CKR_SESSION_READ_ONLY
    assert ours["set_pin.so_login_new"] == "0x0"
    assert ours["reload.user_login"] == "0x0" and ours["reload.so_login"] == "0x0"
    assert ours["init_with_session.init_token"] == "0xb6"  # CKR_SESSION_EXISTS

    # Stored as the CLI stores a token: one row with its label and config, under the
    # store's primary, with both seal objects; our CLI lists it and adds a key with its PIN.
    store = tmp_path / "store-tokens-ours"
    rows = store_query(store, "SELECT id, pid, label, config FROM tokens ORDER BY id")
    assert [(r[0], r[1], r[2]) for r in rows] == [(1, 1, "tok"), (2, 1, "newtok")]
    # The same config the CLI's addtoken wrote for "tok" (token-init, pss-sigs-good).
    assert yaml.safe_load(rows[1][3]) == yaml.safe_load(rows[0][3])
    [seal] = store_query(store, "SELECT userpub IS NOT NULL, userauthsalt, soauthsalt "
                                "FROM sealobjects WHERE tokid = 2")
    assert seal[0] == 1 and re.fullmatch(r"[0-9a-f]{64}", seal[1])
    env = dict(token["env"], TPM2_PKCS11_STORE=str(store))
    listed = yaml.safe_load(run_ptool(["listtokens", "--pid", "1"], env).stdout)
    assert [t["label"] for t in listed] == ["tok", "newtok"]
    run_ptool(["addkey", "--label", "newtok", "--algorithm", "ecc256", "--key-label", "k",
               "--userpin", "userpin6"], env)
    run_ptool(["changepin", "--label", "newtok", "--user", "so", "--old", "sopin3",
               "--new", "sopin4"], env)


def _slots(env, module):
    return run(["pkcs11-tool", "--module", str(module), "--list-token-slots"], env=env).stdout


def test_pkcs11_tool_makes_a_token_everyone_uses(abrmd_module, tmp_path):
    """An empty store directory: pkcs11-tool -T shows the one uninitialized slot (as
    upstream's module), --init-token / --init-pin / --change-pin make a token through our
    module; our CLI adds a key to it, upstream's tool lists it, both modules log in to it."""
    base = tmp_path / "empty"
    store = base / "store"
    store.mkdir(parents=True, mode=0o700)
    env = ptool_env(abrmd_module, store)
    upstream_store = base / "upstream-store"
    upstream_store.mkdir(mode=0o700)
    listed = _slots(env, module_path())
    theirs = _slots(dict(env, TPM2_PKCS11_STORE=str(upstream_store)), UPSTREAM_MODULE)
    for out in (listed, theirs):
        assert out.count("Slot ") == 1 and "token state:   uninitialized" in out, out
    assert not (store / "tpm2_pkcs11.sqlite3").exists()  # listing wrote nothing

    pkcs11_tool(env, "--slot", "1", "--init-token", "--label", "made", "--so-pin", "so1")
    assert "token label        : made" in _slots(env, module_path())
    pkcs11_tool(env, "--init-pin", "--pin", "user1", "--so-pin", "so1", token="made")
    pkcs11_tool(env, "--change-pin", "--pin", "user1", "--new-pin", "user2", token="made")
    after = _slots(env, module_path())
    assert after.count("Slot ") == 2 and "PIN initialized" in after  # and a new spare

    primaries = yaml.safe_load(run_ptool(["listprimaries"], env).stdout)
    assert len(primaries) == 1
    pid = str(primaries[0]["id"])
    out = yaml.safe_load(run_ptool(["addkey", "--label", "made", "--algorithm", "ecc256",
                                    "--key-label", "k", "--userpin", "user2"], env).stdout)
    assert out["private"]["CKA_ID"]
    assert [t["label"] for t in yaml.safe_load(run_ptool(["listtokens", "--pid", pid],
                                                         env).stdout)] == ["made"]
    up = run_upstream(["listtokens", "--pid", pid], env).stdout
    assert "label: made" in up
    for module in (module_path(), UPSTREAM_MODULE):
        objs = run(["pkcs11-tool", "--module", str(module), "--token-label", "made", "--login",
                    "--pin", "user2", "--list-objects", "--type", "privkey"], env=env).stdout
        assert "label:      k" in objs, (module, objs)
    signed = pkcs11_tool(env, "--login", "--pin", "user2", "--sign", "--mechanism", "ECDSA",
                         "--label", "k", "--input-file", str(__file__), "--output-file",
                         str(base / "sig"), token="made", check=False)
    assert signed.returncode == 0, signed.stderr


def test_init_token_without_a_tpm_writes_nothing(tmp_path):
    """C_InitToken on an empty store whose TPM cannot be reached fails and creates no store
    (it is created only after the TPM work); the spare slot is still there."""
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    env = ptool_env("swtpm:host=127.0.0.1,port=1", store)
    failed = pkcs11_tool(env, "--slot", "1", "--init-token", "--label", "made", "--so-pin",
                         "so1", check=False)
    assert failed.returncode != 0
    assert list(store.iterdir()) == []
    assert "token state:   uninitialized" in _slots(env, module_path())
