"""SIGKILL at random moments: the store never loses or half-writes anything.

``tpm2-ptool addkey`` is killed after a random delay between 0 and the
measured duration of one addkey, 200 times; ``init`` and ``changepin`` are
killed the same way fewer times.  After every kill the database passes
``PRAGMA integrity_check``; at checkpoints (and at the end) every key row
present is complete (a private row with CKA_TPM2_OBJAUTH_ENC + PUB + PRIV
blobs and its public twin), no token is lost, ``ssh-pubkey`` prints one line
per key and the upstream PKCS#11 module (``ssh-keygen -D``) loads the store.

A process killed while it holds objects in the TPM cannot flush them: on a
direct TCTI (no resource manager) the TPM keeps those transient objects and
sessions.  That is the TPM's behaviour, not store damage, so between
iterations the test flushes them with ``tpm2_flushcontext -t`` / ``-l`` /
``-s``; without it the swtpm's three object slots fill up within a few
iterations.  A killed ``init`` may likewise leave a persistent primary
without a store row (killed between TPM2_EvictControl and COMMIT); the test
counts those orphans, prints them, and checks the next ``init`` still
succeeds by taking another free handle.
"""

import os
import random
import sqlite3
import signal
import subprocess
import time

import pytest
import yaml

from ptool_fixtures import add_token
from ptool_fixtures import (PTOOL_BIN, UPSTREAM_MODULE, base_env, ptool_env, requires_file,
                            requires_tool, reset_lockout, run, run_ptool, store_query, tpm_handles)

DB = "tpm2_pkcs11.sqlite3"
ADDKEY_KILLS = 200
INIT_KILLS = 20
CHANGEPIN_KILLS = 30
CHECK_EVERY = 25
CKA_CLASS, CKA_ID = 0, 0x102
OBJAUTH, PUB_BLOB, PRIV_BLOB = 0x8F000001, 0x8F000002, 0x8F000003

rng = random.Random(int(os.environ.get("PTOOL_CRASH_SEED", "0")) or None)


def _flush(tcti):
    env = base_env()
    for flag in ("-t", "-l", "-s"):
        subprocess.run(["tpm2_flushcontext", "-T", tcti, flag], env=env, capture_output=True)


