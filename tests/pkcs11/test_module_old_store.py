"""Old stores in the module: upstream's libtpm2_pkcs11 upgrades a schema 1-7 store when it
opens it (tpm2_ptool 1.0.x wrote schema 1); ours used to show no slots. Ours now upgrades
it as `dbup` does (under the lock file, on a .bak copy, never leaving a .old), so its
tokens are there and sign; a CLI `dbup` and the module opening the same old store at once
both succeed; a schema 9 store is used as it is (tests/pkcs11/c/p11case_oldstore.c)."""

import hashlib
import sqlite3
import subprocess

import pytest
import yaml

from p11_common import _store_copy, case_program, module_path, provision, side_by_side
from ptool_fixtures import PTOOL_BIN, run_ptool, store_query

DB = "tpm2_pkcs11.sqlite3"
ALLOWED, CLASS, KEY_TYPE = 0x40000600, 0, 0x100
CKO_PRIVATE_KEY, CKK_EC = 3, 3
ECDSA_HASHED = {0x1044, 0x1045, 0x1046}


def _make_v1(store):
    """Turns our v8 store into the layout of schema 1 (tpm2_ptool 1.0.x): NOT NULL user seal
    columns, pobjects.handle holding the serialized ESYS_TR, no count triggers, EC keys
    without the hashing ECDSA mechanisms and with a stray 0, schema_version 1."""
    con = sqlite3.connect(store / DB)
    [(pid, hierarchy, config, objauth)] = con.execute(
        "SELECT id, hierarchy, config, objauth FROM pobjects").fetchall()
    esys_tr = bytes.fromhex(yaml.safe_load(config)["esys-tr"])
    con.executescript("""
        DROP TRIGGER limit_tokens;
        DROP TRIGGER limit_tobjects;
        CREATE TABLE sealobjects_v1(
            id INTEGER PRIMARY KEY, tokid INTEGER NOT NULL,
            userpub BLOB NOT NULL, userpriv BLOB NOT NULL, userauthsalt TEXT NOT NULL,
            sopub BLOB NOT NULL, sopriv BLOB NOT NULL, soauthsalt TEXT NOT NULL,
            FOREIGN KEY (tokid) REFERENCES tokens(id) ON DELETE CASCADE);
        INSERT INTO sealobjects_v1 SELECT * FROM sealobjects;
        DROP TABLE sealobjects;
        ALTER TABLE sealobjects_v1 RENAME TO sealobjects;
        DROP TABLE pobjects;
        CREATE TABLE pobjects(id INTEGER PRIMARY KEY, hierarchy TEXT NOT NULL,
                              handle BLOB NOT NULL, objauth TEXT NOT NULL);
    """)
    con.execute("INSERT INTO pobjects VALUES (?, ?, ?, ?)", (pid, hierarchy, esys_tr, objauth))
    for oid, text in con.execute("SELECT id, attrs FROM tobjects").fetchall():
        attrs = yaml.safe_load(text)
        if attrs.get(CLASS) == CKO_PRIVATE_KEY and attrs.get(KEY_TYPE) == CKK_EC:
            attrs[ALLOWED] = [m for m in attrs[ALLOWED] if m not in ECDSA_HASHED] + [0]
        con.execute("UPDATE tobjects SET attrs=? WHERE id=?",
                    (yaml.safe_dump(attrs, canonical=True), oid))
    con.execute("UPDATE schema SET schema_version=1")
    con.commit()
    con.close()


def _version(store):
    return store_query(store, "SELECT schema_version FROM schema")[0][0]


def _leftovers(store):
    return sorted(p.name for p in store.iterdir() if p.name != DB)


