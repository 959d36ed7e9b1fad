"""tpm2-ptool init against swtpm: persistent, adopted and transient primaries."""

import hashlib

import yaml

from ptool_fixtures import (assert_no_tpm_leaks, ptool_env, run, run_ptool, store_query,
                            tpm_handles)


def _init(env, *args, check=True):
    return run_ptool(["init", *args], env, check=check)


def _db_digest(store):
    db = store / "tpm2_pkcs11.sqlite3"
    return hashlib.sha256(db.read_bytes()).hexdigest() if db.exists() else None


def test_init_creates_persistent_primary(swtpm, store):
    env = ptool_env(swtpm, store)
    out = _init(env).stdout
    assert out == "action: Created\nid: 1\n\n"
    assert 0x81000001 in tpm_handles(swtpm.tcti, "persistent")
    (hierarchy, config, objauth), = store_query(store, "SELECT hierarchy, config, objauth FROM pobjects")
    assert (hierarchy, objauth) == ("o", "")
    parsed = yaml.safe_load(config)
    assert parsed["transient"] is False
    assert parsed["esys-tr"].startswith("81000001")
    assert store_query(store, "SELECT schema_version FROM schema") == [(8,)]
    assert (store.stat().st_mode & 0o777) == 0o700
    assert ((store / "tpm2_pkcs11.sqlite3").stat().st_mode & 0o777) == 0o600
    assert_no_tpm_leaks(swtpm.tcti)


def test_second_init_reuses_the_default_primary(swtpm, store):
    env = ptool_env(swtpm, store)
    _init(env)
    out = yaml.safe_load(_init(env).stdout)
    assert out == {"action": "Added", "id": 2}
    assert tpm_handles(swtpm.tcti, "persistent") == [0x81000001]


def test_init_takes_first_free_handle_when_the_default_is_taken(swtpm, store, tmp_path):
    env = ptool_env(swtpm, store)
    # An ECC primary at 0x81000001: not the template init uses, so not reused.
    ctx = tmp_path / "ecc.ctx"
    run(["tpm2_createprimary", "-T", swtpm.tcti, "-C", "o", "-G", "ecc", "-c", ctx], env=env)
    run(["tpm2_evictcontrol", "-T", swtpm.tcti, "-C", "o", "-c", ctx, "0x81000001"], env=env)
    run(["tpm2_flushcontext", "-T", swtpm.tcti, "-t"], env=env)
    out = yaml.safe_load(_init(env).stdout)
    assert out == {"action": "Created", "id": 1}
    assert sorted(tpm_handles(swtpm.tcti, "persistent")) == [0x81000000, 0x81000001]


def test_init_adopts_existing_handle(swtpm, store, tmp_path):
    env = ptool_env(swtpm, store)
    _init(env)
    other = tmp_path / "other"
    other.mkdir()
    env2 = ptool_env(swtpm, other, home=tmp_path / "home")
    out = run_ptool(["init", "--primary-handle", "0x81000001"], env2).stdout
    assert out == "action: Added\nid: 1\n\n"
    # same serialized handle as the store that created it
    assert store_query(other, "SELECT config FROM pobjects") == store_query(store, "SELECT config FROM pobjects")


def test_init_unknown_handle_is_not_found(swtpm, store):
    env = ptool_env(swtpm, store)
    _init(env)  # make the store exist so we can check it stays unchanged
    before = _db_digest(store)
    proc = _init(env, "--primary-handle", "0x81000010", check=False)
    assert proc.returncode == 6, proc.stderr
    assert "0x81000010" in proc.stderr and len(proc.stderr.strip().splitlines()) <= 2
    assert _db_digest(store) == before


def test_init_transient_parent(swtpm, store):
    env = ptool_env(swtpm, store)
    for template in ("tpm2-tools-default", "tpm2-tools-ecc-default", "tss2-engine-key"):
        out = yaml.safe_load(_init(env, "--transient-parent", template).stdout)
        config = yaml.safe_load(store_query(store, "SELECT config FROM pobjects WHERE id=?", (out["id"],))[0][0])
        assert config == {"transient": True, "template-name": template}
    assert tpm_handles(swtpm.tcti, "persistent") == []
    assert_no_tpm_leaks(swtpm.tcti)


def test_init_bad_template_is_usage_error(swtpm, store):
    env = ptool_env(swtpm, store)
    proc = _init(env, "--transient-parent", "nope", check=False)
    assert proc.returncode == 2
    assert "nope" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_init_with_owner_password(swtpm, store, tmp_path):
    env = ptool_env(swtpm, store)
    run(["tpm2_changeauth", "-T", swtpm.tcti, "-c", "owner", "ownerpw"], env=env)
    proc = _init(env, check=False)
    assert proc.returncode == 3, proc.stderr
    assert "--hierarchy-auth" in proc.stderr
    assert tpm_handles(swtpm.tcti, "persistent") == []
    auth = tmp_path / "owner"
    auth.write_text("ownerpw\n")
    auth.chmod(0o600)
    out = yaml.safe_load(_init(env, "--hierarchy-auth-file", auth, "--primary-auth", "pobj").stdout)
    assert out["id"] == 1
    assert store_query(store, "SELECT objauth FROM pobjects") == [("pobj",)]
    assert tpm_handles(swtpm.tcti, "persistent") == [0x81000001]
    assert_no_tpm_leaks(swtpm.tcti)


def test_init_unreachable_tpm(store):
    env = ptool_env("swtpm:host=127.0.0.1,port=9", store)
    proc = _init(env, check=False)
    assert proc.returncode == 4
    assert "swtpm:host=127.0.0.1,port=9" in proc.stderr
    assert "hint:" in proc.stderr
