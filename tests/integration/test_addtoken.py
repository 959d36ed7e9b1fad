"""tpm2-ptool addtoken: seal objects, config, PIN sources, label rules."""

import hashlib
import os

import pytest
import yaml

from ptool_fixtures import assert_no_tpm_leaks, ptool_env, run_ptool, store_query


@pytest.fixture
def env(swtpm, store):
    e = ptool_env(swtpm, store)
    run_ptool(["init"], e)
    return e


def _digest(store):
    return hashlib.sha256((store / "tpm2_pkcs11.sqlite3").read_bytes()).hexdigest()


def _config(store, label):
    return yaml.safe_load(store_query(store, "SELECT config FROM tokens WHERE label=?", (label,))[0][0])


def test_addtoken_writes_token_and_seal_objects(env, store, swtpm):
    proc = run_ptool(["addtoken", "--pid", "1", "--label", "tok", "--sopin", "so", "--userpin", "user"], env)
    assert proc.stdout == ""
    assert "visible to other users" in proc.stderr  # PINs on argv are warned about
    config = _config(store, "tok")
    assert config["token-init"] is True
    assert isinstance(config["pss-sigs-good"], bool)
    assert "empty-user-pin" not in config
    (tokid, userpub, userpriv, usalt, sopub, sopriv, ssalt), = store_query(
        store, "SELECT tokid, userpub, userpriv, userauthsalt, sopub, sopriv, soauthsalt FROM sealobjects")
    assert tokid == 1
    for blob in (userpub, userpriv, sopub, sopriv):
        assert isinstance(blob, bytes) and int.from_bytes(blob[:2], "big") == len(blob) - 2
    assert len(usalt) == 64 and len(ssalt) == 64 and usalt != ssalt
    assert_no_tpm_leaks(swtpm.tcti)


def test_empty_user_pin_sets_flag(env, store):
    run_ptool(["addtoken", "--pid", "1", "--label", "nopin", "--sopin", "so", "--userpin", ""], env)
    assert _config(store, "nopin")["empty-user-pin"] is True


def test_pins_from_files_env_and_stdin(env, store, tmp_path):
    so = tmp_path / "so"
    so.write_text("sopin\n")
    so.chmod(0o600)
    env2 = dict(env, TPM2_PTOOL_USERPIN="userpin")
    proc = run_ptool(["addtoken", "--pid", "1", "--label", "files", "--sopin-file", so], env2)
    assert proc.stderr == ""
    run_ptool(["addtoken", "--pid", "1", "--label", "stdin", "--sopin-file", "-", "--userpin-file", so],
              env, input="fromstdin\n")
    # the PINs work: addkey with each
    run_ptool(["addkey", "--label", "files", "--algorithm", "ecc256"], env2)
    run_ptool(["addkey", "--label", "stdin", "--algorithm", "ecc256", "--sopin-file", "-"], env,
              input="fromstdin")


def test_group_readable_pin_file_refused(env, store, tmp_path):
    pin = tmp_path / "pin"
    pin.write_text("x")
    pin.chmod(0o644)
    before = _digest(store)
    proc = run_ptool(["addtoken", "--pid", "1", "--label", "t", "--sopin-file", pin, "--userpin-file", pin],
                     env, check=False)
    assert proc.returncode == 2
    assert "chmod 600" in proc.stderr
    assert _digest(store) == before


def test_missing_pin_without_terminal_is_usage_error(env, store):
    before = _digest(store)
    proc = run_ptool(["addtoken", "--pid", "1", "--label", "t"], env, check=False, input="")
    assert proc.returncode == 2
    assert "--sopin-file" in proc.stderr
    assert _digest(store) == before


@pytest.mark.parametrize("label, code", [
    ("x" * 32, 2),        # over-long: 31 bytes fit in the PKCS#11 label field
    ("", 2),
])
def test_bad_labels(env, store, label, code):
    before = _digest(store)
    proc = run_ptool(["addtoken", "--pid", "1", "--label", label, "--sopin", "s", "--userpin", "u"],
                     env, check=False)
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.startswith("tpm2-ptool: error:")
    assert _digest(store) == before


def test_duplicate_label_and_unknown_pid(env, store):
    run_ptool(["addtoken", "--pid", "1", "--label", "dup", "--sopin", "s", "--userpin", "u"], env)
    before = _digest(store)
    proc = run_ptool(["addtoken", "--pid", "1", "--label", "dup", "--sopin", "s", "--userpin", "u"],
                     env, check=False)
    assert proc.returncode == 2 and "already exists" in proc.stderr
    proc = run_ptool(["addtoken", "--pid", "7", "--label", "other", "--sopin", "s", "--userpin", "u"],
                     env, check=False)
    assert proc.returncode == 6 and "No primary object id: 7" in proc.stderr
    assert _digest(store) == before


def test_31_byte_label_is_fine(env, store):
    label = "L" * 31
    run_ptool(["addtoken", "--pid", "1", "--label", label, "--sopin", "s", "--userpin", "u"], env)
    assert store_query(store, "SELECT label FROM tokens") == [(label,)]


def test_transient_primary_token(swtpm, store):
    env = ptool_env(swtpm, store)
    run_ptool(["init", "--transient-parent"], env)
    run_ptool(["addtoken", "--pid", "1", "--label", "t", "--sopin", "s", "--userpin", "u"], env)
    run_ptool(["addkey", "--label", "t", "--algorithm", "ecc256", "--userpin", "u"], env)
    assert len(store_query(store, "SELECT id FROM tobjects")) == 2
    assert_no_tpm_leaks(swtpm.tcti)