def _digest(store):
    return hashlib.sha256((store / DB).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def v8(swtpm_module, tmp_path_factory):
    store = tmp_path_factory.mktemp("oldstore") / "v8"
    store.mkdir(mode=0o700)
    return provision(swtpm_module.tcti, store, keys=(("ecc256", "k256"),))


@pytest.fixture(scope="module")
def v1(v8, tmp_path_factory):
    store = _store_copy(v8["store"], tmp_path_factory.mktemp("oldstore-v1") / "v1")
    _make_v1(store)
    assert _version(store) == 1
    return dict(v8, store=store)


def _case_env(token, store):
    return dict(token["env"], TPM2_PKCS11_STORE=str(store))


def test_old_store_shows_its_token_and_signs_as_upstream_does(v1, tmp_path):
    ours, theirs = side_by_side("oldstore", v1, tmp_path)
    assert ours["slots.with_token"] == "2"  # the upgraded store's token + the spare slot
    assert ours["find.public_keys"] == "1"
    assert ours["sign.login"] == "0x0"
    assert ours["sign.sign"] == "0x0" and ours["sign.sig_len"] == "64"
    assert ours["sign.verify"] == "0x0"
    for who in ("ours", "upstream"):
        copy = tmp_path / f"store-oldstore-{who}"
        # Upstream's module leaves the upgraded store at 8 and removes its .old; so do we,
        # and no .bak or lock file either.
        assert _version(copy) == 8, who
        assert _leftovers(copy) == [], who
    ours_db, theirs_db = (tmp_path / f"store-oldstore-{w}" for w in ("ours", "upstream"))
    # The same content: columns of every table, and the upgraded attributes.
    for table in ("pobjects", "sealobjects", "tokens", "tobjects"):
        assert (store_query(ours_db, f"PRAGMA table_info({table})")
                == store_query(theirs_db, f"PRAGMA table_info({table})")), table
    [(config,)] = store_query(ours_db, "SELECT config FROM pobjects")
    assert yaml.safe_load(config)["transient"] is False
    for (text,) in store_query(ours_db, "SELECT attrs FROM tobjects"):
        attrs = yaml.safe_load(text)
        if attrs.get(CLASS) == CKO_PRIVATE_KEY:
            assert ECDSA_HASHED <= set(attrs[ALLOWED]) and 0 not in attrs[ALLOWED]
    # Our CLI reads the store the module upgraded.
    run_ptool(["listobjects", "--label", "tok"], _case_env(v1, ours_db))


def test_cli_dbup_and_module_at_the_same_moment_both_succeed(v1, tmp_path):
    program = str(case_program("oldstore"))
    for round_ in range(4):
        store = _store_copy(v1["store"], tmp_path / f"race{round_}")
        env = _case_env(v1, store)
        procs = [subprocess.Popen([PTOOL_BIN, "dbup"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True),
                 subprocess.Popen([program, module_path()], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)]
        if round_ % 2:
            procs.reverse()
        outs = [p.communicate(timeout=120) for p in procs]  # a safety net, not a timing
        for p, (out, err) in zip(procs, outs):
            assert p.returncode == 0, (round_, p.args, err)
        dbup_out = next(o for p, (o, _) in zip(procs, outs) if p.args[0] == PTOOL_BIN)
        module_out = next(o for p, (o, _) in zip(procs, outs) if p.args[0] == program)
        # Whoever came first upgraded it; the other found version 8 under the lock.
        assert dbup_out in ("new: 8\nold: 1\n\n", "new: 8\nold: 8\n\n"), dbup_out
        assert "slots.with_token = 2" in module_out and "sign.verify = 0x0" in module_out
        assert _version(store) == 8
        assert _leftovers(store) == []


def test_schema_9_store_is_used_as_it_is(v8, tmp_path):
    store = _store_copy(v8["store"], tmp_path / "v9")
    con = sqlite3.connect(store / DB)
    con.execute("UPDATE schema SET schema_version=9")
    con.commit()
    con.close()
    before = _digest(store)
    proc = subprocess.run([str(case_program("oldstore")), module_path()],
                          env=_case_env(v8, store), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "slots.with_token = 2" in proc.stdout and "sign.verify = 0x0" in proc.stdout
    assert _version(store) == 9
    assert _digest(store) == before
    assert _leftovers(store) == []


def test_old_store_with_a_view_is_refused_and_left_alone(v1, tmp_path):
    """The store is untrusted: before upgrading anything the module checks that the tables
    are tables; a crafted one gives no slots, a warning, and is not changed."""
    store = _store_copy(v1["store"], tmp_path / "crafted")
    con = sqlite3.connect(store / DB)
    con.executescript("""
        ALTER TABLE tobjects RENAME TO tobjects_real;
        CREATE VIEW tobjects AS SELECT * FROM tobjects_real;
    """)
    con.commit()
    con.close()
    before = _digest(store)
    env = dict(_case_env(v1, store), TPM2_PTOOL_LOG="warn")
    proc = subprocess.run([str(case_program("oldstore")), module_path()], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "slots.with_token = 0" in proc.stdout
    assert "'tobjects' is a view, not a table" in proc.stderr
    assert _digest(store) == before and _version(store) == 1
    assert _leftovers(store) == []
