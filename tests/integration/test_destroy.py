"""tpm2-ptool destroy: store rows and the persistent handle go together, or neither."""

import hashlib

from ptool_fixtures import (assert_no_tpm_leaks, base_env, ptool_env, run, run_ptool,
                            store_query, tpm_handles)


def _digest(store):
    return hashlib.sha256((store / "tpm2_pkcs11.sqlite3").read_bytes()).hexdigest()


def _counts(store):
    return [store_query(store, f"SELECT count(*) FROM {t}")[0][0]
            for t in ("pobjects", "tokens", "sealobjects", "tobjects")]


def _provision(env, pid="1"):
    run_ptool(["addtoken", "--pid", pid, "--label", f"tok{pid}", "--sopin", "so", "--userpin",
               "user"], env)
    run_ptool(["addkey", "--label", f"tok{pid}", "--algorithm", "ecc256", "--userpin", "user"], env)


def _refused(env, store, args, code, needle, tcti):
    before, handles = _digest(store), tpm_handles(tcti, "persistent")
    proc = run_ptool(args, env, check=False)
    assert proc.returncode == code, proc.stderr
    assert needle in proc.stderr, proc.stderr
    assert _digest(store) == before
    assert tpm_handles(tcti, "persistent") == handles


def test_destroy_removes_rows_and_evicts(swtpm, store):
    env = ptool_env(swtpm, store)
    run_ptool(["init"], env)
    _provision(env)
    assert tpm_handles(swtpm.tcti, "persistent") == [0x81000001]
    _refused(env, store, ["destroy", "--pid", "1"], 2, "add --yes", swtpm.tcti)
    _refused(env, store, ["destroy", "--pid", "9", "--yes"], 6, "No primary object id: 9",
             swtpm.tcti)
    # Answering anything but y on the prompt changes nothing (stdin is not a tty here, so
    # the question is only asked with a terminal; --yes is the scripted path).
    run_ptool(["destroy", "--pid", "1", "--yes"], env)
    assert tpm_handles(swtpm.tcti, "persistent") == []
    assert _counts(store) == [0, 0, 0, 0]
    assert_no_tpm_leaks(swtpm.tcti)


def test_destroy_refuses_shared_handle(swtpm, store):
    env = ptool_env(swtpm, store)
    run_ptool(["init"], env)
    run_ptool(["init", "--primary-handle", "0x81000001"], env)
    _provision(env, "1")
    _provision(env, "2")
    _refused(env, store, ["destroy", "--pid", "1", "--yes"], 1,
             "primary 2 also uses persistent handle 0x81000001", swtpm.tcti)
    run_ptool(["destroy", "--pid", "1", "--yes", "--keep-handle"], env)
    assert tpm_handles(swtpm.tcti, "persistent") == [0x81000001]
    assert store_query(store, "SELECT id FROM pobjects") == [(2,)]
    assert store_query(store, "SELECT label FROM tokens") == [("tok2",)]
    run_ptool(["destroy", "--pid", "2", "--yes"], env)
    assert tpm_handles(swtpm.tcti, "persistent") == []
    assert _counts(store) == [0, 0, 0, 0]


def test_destroy_with_hierarchy_auth(swtpm, store):
    env = ptool_env(swtpm, store)
    run(["tpm2_changeauth", "-T", swtpm.tcti, "-c", "o", "ownerpw"], env=base_env())
    run_ptool(["init", "--hierarchy-auth", "ownerpw"], env)
    _provision(env)
    _refused(env, store, ["destroy", "--pid", "1", "--yes", "--hierarchy-auth", "wrong"], 3,
             "TPM2_EvictControl", swtpm.tcti)
    run_ptool(["destroy", "--pid", "1", "--yes", "--hierarchy-auth", "ownerpw"], env)
    assert tpm_handles(swtpm.tcti, "persistent") == []
    assert _counts(store) == [0, 0, 0, 0]
    assert_no_tpm_leaks(swtpm.tcti)
    run(["tpm2_dictionarylockout", "-T", swtpm.tcti, "-c"], env=base_env())


