"""tpm2-ptool dbup: upstream-made stores (v8) stay as they are; hand-made older stores (v7 with
hex-string mechanism lists, v3 with pobjects.handle) become v8 stores that upstream's module
loads; no .old is left behind and an existing .bak is refused."""

import hashlib
import sqlite3
import struct

import pytest
import yaml

from ptool_fixtures import add_token
from ptool_fixtures import upstream_addkey
from ptool_fixtures import (UPSTREAM_MODULE, ptool_env, requires_file, requires_tool, run,
                            run_ptool, run_upstream, store_query)

DB = "tpm2_pkcs11.sqlite3"
CLASS, KEY_TYPE, ALLOWED = 0, 0x100, 0x40000600
CKO_PRIVATE_KEY, CKO_SECRET_KEY, CKK_EC, CKK_AES = 3, 4, 3, 0x1F
CKM_AES_CBC_PAD, CKM_AES_CTR = 0x1085, 0x1086
ECDSA_HASHED = {0x1044, 0x1045, 0x1046}


def _digest(store):
    return hashlib.sha256((store / DB).read_bytes()).hexdigest()


def _leftovers(store):
    return sorted(p.name for p in store.iterdir() if p.name != DB)


def _ours_v8(swtpm, store):
    env = ptool_env(swtpm, store)
    run_ptool(["init"], env)
    add_token(env)
    for alg, label in (("ecc256", "ec"), ("rsa2048", "rsa"), ("aes128", "aes")):
        run_ptool(["addkey", "--label", "tok", "--algorithm", alg, "--key-label", label,
                   "--userpin", "user"], env)
    return env


def _rewrite_attrs(con, fix):
    for oid, text in con.execute("SELECT id, attrs FROM tobjects").fetchall():
        attrs = yaml.safe_load(text)
        fix(attrs)
        con.execute("UPDATE tobjects SET attrs=? WHERE id=?",
                    (yaml.safe_dump(attrs, canonical=True), oid))


def _hex_mechs(attrs):
    # What libtpm2_pkcs11 writes after C_SetAttributeValue: native little-endian CK_ULONGs.
    attrs[ALLOWED] = b"".join(struct.pack("<Q", m) for m in attrs[ALLOWED]).hex()


def _mechs(store):
    return {oid: yaml.safe_load(t) for oid, t in
            store_query(store, "SELECT id, attrs FROM tobjects ORDER BY id")}


def _module_lists_keys(env, n):
    requires_file(UPSTREAM_MODULE, "upstream PKCS#11 module")
    requires_tool("ssh-keygen")
    out = run(["ssh-keygen", "-D", UPSTREAM_MODULE], env=env).stdout
    assert len(out.splitlines()) == n, out
    return out


def test_upstream_v8_store_is_unchanged(abrmd, store):
    env = ptool_env(abrmd, store)
    run_upstream(["init"], env)
    run_upstream(["addtoken", "--pid", "1", "--label", "t", "--sopin", "so", "--userpin", "u"], env)
    upstream_addkey(["--label", "t", "--algorithm", "ecc256", "--userpin", "u"], env, store)
    before = _digest(store)
    out = run_ptool(["dbup"], env).stdout
    assert out == "new: 8\nold: 8\n\n"
    assert out == run_upstream(["dbup"], env).stdout
    assert _digest(store) == before
    assert _leftovers(store) == []


def test_v7_store_with_hex_mechanisms_upgrades(swtpm, store):
    env = _ours_v8(swtpm, store)
    expected = {oid: a[ALLOWED] for oid, a in _mechs(store).items()}
    con = sqlite3.connect(store / DB)
    _rewrite_attrs(con, _hex_mechs)
    con.execute("UPDATE schema SET schema_version=7")
    con.commit()
    con.close()
    assert all(isinstance(a[ALLOWED], str) for a in _mechs(store).values())

    refused = run_ptool(["listobjects", "--label", "tok"], env, check=False)
    assert refused.returncode == 1 and "dbup" in refused.stderr

    assert run_ptool(["dbup"], env).stdout == "new: 8\nold: 7\n\n"
    assert store_query(store, "SELECT schema_version FROM schema") == [(8,)]
    assert {oid: a[ALLOWED] for oid, a in _mechs(store).items()} == expected
    [(text,)] = store_query(store, "SELECT attrs FROM tobjects WHERE id=1")
    assert '!!int "1073743360"' in text and "!!seq" in text
    assert _leftovers(store) == []
    assert run_ptool(["dbup"], env).stdout == "new: 8\nold: 8\n\n"
    _module_lists_keys(env, 2)


