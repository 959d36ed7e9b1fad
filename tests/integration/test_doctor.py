"""tpm2-ptool doctor on swtpm: OK, WARN and FAIL findings and the exit status."""

import os
import re

import pytest

from ptool_fixtures import base_env, ptool_env, reset_lockout, run, run_ptool


def _doctor(env, *args):
    proc = run_ptool([*args, "doctor"], env, check=False)
    lines = proc.stdout.splitlines()
    # Every finding is tagged; hints are indented below their finding.
    for line in lines:
        assert re.match(r"(OK  |WARN|FAIL)  \S|      hint: \S", line), line
    return proc, lines


def _find(lines, tag, pattern):
    hits = [l for l in lines if re.match(tag, l) and re.search(pattern, l)]
    assert hits, f"no {tag} line matching {pattern!r} in:\n" + "\n".join(lines)
    return hits[0]


def _tpm2_tools(swtpm, *args):
    env = base_env()
    return run([args[0], "-T", swtpm.tcti, *args[1:]], env=env)


@pytest.fixture
def token(swtpm, store):
    env = ptool_env(swtpm, store, TPM2_PTOOL_SOPIN="so", TPM2_PTOOL_USERPIN="user")
    run_ptool(["init"], env)
    run_ptool(["addtoken", "--pid", "1", "--label", "laptop"], env)
    run_ptool(["addkey", "--label", "laptop", "--algorithm", "ecc256"], env)
    return env


def test_healthy_store_and_tpm(swtpm, store, token):
    proc, lines = _doctor(token)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not [l for l in lines if l.startswith("FAIL")]
    _find(lines, "OK", rf"TCTI {re.escape(swtpm.tcti)} \(from TPM2_PKCS11_TCTI\): the TPM answers")
    _find(lines, "WARN", r"resource manager: none \(swtpm is a simulator link\)")
    _find(lines, "OK", r"TPM: manufacturer IBM, .*firmware \d+\.\d+\.\d+\.\d+")
    algs = _find(lines, "OK", r"addkey algorithms: ").split(": ", 1)[1]
    assert {"rsa2048", "ecc256", "ecc384", "aes128", "hmac:sha256"} <= set(algs.split())
    _find(lines, "OK", r"persistent handle 0x81000001: primary 1$")
    _find(lines, "OK", r"dictionary-attack lockout: 0 of \d+ failures$")
    _find(lines, "OK", rf"store: {re.escape(str(store))}/tpm2_pkcs11.sqlite3$")
    _find(lines, "OK", r"store directory .* mode 0700$")
    _find(lines, "OK", r"store database .* mode 0600$")
    _find(lines, "OK", r"^OK    schema version 8$")
    _find(lines, "OK", r"rows: 1 primaries, 1 tokens, 1 seal objects, 2 objects$")
    _find(lines, "OK|WARN", r"OpenSSH")
    _find(lines, "OK", r"upstream libtpm2_pkcs11: ")


def test_unreachable_tcti_fails_but_store_is_still_checked(token, store):
    proc, lines = _doctor(token, "--tcti", "swtpm:host=127.0.0.1,port=1")
    assert proc.returncode == 1
    _find(lines, "FAIL", r"TCTI swtpm:host=127.0.0.1,port=1 \(from --tcti\): cannot reach the TPM")
    assert lines[lines.index(_find(lines, "FAIL", "TCTI")) + 1].startswith("      hint: ")
    _find(lines, "OK", r"rows: 1 primaries")
    assert "doctor found 1 problem" in proc.stderr


def test_old_and_bak_files_warn_without_failing(token, store):
    (store / "tpm2_pkcs11.sqlite3.old").write_bytes(b"")
    (store / "tpm2_pkcs11.sqlite3.bak").write_bytes(b"")
    proc, lines = _doctor(token)
    assert proc.returncode == 0
    _find(lines, "WARN", r"tpm2_pkcs11\.sqlite3\.old exists; libtpm2_pkcs11 1\.9\.0 refuses")
    _find(lines, "WARN", r"tpm2_pkcs11\.sqlite3\.bak exists; upstream's tool refuses to upgrade")


def test_writable_store_warns(token, store):
    os.chmod(store, 0o770)
    proc, lines = _doctor(token)
    assert proc.returncode == 0
    _find(lines, "WARN", r"store directory .* is group/world writable \(0770\)")


def test_orphan_default_primary_and_missing_handle(swtpm, store, token, tmp_path):
    # A tpm2-tools default primary persisted by hand, used by no row ...
    ctx = tmp_path / "prim.ctx"
    _tpm2_tools(swtpm, "tpm2_createprimary", "-C", "o", "-c", ctx)
    _tpm2_tools(swtpm, "tpm2_evictcontrol", "-C", "o", "-c", ctx, "0x81000007")
    # ... and the store's own primary gone from the TPM.
    _tpm2_tools(swtpm, "tpm2_evictcontrol", "-C", "o", "-c", "0x81000001")
    proc, lines = _doctor(token)
    assert proc.returncode == 1
    # Not "unused": other stores or tools may own it, so no eviction is suggested.
    _find(lines, "OK", r"persistent handle 0x81000007: a tpm2-tools-default primary not used by "
                       r"this store \(other stores or tools may own it")
    assert "destroy" not in proc.stdout, proc.stdout
    _find(lines, "FAIL", r"primary 1 uses persistent handle 0x81000001, which is empty in this "
                         r"TPM")
    assert "init --repair --pid 1" in proc.stdout, proc.stdout


def test_lockout_counter_warns(swtpm, token):
    bad = dict(token, TPM2_PTOOL_USERPIN="wrong")
    assert run_ptool(["addkey", "--label", "laptop", "--algorithm", "ecc256"], bad,
                     check=False).returncode == 3
    proc, lines = _doctor(token)
    assert proc.returncode == 0
    _find(lines, "WARN", r"dictionary-attack lockout: 1 of \d+ failures$")
    reset_lockout(swtpm)


def test_no_store_is_a_warning(swtpm, tmp_path):
    env = ptool_env(swtpm, tmp_path / "empty")
    proc, lines = _doctor(env)
    assert proc.returncode == 0
    _find(lines, "WARN", r"store: no tpm2_pkcs11.sqlite3 in ")
    _find(lines, "OK", r"persistent handles: none")
    assert not (tmp_path / "empty" / "tpm2_pkcs11.sqlite3").exists()
