"""Broken, foreign and newer stores: a clear one-line error naming the file, nothing written."""

import hashlib
import sqlite3

import pytest

from ptool_fixtures import ptool_env, run_ptool


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


COMMANDS = [
    ["init"],
    ["addtoken", "--pid", "1", "--label", "t", "--sopin", "s", "--userpin", "u"],
    ["addkey", "--label", "t", "--algorithm", "ecc256", "--userpin", "u"],
    ["ssh-pubkey", "--label", "t"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_not_a_database(swtpm, store, command):
    db = store / "tpm2_pkcs11.sqlite3"
    db.write_bytes(b"this is not an sqlite database\n" * 100)
    before = _digest(db)
    proc = run_ptool(command, ptool_env(swtpm, store), check=False)
    assert proc.returncode == 1, proc.stderr
    assert f"{db} is not an SQLite database" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _digest(db) == before


def _versioned_store(store, version):
    db = store / "tpm2_pkcs11.sqlite3"
    con = sqlite3.connect(db)
    con.executescript("CREATE TABLE schema(id INTEGER PRIMARY KEY, schema_version INTEGER NOT NULL);"
                      "CREATE TABLE tokens(id INTEGER PRIMARY KEY, pid INTEGER NOT NULL, "
                      "label TEXT UNIQUE, config TEXT NOT NULL);"
                      f"INSERT INTO schema VALUES (1, {version});")
    con.commit()
    con.close()
    return db


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_newer_schema_version(swtpm, store, command):
    db = _versioned_store(store, 99)
    before = _digest(db)
    proc = run_ptool(command, ptool_env(swtpm, store), check=False)
    assert proc.returncode == 1, proc.stderr
    assert "schema version 99" in proc.stderr and str(db) in proc.stderr
    assert _digest(db) == before


def test_tables_without_schema_row(swtpm, store):
    db = store / "tpm2_pkcs11.sqlite3"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE unrelated(x)")
    con.commit()
    con.close()
    before = _digest(db)
    proc = run_ptool(["init"], ptool_env(swtpm, store), check=False)
    assert proc.returncode == 1
    assert "not a tpm2-pkcs11 store" in proc.stderr
    assert _digest(db) == before


def test_store_path_is_a_file(swtpm, tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    proc = run_ptool(["init", "--path", f], ptool_env(swtpm, tmp_path / "s"), check=False)
    assert proc.returncode == 2
    assert "not a directory" in proc.stderr


@pytest.mark.parametrize("command", COMMANDS[1:] + [["listprimaries"], ["rmtoken", "--label", "t"]],
                         ids=lambda c: c[0])
def test_missing_store_is_not_created(swtpm, tmp_path, command):
    """Only init creates a store; every other command fails with 'not found' and writes nothing."""
    store = tmp_path / "absent"
    proc = run_ptool(command, ptool_env(swtpm, store), check=False)
    assert proc.returncode == 6, proc.stderr
    assert "no store at" in proc.stderr
    assert not store.exists()