def test_destroy_transient_primary_and_vanished_handle(swtpm, store):
    env = ptool_env(swtpm, store)
    run_ptool(["init", "--transient-parent"], env)
    run_ptool(["init"], env)
    run_ptool(["destroy", "--pid", "1", "--yes"], env)
    assert tpm_handles(swtpm.tcti, "persistent") == [0x81000001]
    assert store_query(store, "SELECT id FROM pobjects") == [(2,)]
    # The handle disappears behind the store's back: destroy still removes the rows.
    run(["tpm2_evictcontrol", "-T", swtpm.tcti, "-C", "o", "-c", "0x81000001"], env=base_env())
    proc = run_ptool(["destroy", "--pid", "2", "--yes"], env)
    assert "already gone" in proc.stderr
    assert _counts(store) == [0, 0, 0, 0]


def test_destroy_handle_evicts_only_orphaned_primaries(swtpm, store):
    """An init killed after TPM2_EvictControl leaves a primary no row uses: doctor reports it
    and destroy --handle frees it; rows' handles and foreign objects are refused."""
    env = ptool_env(swtpm, store)
    run_ptool(["init"], env)
    # A primary with an auth is never shared, so this one is persisted at a handle of its own.
    run_ptool(["init"], dict(env, TPM2_PTOOL_PRIMARY_AUTH="second"))
    # Simulate the interrupted init: the second primary's row never committed.
    run(["sqlite3", store / "tpm2_pkcs11.sqlite3", "DELETE FROM pobjects WHERE id = 2"])
    handles = tpm_handles(swtpm.tcti, "persistent")
    assert len(handles) == 2 and 0x81000001 in handles
    orphan = f"{(set(handles) - {0x81000001}).pop():#010x}"
    doctor = run_ptool(["doctor"], env, check=False).stdout
    # Never advice to evict: other stores or tools may use a primary this store does not.
    assert f"persistent handle {orphan}: a tpm2-tools-default primary not used by this store" \
        in doctor, doctor
    assert "destroy --handle" not in doctor, doctor

    _refused(env, store, ["destroy", "--handle", "0x81000001", "--yes"], 2,
             "primary 1 uses persistent handle 0x81000001", swtpm.tcti)
    _refused(env, store, ["destroy", "--handle", "0x81000009", "--yes"], 6,
             "nothing at persistent handle 0x81000009", swtpm.tcti)
    _refused(env, store, ["destroy", "--handle", "0x80000001", "--yes"], 2,
             "not a persistent handle", swtpm.tcti)
    _refused(env, store, ["destroy", "--handle", orphan], 2, "add --yes", swtpm.tcti)
    _refused(env, store, ["destroy", "--handle", orphan, "--pid", "1", "--yes"], 2,
             "excludes", swtpm.tcti)
    _refused(env, store, ["destroy", "--yes"], 2, "exactly one of --pid", swtpm.tcti)

    # Someone else's key (an ordinary key persisted under a primary) is never evicted: unlike
    # a primary, it cannot be re-created from the hierarchy's seed.
    d = store.parent
    flush = ["tpm2_flushcontext", "-T", swtpm.tcti, "-t"]
    run(["tpm2_createprimary", "-T", swtpm.tcti, "-C", "o", "-c", d / "p.ctx"], env=env)
    run(flush, env=env)
    run(["tpm2_create", "-T", swtpm.tcti, "-C", d / "p.ctx", "-G", "ecc", "-u", d / "k.pub",
         "-r", d / "k.priv"], env=env)
    run(flush, env=env)
    run(["tpm2_load", "-T", swtpm.tcti, "-C", d / "p.ctx", "-u", d / "k.pub", "-r", d / "k.priv",
         "-c", d / "k.ctx"], env=env)
    run(["tpm2_evictcontrol", "-T", swtpm.tcti, "-C", "o", "-c", d / "k.ctx", "0x81000010"],
        env=env)
    run(flush, env=env)
    _refused(env, store, ["destroy", "--handle", "0x81000010", "--yes"], 1,
             "did not make; refusing", swtpm.tcti)

    run_ptool(["destroy", "--handle", orphan, "--yes"], env)
    assert tpm_handles(swtpm.tcti, "persistent") == [0x81000001, 0x81000010]
    assert store_query(store, "SELECT id FROM pobjects") == [(1,)]
    assert orphan not in run_ptool(["doctor"], env, check=False).stdout
    assert_no_tpm_leaks(swtpm.tcti)
