"""Primaries shared between stores: init reuses an identical primary instead of
persisting a copy, doctor never advises evicting a handle another store may use, a lost
primary is repaired from its template, and a failed init leaves no store behind."""

import hashlib

import yaml

from ptool_fixtures import (PTOOL_MODULE, assert_no_tpm_leaks, base_env, ptool_env, run,
                            run_ptool, store_query, tpm_handles)

SO, USER = "sopin", "userpin"


def _token(env, pid=1, label="tok"):
    run_ptool(["addtoken", "--pid", str(pid), "--label", label, "--sopin", SO, "--userpin",
               USER], env)


def _addkey(env, key, label="tok", check=True):
    return run_ptool(["addkey", "--label", label, "--algorithm", "ecc256", "--key-label", key,
                      "--userpin", USER], env, check=check)


def _digest(store):
    return hashlib.sha256((store / "tpm2_pkcs11.sqlite3").read_bytes()).hexdigest()


def _sign_through_module(env, tmp_path, key):
    digest = tmp_path / "digest.bin"
    digest.write_bytes(hashlib.sha256(b"issue 16").digest())
    sig = tmp_path / f"{key}.sig"
    run(["pkcs11-tool", "--module", PTOOL_MODULE, "--token-label", "tok", "--login", "--pin",
         USER, "--sign", "-m", "ECDSA", "--label", key, "-i", digest, "-o", sig], env=env)
    assert sig.stat().st_size == 64  # raw r||s of P-256


def test_init_reuses_identical_primary_and_doctor_never_advises_eviction(swtpm, tmp_path):
    stores = []
    for name in ("a", "b", "c"):
        d = tmp_path / name
        d.mkdir(mode=0o700)
        stores.append((d, ptool_env(swtpm, d, home=tmp_path / f"home-{name}")))
    (a, env_a), (b, env_b), (c, env_c) = stores
    assert run_ptool(["init"], env_a).stdout == "action: Created\nid: 1\n\n"
    # A second store (another user, another --path) takes the same primary, as upstream's
    # init --primary-handle does, instead of persisting an identical copy at 0x81000000.
    assert run_ptool(["init"], env_b).stdout == "action: Added\nid: 1\n\n"
    assert run_ptool(["init"], env_b).stdout == "action: Added\nid: 2\n\n"  # a rerun too
    assert tpm_handles(swtpm.tcti, "persistent") == [0x81000001]
    assert store_query(b, "SELECT config FROM pobjects WHERE id=1") == \
        store_query(a, "SELECT config FROM pobjects")
    _token(env_b)
    assert "private" in yaml.safe_load(_addkey(env_b, "kb").stdout)

    # A primary with an auth value is never shared: init persists its own.
    out = run_ptool(["init", "--primary-auth", "pa"], env_c).stdout
    assert out == "action: Created\nid: 1\n\n"
    assert sorted(tpm_handles(swtpm.tcti, "persistent")) == [0x81000000, 0x81000001]

    # Store c does not use 0x81000001; a, b and other tools may: no eviction advice.
    doctor = run_ptool(["doctor"], env_c, check=False)
    line = [ln for ln in doctor.stdout.splitlines() if "0x81000001" in ln]
    assert line and "not used by this store" in line[0], doctor.stdout
    assert "other stores or tools may own it" in line[0]
    assert "destroy" not in doctor.stdout and "free it" not in doctor.stdout
    assert_no_tpm_leaks(swtpm.tcti)


def test_evicted_primary_is_repaired(swtpm, store, tmp_path):
    env = ptool_env(swtpm, store)
    run_ptool(["init"], env)
    _token(env)
    _addkey(env, "k1")
    run(["tpm2_evictcontrol", "-T", swtpm.tcti, "-C", "o", "-c", "0x81000001"], env=base_env())

    doctor = run_ptool(["doctor"], env, check=False)
    assert doctor.returncode == 1, doctor.stdout
    assert "FAIL  primary 1 uses persistent handle 0x81000001, which is empty" in doctor.stdout
    assert "tpm2-ptool init --repair --pid 1" in doctor.stdout
    assert "destroy" not in doctor.stdout
    proc = _addkey(env, "k2", check=False)
    assert proc.returncode == 1, proc.stderr
    assert "init --repair --pid 1" in proc.stderr and "destroy" not in proc.stderr

    before = _digest(store)
    assert run_ptool(["init", "--repair", "--pid", "1"], env).stdout == \
        "action: Repaired\nid: 1\n\n"
    assert tpm_handles(swtpm.tcti, "persistent") == [0x81000001]
    assert _digest(store) == before  # the row was right all along
    assert run_ptool(["init", "--repair", "--pid", "1"], env).stdout == \
        "action: Present\nid: 1\n\n"
    assert run_ptool(["doctor"], env).returncode == 0
    _addkey(env, "k2")
    run_ptool(["verify", "--label", "tok", "--userpin", USER], env)
    _sign_through_module(env, tmp_path, "k1")  # a key made before the eviction
    assert_no_tpm_leaks(swtpm.tcti)

    proc = run_ptool(["init", "--repair"], env, check=False)
    assert proc.returncode == 2 and "--pid" in proc.stderr
    proc = run_ptool(["init", "--repair", "--pid", "9"], env, check=False)
    assert proc.returncode == 6, proc.stderr


