"""tpm2-ptool ssh-pubkey: authorized_keys lines from the store alone."""

import hashlib
import re
import subprocess

import pytest

from ptool_fixtures import add_token
from ptool_fixtures import base_env, ptool_env, run, run_ptool


@pytest.fixture(scope="module")
def token(swtpm_module, tmp_path_factory):
    store = tmp_path_factory.mktemp("sshpub") / "store"
    env = ptool_env(swtpm_module, store)
    run_ptool(["init"], env)
    add_token(env)
    for alg, label in (("ecc256", "p256"), ("ecc384", "p384"), ("ecc521", "p521"), ("rsa2048", "rsa"),
                       ("aes128", "aes"), ("hmac:sha256", "mac")):
        run_ptool(["addkey", "--label", "tok", "--algorithm", alg, "--key-label", label, "--id", label,
                   "--userpin", "user"], env)
    run_ptool(["addkey", "--label", "tok", "--algorithm", "ecc256", "--userpin", "user"], env)
    return env, store


def _lines(proc):
    return proc.stdout.splitlines()


def test_one_line_per_rsa_and_ec_key_in_object_order(token):
    env, _ = token
    lines = _lines(run_ptool(["ssh-pubkey", "--label", "tok"], env))
    assert [l.split()[0] for l in lines] == ["ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                                             "ecdsa-sha2-nistp521", "ssh-rsa", "ecdsa-sha2-nistp256"]
    assert [l.split(" ", 2)[2:] for l in lines][:4] == [["p256"], ["p384"], ["p521"], ["rsa"]]
    # The key without a label: "<token>/<CKA_ID hex>" as its comment (ssh-keygen -D has none).
    assert re.fullmatch(r"tok/[0-9a-f]{32}", lines[-1].split(" ", 2)[2])


def test_lines_are_valid_openssh_keys(token, tmp_path):
    env, _ = token
    for i, line in enumerate(_lines(run_ptool(["ssh-pubkey", "--label", "tok"], env))):
        f = tmp_path / f"k{i}.pub"
        f.write_text(line + "\n")
        fp = run(["ssh-keygen", "-l", "-f", f], env=base_env()).stdout
        bits = {"ecdsa-sha2-nistp256": "256", "ecdsa-sha2-nistp384": "384",
                "ecdsa-sha2-nistp521": "521", "ssh-rsa": "2048"}[line.split()[0]]
        assert fp.startswith(bits + " SHA256:")


def test_filters(token):
    env, _ = token
    assert _lines(run_ptool(["ssh-pubkey", "--label", "tok", "--key-label", "rsa"], env))[0].startswith("ssh-rsa ")
    by_text = _lines(run_ptool(["ssh-pubkey", "--label", "tok", "--id", "p384"], env))
    by_hex = _lines(run_ptool(["ssh-pubkey", "--label", "tok", "--id", b"p384".hex()], env))
    assert by_text == by_hex and len(by_text) == 1 and by_text[0].endswith(" p384")


@pytest.mark.parametrize("args, code", [
    (["--label", "nope"], 6),
    (["--label", "tok", "--key-label", "missing"], 6),
    (["--label", "tok", "--key-label", "aes"], 6),  # AES keys have no OpenSSH form
    (["--label", "tok", "--key-label", "a", "--id", "b"], 2),
    ([], 2),
])
def test_errors(token, args, code):
    env, store = token
    before = hashlib.sha256((store / "tpm2_pkcs11.sqlite3").read_bytes()).hexdigest()
    proc = run_ptool(["ssh-pubkey", *args], env, check=False)
    assert proc.returncode == code, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.startswith("tpm2-ptool: error:")
    assert hashlib.sha256((store / "tpm2_pkcs11.sqlite3").read_bytes()).hexdigest() == before


def test_needs_no_tpm(token):
    env, store = token
    dead = ptool_env("swtpm:host=127.0.0.1,port=9", store)
    assert _lines(run_ptool(["ssh-pubkey", "--label", "tok"], dead)) == \
        _lines(run_ptool(["ssh-pubkey", "--label", "tok"], env))


def test_missing_store_is_not_found(tmp_path):
    env = ptool_env("swtpm:host=127.0.0.1,port=9", tmp_path / "nostore")
    proc = run_ptool(["ssh-pubkey", "--label", "tok"], env, check=False)
    assert proc.returncode == 6
    assert "no store at" in proc.stderr
    assert not (tmp_path / "nostore").exists()  # reading never creates a store