def _killed_run(args, env, delay):
    """Start tpm2-ptool, SIGKILL it after ``delay`` seconds; return its exit status."""
    proc = subprocess.Popen([PTOOL_BIN, *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        proc.wait(delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    return proc.returncode, err


def _timed(args, env):
    start = time.monotonic()
    run_ptool(args, env)
    return time.monotonic() - start


def _integrity(store):
    """integrity_check through a connection that may write: a hot journal left by the killed
    process is rolled back first, as any reader (our tool, the module) does."""
    hot = (store / (DB + "-journal")).exists()
    con = sqlite3.connect(store / DB)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        con.close()
    return hot


def _keys_complete(store):
    """Return the number of complete key pairs; fail on any incomplete row."""
    rows = [yaml.safe_load(t) for (t,) in store_query(store, "SELECT attrs FROM tobjects")]
    private = [a for a in rows if a[CKA_CLASS] == 3]
    public = [a for a in rows if a[CKA_CLASS] == 2]
    for a in private:
        missing = {OBJAUTH, PUB_BLOB, PRIV_BLOB} - {k for k, v in a.items() if v}
        assert not missing, f"private key row without {missing}"
    assert sorted(a[CKA_ID] for a in private) == sorted(a[CKA_ID] for a in public)
    return len(private)


def _full_check(store, env, tcti, tokens):
    _integrity(store)
    keys = _keys_complete(store)
    assert sorted(r[0] for r in store_query(store, "SELECT label FROM tokens")) == tokens
    assert store_query(store, "SELECT count(*) FROM sealobjects")[0][0] == len(tokens)
    lines = run_ptool(["ssh-pubkey", "--label", "tok"], env).stdout.splitlines()
    assert len(lines) == keys
    module = run(["ssh-keygen", "-D", UPSTREAM_MODULE], env=env).stdout.splitlines()
    # The same keys (ssh-pubkey adds a "<token>/<id>" comment to keys without a label).
    assert sorted(l.split()[:2] for l in module) == sorted(l.split()[:2] for l in lines)
    _flush(tcti)  # the upstream module does not flush its objects on a direct TCTI
    return keys


@pytest.fixture
def crash_store(swtpm, store):
    requires_tool("ssh-keygen")
    requires_tool("tpm2_flushcontext")
    requires_file(UPSTREAM_MODULE, "upstream PKCS#11 module")
    env = ptool_env(swtpm, store)
    run_ptool(["init"], env)
    add_token(env)
    # One key: the upstream module's C_FindObjects path (ssh-keygen -D) needs something to list.
    run_ptool(["addkey", "--label", "tok", "--algorithm", "ecc256", "--userpin", "user"], env)
    return env


def test_sigkill_addkey(swtpm, store, crash_store):
    env = crash_store
    args = ["addkey", "--label", "tok", "--algorithm", "ecc256", "--userpin", "user"]
    duration = max(_timed(args, env) for _ in range(3))
    persistent = tpm_handles(swtpm.tcti, "persistent")
    completed = 1 + 3  # keys known to be committed
    outcomes = {"killed": 0, "finished": 0, "journals": 0}
    start = time.monotonic()
    for i in range(1, ADDKEY_KILLS + 1):
        rc, err = _killed_run(args, env, rng.uniform(0, duration))
        if rc == -signal.SIGKILL:
            outcomes["killed"] += 1
        else:
            assert rc == 0, err
            outcomes["finished"] += 1
            completed += 1
        outcomes["journals"] += (store / (DB + "-journal")).exists()
        _flush(swtpm.tcti)
        if i % 2:  # half the time our read-only path meets a left-over journal first
            run_ptool(["ssh-pubkey", "--label", "tok"], env)
        _integrity(store)
        if i % CHECK_EVERY == 0:
            keys = _full_check(store, env, swtpm.tcti, ["tok"])
            assert completed <= keys <= 4 + i
    keys = _full_check(store, env, swtpm.tcti, ["tok"])
    # The store still takes new keys and the PIN still works.
    run_ptool(args, env)
    assert _keys_complete(store) == keys + 1
    assert tpm_handles(swtpm.tcti, "persistent") == persistent
    print(f"\naddkey: {ADDKEY_KILLS} runs in {time.monotonic() - start:.0f}s, one addkey "
          f"{duration * 1000:.0f} ms; {outcomes['killed']} killed, {outcomes['finished']} "
          f"finished, {outcomes['journals']} left a journal; {keys - 4} keys in the store, "
          f"all complete")


def test_sigkill_init(swtpm, store, crash_store):
    # With a primary auth every init persists a primary of its own (a plain init would reuse
    # the one at 0x81000001), so kills between EvictControl and COMMIT can leave orphans.
    env = dict(crash_store, TPM2_PTOOL_PRIMARY_AUTH="killed-init")
    duration = _timed(["init"], env)
    start_rows = store_query(store, "SELECT count(*) FROM pobjects")[0][0]
    before = set(tpm_handles(swtpm.tcti, "persistent"))
    killed = 0
    for _ in range(INIT_KILLS):
        rc, err = _killed_run(["init"], env, rng.uniform(0, 1.5 * duration))
        killed += rc == -signal.SIGKILL
        assert rc in (0, -signal.SIGKILL), err
        _flush(swtpm.tcti)
        _integrity(store)
        # The next init still succeeds, whatever handle the killed one left behind.
    run_ptool(["init"], env)
    rows = store_query(store, "SELECT count(*) FROM pobjects")[0][0]
    handles = set(tpm_handles(swtpm.tcti, "persistent")) - before
    # Each row (other than the first) owns exactly one new persistent handle; the rest are
    # orphans a killed init made persistent before its COMMIT.
    orphans = len(handles) - (rows - start_rows)
    assert orphans >= 0
    assert len(_full_tokens(store)) == 1
    _full_check(store, env, swtpm.tcti, ["tok"])
    print(f"\ninit: {INIT_KILLS} runs, {killed} killed, {rows - start_rows - 1} committed, "
          f"{orphans} orphan persistent handle(s) without a row")


def _full_tokens(store):
    return store_query(store, "SELECT id FROM tokens")


def test_sigkill_changepin(swtpm, store, crash_store):
    """Killed changepin: the old or the new user PIN works, never neither."""
    env = crash_store
    pins = ["user", "other"]
    duration = _timed(["changepin", "--label", "tok", "--user", "user", "--old", pins[0], "--new",
                       pins[1]], env)
    _timed(["changepin", "--label", "tok", "--user", "user", "--old", pins[1], "--new", pins[0]], env)
    current = 0
    killed = 0
    for _ in range(CHANGEPIN_KILLS):
        new = 1 - current
        rc, err = _killed_run(["changepin", "--label", "tok", "--user", "user", "--old", pins[current],
                               "--new", pins[new]], env, rng.uniform(0, duration))
        killed += rc == -signal.SIGKILL
        assert rc in (0, -signal.SIGKILL), err
        _flush(swtpm.tcti)
        _integrity(store)
        # Try the PIN that should work first; a wrong try counts against the TPM's
        # dictionary-attack counter, so it is reset after one.
        order = [new, current] if rc == 0 else [current, new]
        works = None
        for p in order:
            if run_ptool(["verify", "--label", "tok", "--userpin", pins[p]], env,
                         check=False).returncode == 0:
                works = p
                break
            reset_lockout(swtpm.tcti)
        assert works is not None, "neither the old nor the new PIN works"
        if rc == 0:
            assert works == new
        current = works
    print(f"\nchangepin: {CHANGEPIN_KILLS} runs, {killed} killed, a PIN always worked")


def test_hot_journal_is_recovered_by_readers(swtpm, store, crash_store):
    """A writer killed mid-COMMIT leaves a hot journal: read-only commands still work.

    SQLite rolls a hot journal back on the next read, but only through a connection that may
    write; before the fix ssh-pubkey failed with "attempt to write a readonly database" until
    some writing command came along.
    """
    env = crash_store
    run_ptool(["addkey", "--label", "tok", "--algorithm", "ecc256", "--userpin", "user"], env)
    expected = run_ptool(["ssh-pubkey", "--label", "tok"], env).stdout
    db = store / "tpm2_pkcs11.sqlite3"
    pid = os.fork()
    if pid == 0:  # a writer that dies with its transaction spilled into the database file
        import sqlite3
        con = sqlite3.connect(db, isolation_level=None)
        con.execute("PRAGMA cache_size=1")
        con.execute("BEGIN IMMEDIATE")
        for _ in range(200):
            con.execute("INSERT INTO tobjects(tokid, attrs) VALUES (1, ?)", ("x" * 3000,))
        os._exit(0)
    os.waitpid(pid, 0)
    assert (store / "tpm2_pkcs11.sqlite3-journal").exists()
    assert run_ptool(["ssh-pubkey", "--label", "tok"], env).stdout == expected
    assert not (store / "tpm2_pkcs11.sqlite3-journal").exists()
    _full_check(store, env, swtpm.tcti, ["tok"])