def test_v3_store_upgrades_every_step(swtpm, store):
    env = _ours_v8(swtpm, store)
    [(config, objauth)] = store_query(store, "SELECT config, objauth FROM pobjects")
    esys_tr = bytes.fromhex(yaml.safe_load(config)["esys-tr"])
    con = sqlite3.connect(store / DB)
    # v3: pobjects kept the serialized ESYS_TR in a BLOB column "handle".
    con.executescript("""
        DROP TABLE pobjects;
        CREATE TABLE pobjects(id INTEGER PRIMARY KEY, hierarchy TEXT NOT NULL,
                              handle BLOB NOT NULL, objauth TEXT NOT NULL);
        DROP TRIGGER limit_tobjects;
    """)
    con.execute("INSERT INTO pobjects VALUES (1, 'o', ?, ?)", (esys_tr, objauth))

    def older(attrs):
        if attrs[CLASS] == CKO_SECRET_KEY and attrs[KEY_TYPE] == CKK_AES:
            attrs[ALLOWED] = [m for m in attrs[ALLOWED] if m not in (CKM_AES_CBC_PAD, CKM_AES_CTR)]
            attrs[ALLOWED].append(0)
        if attrs[CLASS] == CKO_PRIVATE_KEY and attrs[KEY_TYPE] == CKK_EC:
            attrs[ALLOWED] = [m for m in attrs[ALLOWED] if m not in ECDSA_HASHED] + [0]
        _hex_mechs(attrs)

    _rewrite_attrs(con, older)
    con.execute("UPDATE schema SET schema_version=3")
    con.commit()
    con.close()

    assert run_ptool(["dbup"], env).stdout == "new: 8\nold: 3\n\n"
    [(config,)] = store_query(store, "SELECT config FROM pobjects")
    assert yaml.safe_load(config) == {"transient": False, "esys-tr": esys_tr.hex()}
    cols = [r[1] for r in store_query(store, "PRAGMA table_info(pobjects)")]
    assert cols == ["id", "hierarchy", "config", "objauth"]
    for attrs in _mechs(store).values():
        mechs = attrs[ALLOWED]
        assert isinstance(mechs, list) and 0 not in mechs and len(set(mechs)) == len(mechs)
        if attrs[CLASS] == CKO_SECRET_KEY:
            assert {CKM_AES_CBC_PAD, CKM_AES_CTR} <= set(mechs)
        if attrs[CLASS] == CKO_PRIVATE_KEY and attrs[KEY_TYPE] == CKK_EC:
            assert ECDSA_HASHED <= set(mechs)
    assert store_query(store, "SELECT count(*) FROM tokens") == [(1,)]
    assert store_query(store, "SELECT count(*) FROM sealobjects") == [(1,)]
    assert _leftovers(store) == []
    _module_lists_keys(env, 2)


def test_existing_bak_is_refused(swtpm, store):
    env = _ours_v8(swtpm, store)
    con = sqlite3.connect(store / DB)
    con.execute("UPDATE schema SET schema_version=7")
    con.commit()
    con.close()
    (store / (DB + ".bak")).write_bytes(b"left over")
    before = _digest(store)
    proc = run_ptool(["dbup"], env, check=False)
    assert proc.returncode == 1
    assert ".bak exists" in proc.stderr
    assert _digest(store) == before
    assert (store / (DB + ".bak")).read_bytes() == b"left over"
