"""Concurrent writers and readers on one store: nothing fails, nothing is lost.

swtpm serves one TPM connection at a time, so every concurrent TPM user goes
through tpm2-abrmd (the ``abrmd`` fixture), exactly as on a real machine where
several processes share /dev/tpmrm0.  The store itself is shared through
SQLite: writers take BEGIN IMMEDIATE and wait on a busy timeout; readers open
the file read-only and must wait too instead of failing with SQLITE_BUSY.
"""

import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import yaml

from ptool_fixtures import add_token
from ptool_fixtures import PTOOL_BIN, ptool_env, run_ptool, store_query

WRITERS = 8
KEYS_PER_WRITER = 20
CKA_CLASS = 0
OBJAUTH, PUB_BLOB, PRIV_BLOB = 0x8F000001, 0x8F000002, 0x8F000003


def _spawn(args, env, timeout=300):
    return subprocess.run([PTOOL_BIN, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def _writer(env, n):
    failures = []
    for i in range(KEYS_PER_WRITER):
        proc = _spawn(["addkey", "--label", "tok", "--algorithm", "ecc256",
                       "--key-label", f"w{n}k{i}", "--userpin", "user"], env)
        if proc.returncode != 0:
            failures.append(f"writer {n} key {i}: rc={proc.returncode} {proc.stderr.strip()}")
    return failures


def _reader(env, args, stop, results):
    while not stop.is_set():
        proc = _spawn(args, env)
        results.append((proc.returncode, proc.stderr.strip()))


def _assert_complete_rows(store, expected_keys):
    rows = store_query(store, "SELECT id, attrs FROM tobjects ORDER BY id")
    attrs = [yaml.safe_load(text) for _, text in rows]
    private = [a for a in attrs if a[CKA_CLASS] == 3]
    public = [a for a in attrs if a[CKA_CLASS] == 2]
    assert len(private) == len(public) == expected_keys
    for a in private:
        assert {OBJAUTH, PUB_BLOB, PRIV_BLOB} <= a.keys()
        assert all(a[k] for k in (OBJAUTH, PUB_BLOB, PRIV_BLOB))
    # Every private key has its public twin with the same CKA_ID.
    assert sorted(a[0x102] for a in private) == sorted(a[0x102] for a in public)
    assert store_query(store, "PRAGMA integrity_check") == [("ok",)]


def test_eight_writers_and_readers(abrmd, store):
    env = ptool_env(abrmd, store)
    run_ptool(["init"], env)
    add_token(env)
    # One key up front so the readers always have something to print.
    run_ptool(["addkey", "--label", "tok", "--algorithm", "ecc256", "--key-label", "seed",
               "--userpin", "user"], env)

    stop = threading.Event()
    reader_results = {"ssh-pubkey": [], "listobjects": []}
    readers = [
        threading.Thread(target=_reader, args=(env, ["ssh-pubkey", "--label", "tok"], stop,
                                               reader_results["ssh-pubkey"])),
        threading.Thread(target=_reader, args=(env, ["listobjects", "--label", "tok"], stop,
                                               reader_results["listobjects"])),
    ]
    start = time.monotonic()
    for t in readers:
        t.start()
    try:
        with ThreadPoolExecutor(max_workers=WRITERS) as pool:
            failures = [f for fs in pool.map(lambda n: _writer(env, n), range(WRITERS))
                        for f in fs]
    finally:
        stop.set()
        for t in readers:
            t.join()
    elapsed = time.monotonic() - start

    assert failures == [], "\n".join(failures)
    for name, results in reader_results.items():
        bad = [r for r in results if r[0] != 0]
        assert results, f"{name} never ran"
        assert bad == [], f"{name}: {len(bad)} of {len(results)} runs failed: {bad[:3]}"
    keys = WRITERS * KEYS_PER_WRITER + 1
    _assert_complete_rows(store, keys)
    labels = store_query(store, "SELECT count(*) FROM tobjects")[0][0]
    assert labels == 2 * keys
    lines = run_ptool(["ssh-pubkey", "--label", "tok"], env).stdout.splitlines()
    assert len(lines) == keys
    print(f"\n{WRITERS}x{KEYS_PER_WRITER} addkey in {elapsed:.1f}s; "
          f"readers: {len(reader_results['ssh-pubkey'])} ssh-pubkey, "
          f"{len(reader_results['listobjects'])} listobjects, 0 failures")


def test_concurrent_addtoken(abrmd, store):
    env = ptool_env(abrmd, store)
    run_ptool(["init"], env)
    with ThreadPoolExecutor(max_workers=2) as pool:
        procs = list(pool.map(
            lambda label: _spawn(["addtoken", "--pid", "1", "--label", label, "--sopin", "so",
                                  "--userpin", "user"], env),
            ["alpha", "beta"]))
    for proc in procs:
        assert proc.returncode == 0, proc.stderr
    labels = sorted(r[0] for r in store_query(store, "SELECT label FROM tokens"))
    assert labels == ["alpha", "beta"]
    assert store_query(store, "SELECT count(*) FROM sealobjects")[0][0] == 2
    for label in ("alpha", "beta"):
        run_ptool(["addkey", "--label", label, "--algorithm", "ecc256", "--userpin", "user"], env)


def test_concurrent_init_on_fresh_store(abrmd, store):
    """Two inits racing on a store that does not exist yet: both create a primary, one schema."""
    env = ptool_env(abrmd, store)
    with ThreadPoolExecutor(max_workers=2) as pool:
        procs = list(pool.map(lambda _: _spawn(["init"], env), range(2)))
    for proc in procs:
        assert proc.returncode == 0, proc.stderr
    assert store_query(store, "SELECT count(*) FROM pobjects")[0][0] == 2
    assert store_query(store, "SELECT schema_version FROM schema") == [(8,)]


def test_concurrent_first_dbup_on_a_new_store_never_deadlocks(tmp_path):
    """Several `dbup` on a store that does not exist yet: one creates it while the others
    find an empty file. Each used to hold the lock file and then ask for it again (a second
    flock in the same process), so all of them hung; every one must finish with exit 0."""
    env = ptool_env("mssim:host=127.0.0.1,port=9", tmp_path / "unused")  # dbup needs no TPM
    for round_ in range(40):
        store = tmp_path / f"s{round_}"
        procs = [subprocess.Popen([PTOOL_BIN, "dbup", f"--path={store}"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for _ in range(8)]
        for p in procs:
            try:
                p.wait(timeout=60)  # a safety net for the hang, not a speed assertion
            except subprocess.TimeoutExpired:
                for q in procs:
                    q.kill()
                raise AssertionError(f"round {round_}: a concurrent dbup hung")
        assert [p.returncode for p in procs] == [0] * 8, [p.stderr.read() for p in procs]
        assert store_query(store, "SELECT schema_version FROM schema")[0][0] == 8