def test_repair_after_tpm_clear_says_the_keys_are_gone(swtpm, store):
    env = ptool_env(swtpm, store)
    run_ptool(["init"], env)
    _token(env)
    _addkey(env, "k1")
    run(["tpm2_clear", "-T", swtpm.tcti], env=base_env())  # new owner seed, handles evicted
    before = _digest(store)
    doctor = run_ptool(["doctor"], env, check=False).stdout
    assert "init --repair --pid 1" in doctor and "destroy" not in doctor
    proc = run_ptool(["init", "--repair", "--pid", "1"], env, check=False)
    assert proc.returncode == 1, proc.stderr
    assert "the TPM was cleared" in proc.stderr
    assert "the keys under primary 1 are gone" in proc.stderr
    assert tpm_handles(swtpm.tcti, "persistent") == []
    assert _digest(store) == before
    assert_no_tpm_leaks(swtpm.tcti)


def test_failed_init_leaves_no_store(tmp_path):
    dead = "swtpm:host=127.0.0.1,port=1"
    fresh = tmp_path / "fresh"
    proc = run_ptool(["init"], ptool_env(dead, fresh), check=False)
    assert proc.returncode == 4, proc.stderr
    assert not fresh.exists()  # neither the database nor the directory this run made
    existing = tmp_path / "existing"
    existing.mkdir(mode=0o700)
    proc = run_ptool(["init"], ptool_env(dead, existing), check=False)
    assert proc.returncode == 4, proc.stderr
    assert existing.is_dir() and list(existing.iterdir()) == []
    proc = run_ptool(["listprimaries"], ptool_env(dead, existing), check=False)
    assert proc.returncode == 6 and "no store at" in proc.stderr


def test_doctor_fix_repairs_an_evicted_primary(swtpm, store, tmp_path):
    from test_newcomer_frictions import _in_tmux
    env = ptool_env(swtpm, store)
    run_ptool(["init"], env)
    _token(env)
    _addkey(env, "k1")
    evict = ["tpm2_evictcontrol", "-T", swtpm.tcti, "-C", "o", "-c", "0x81000001"]
    run(evict, env=base_env())
    before = _digest(store)

    # A script without --yes: nothing changes, and the finding says how.
    proc = run_ptool(["doctor", "--fix"], env, check=False)
    assert proc.returncode == 1, proc.stdout
    assert "FAIL  primary 1 uses persistent handle 0x81000001, which is empty in this TPM; " \
           "not repaired without a terminal" in proc.stdout
    assert "doctor --fix --yes" in proc.stdout and "destroy" not in proc.stdout
    assert tpm_handles(swtpm.tcti, "persistent") == []

    # On a terminal it asks; "n" leaves it, "y" repairs.
    screen = _in_tmux(tmp_path, env, ["doctor", "--fix"], "n")
    assert "Re-create primary 1 from its template at 0x81000001" in screen
    assert "not repaired (declined)" in screen and "EXIT=1" in screen
    assert tpm_handles(swtpm.tcti, "persistent") == []
    screen = _in_tmux(tmp_path, env, ["doctor", "--fix"], "y")
    assert "OK    primary 1: re-created at persistent handle 0x81000001" in screen, screen
    assert "EXIT=0" in screen
    assert tpm_handles(swtpm.tcti, "persistent") == [0x81000001]

    # --yes in a script, and the keys made before the eviction work again.
    run(evict, env=base_env())
    out = run_ptool(["doctor", "--fix", "--yes"], env).stdout
    assert "OK    primary 1: re-created at persistent handle 0x81000001; its keys load again" \
        in out
    assert _digest(store) == before
    _sign_through_module(env, tmp_path, "k1")
    assert_no_tpm_leaks(swtpm.tcti)
    assert run_ptool(["doctor", "--yes"], env, check=False).returncode == 2


def test_doctor_fix_after_tpm_clear_says_the_keys_are_gone(swtpm, store):
    env = ptool_env(swtpm, store)
    run_ptool(["init"], env)
    _token(env)
    _addkey(env, "k1")
    run(["tpm2_clear", "-T", swtpm.tcti], env=base_env())
    before = _digest(store)
    proc = run_ptool(["doctor", "--fix", "--yes"], env, check=False)
    assert proc.returncode == 1, proc.stdout
    assert "FAIL  primary 1 uses persistent handle 0x81000001, which is empty in this TPM; " \
           "cannot repair primary 1" in proc.stdout
    assert "the TPM was cleared" in proc.stdout
    assert "the keys under primary 1 are gone" in proc.stdout
    assert tpm_handles(swtpm.tcti, "persistent") == []
    assert _digest(store) == before
    assert_no_tpm_leaks(swtpm.tcti)
