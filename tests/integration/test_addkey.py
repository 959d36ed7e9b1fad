"""tpm2-ptool addkey: every algorithm, attributes as upstream writes them, PIN handling."""

import hashlib
import subprocess

import pytest
import yaml

from ptool_fixtures import add_token
from ptool_fixtures import (assert_no_tpm_leaks, base_env, ptool_env, reset_lockout, run_ptool,
                            store_query)

ALGORITHMS = ["rsa1024", "rsa2048", "rsa3072", "rsa4096", "aes128", "aes256", "ecc224", "ecc256",
              "ecc384", "ecc521", "hmac:sha1", "hmac:sha256", "hmac:sha384", "hmac:sha512"]

# CKA numbers
CLASS, LABEL, KEY_TYPE, ID, EC_POINT, ALLOWED = 0, 3, 0x100, 0x102, 0x181, 0x40000600
OBJAUTH, PUB_BLOB, PRIV_BLOB = 0x8F000001, 0x8F000002, 0x8F000003


@pytest.fixture(scope="module")
def token(swtpm_module, tmp_path_factory):
    store = tmp_path_factory.mktemp("addkey") / "store"
    env = ptool_env(swtpm_module, store)
    run_ptool(["init"], env)
    add_token(env)
    return env, store, swtpm_module


def _attrs(store, since=0):
    rows = store_query(store, "SELECT id, attrs FROM tobjects WHERE id > ? ORDER BY id", (since,))
    return [(rid, yaml.safe_load(text)) for rid, text in rows]


def _max_id(store):
    return store_query(store, "SELECT coalesce(max(id), 0) FROM tobjects")[0][0]


def _digest(store):
    return hashlib.sha256((store / "tpm2_pkcs11.sqlite3").read_bytes()).hexdigest()


def _tpm_supports(tcti, alg):
    return subprocess.run(["tpm2_testparms", "-T", tcti, alg], env=base_env(),
                          capture_output=True).returncode == 0


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm(token, algorithm):
    env, store, tpm = token
    start = _max_id(store)
    probe = {"ecc224": "ecc224", "ecc521": "ecc521", "rsa4096": "rsa4096"}.get(algorithm)
    proc = run_ptool(["addkey", "--label", "tok", "--algorithm", algorithm, "--key-label", algorithm,
                      "--userpin", "user"], env, check=False)
    if probe and not _tpm_supports(tpm.tcti, probe):
        assert proc.returncode == 5, proc.stderr
        assert f"--algorithm {algorithm}" in proc.stderr and "TestParms" in proc.stderr
        assert _max_id(store) == start
        return
    assert proc.returncode == 0, proc.stderr
    out = yaml.safe_load(proc.stdout)
    assert out["action"] == "add"
    objs = _attrs(store, start)
    asymmetric = algorithm.startswith(("rsa", "ecc"))
    assert len(objs) == (2 if asymmetric else 1)
    assert ("public" in out) == asymmetric
    priv = objs[0][1]
    assert priv[CLASS] == (3 if asymmetric else 4)
    assert bytes.fromhex(priv[LABEL]).decode() == algorithm
    assert bytes.fromhex(priv[ID]).hex() == out["private"]["CKA_ID"]
    assert len(bytes.fromhex(priv[ID])) == 16  # 16 random hex characters, as upstream
    assert {OBJAUTH, PUB_BLOB, PRIV_BLOB} <= priv.keys()
    assert bytes.fromhex(priv[OBJAUTH]).decode().count(":") == 2
    expected_counts = {"rsa": (34, 27), "ecc": (33, 26), "aes": (35,), "hma": (35,)}[algorithm[:3]]
    assert tuple(len(a) for _, a in objs) == expected_counts
    if asymmetric:
        pub = objs[1][1]
        assert pub[CLASS] == 2 and pub[ID] == priv[ID]
        assert PRIV_BLOB not in pub and OBJAUTH not in pub
    if algorithm == "ecc521":
        point = bytes.fromhex(priv[EC_POINT])
        assert point[:3] == b"\x04\x81\x85" and len(point) == 3 + 0x85  # correct DER
    assert_no_tpm_leaks(tpm.tcti)


def test_id_and_always_authenticate(token):
    env, store, _ = token
    start = _max_id(store)
    out = yaml.safe_load(run_ptool(["addkey", "--label", "tok", "--algorithm", "ecc256", "--id", "12345678",
                                    "--attr-always-authenticate", "--userpin", "user"], env).stdout)
    assert out["private"]["CKA_ID"] == "3132333435363738"  # the --id text's bytes, as upstream
    (_, priv), (_, pub) = _attrs(store, start)
    assert priv[0x202] is True
    assert priv[LABEL] == "" and pub[LABEL] == ""


def test_sopin_works_too(token):
    env, store, _ = token
    start = _max_id(store)
    out = yaml.safe_load(run_ptool(["addkey", "--label", "tok", "--algorithm", "ecc256",
                                    "--sopin", "so"], env).stdout)
    objs = _attrs(store, start)
    assert len(objs) == 2  # the key was added: private and public object
    assert bytes.fromhex(objs[0][1][ID]).hex() == out["private"]["CKA_ID"]


def test_wrong_pin_is_auth_error_and_store_unchanged(token):
    env, store, tpm = token
    before = _digest(store)
    proc = run_ptool(["addkey", "--label", "tok", "--algorithm", "ecc256", "--userpin", "wrong"], env,
                     check=False)
    reset_lockout(tpm.tcti)
    assert proc.returncode == 3, proc.stderr
    assert "wrong PIN" in proc.stderr and "hint:" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 3  # argv warning, error, hint
    assert _digest(store) == before
    assert_no_tpm_leaks(tpm.tcti)


@pytest.mark.parametrize("args, code, needle", [
    (["--label", "nope", "--algorithm", "ecc256"], 6, 'No token labeled "nope"'),
    (["--label", "tok", "--algorithm", "ecc999"], 2, "argument --algorithm: invalid choice: 'ecc999'"),
    (["--label", "tok"], 2, "--algorithm"),
    (["--label", "tok", "--algorithm", "ecc256", "--userpin", "u", "--sopin", "s"], 2, "excludes"),
])
def test_bad_input(token, args, code, needle):
    env, store, _ = token
    before = _digest(store)
    proc = run_ptool(["addkey", *args], env, check=False)
    assert proc.returncode == code, proc.stderr
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _digest(store) == before


def test_empty_user_pin_token_needs_no_pin(swtpm, store):
    env = ptool_env(swtpm, store)
    run_ptool(["init"], env)
    run_ptool(["addtoken", "--pid", "1", "--label", "open", "--sopin", "so", "--userpin", ""], env)
    run_ptool(["addkey", "--label", "open", "--algorithm", "ecc256"], env, input="")
    assert len(store_query(store, "SELECT id FROM tobjects")) == 2
