"""One unreadable row does not break whole commands.

A tobjects row whose attrs are not YAML used to make listobjects, ssh-pubkey and rmkey of an
unrelated key exit 1; a tokens row whose config is not YAML did the same to listtokens.  Now
the row is skipped with one warning line naming its id and the command that removes it, the
exit status is 0, and stdout is exactly what the store without that row gives.
"""

import shutil
import sqlite3

import pytest

from ptool_fixtures import ptool_env, run_ptool, store_query

DB = "tpm2_pkcs11.sqlite3"
GARBAGE = "{{{ not: [yaml"


def _sql(store, sql, params=()):
    con = sqlite3.connect(store / DB)
    try:
        con.execute(sql, params)
        con.commit()
    finally:
        con.close()


@pytest.fixture
def stores(swtpm_module, tmp_path):
    """A store with a bad tobjects row and a bad tokens row, and a copy without those rows."""
    store = tmp_path / "store"
    env = ptool_env(swtpm_module, store)
    run_ptool(["init"], env)
    for label in ("tok", "broken"):
        run_ptool(["addtoken", "--pid", "1", "--label", label, "--sopin", "so", "--userpin", "u"],
                  env)
    for key in ("k1", "k2", "k3"):
        run_ptool(["addkey", "--label", "tok", "--algorithm", "ecc256", "--key-label", key,
                   "--userpin", "u"], env)
    bad_obj = store_query(store, "SELECT id FROM tobjects ORDER BY id")[1][0]  # k1's public row
    bad_tok = store_query(store, "SELECT id FROM tokens WHERE label='broken'")[0][0]
    clean = tmp_path / "clean"
    shutil.copytree(store, clean)
    _sql(clean, "DELETE FROM tobjects WHERE id=?", (bad_obj,))
    _sql(clean, "DELETE FROM sealobjects WHERE tokid=?", (bad_tok,))
    _sql(clean, "DELETE FROM tokens WHERE id=?", (bad_tok,))
    _sql(store, "UPDATE tobjects SET attrs=? WHERE id=?", (GARBAGE, bad_obj))
    _sql(store, "UPDATE tokens SET config=? WHERE id=?", (GARBAGE, bad_tok))
    return env, store, ptool_env(swtpm_module, clean), bad_obj, bad_tok


def _one_warning(stderr, table, row, fix):
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("tpm2-ptool: warning: skipped "), stderr
    assert f"{table} row {row} is unreadable" in lines[0], stderr
    assert lines[0].endswith(fix), stderr


@pytest.mark.parametrize("args", [["listobjects", "--label", "tok"],
                                  ["ssh-pubkey", "--label", "tok"],
                                  ["ssh-pubkey", "--label", "tok", "--key-label", "k2"]])
def test_listing_skips_bad_object_row(stores, args):
    env, _, clean_env, bad_obj, _ = stores
    proc = run_ptool(args, env, check=False)
    assert proc.returncode == 0, proc.stderr
    _one_warning(proc.stderr, "tobjects", bad_obj, f"remove it with 'tpm2-ptool objdel {bad_obj}'")
    assert proc.stdout == run_ptool(args, clean_env).stdout


def test_rmkey_of_unrelated_key_and_objdel_of_the_bad_row(stores):
    env, store, clean_env, bad_obj, _ = stores
    args = ["rmkey", "--label", "tok", "--key-label", "k2"]
    proc = run_ptool(args, env, check=False)
    assert proc.returncode == 0, proc.stderr
    _one_warning(proc.stderr, "tobjects", bad_obj, f"'tpm2-ptool objdel {bad_obj}'")
    assert proc.stdout == run_ptool(args, clean_env).stdout
    assert store_query(store, "SELECT attrs FROM tobjects WHERE id=?", (bad_obj,)) == [(GARBAGE,)]
    run_ptool(["objdel", str(bad_obj)], env)
    proc = run_ptool(["listobjects", "--label", "tok"], env)
    assert proc.stderr == "" and proc.stdout == run_ptool(["listobjects", "--label", "tok"],
                                                          clean_env).stdout


def test_listtokens_skips_bad_token_row_and_rmtoken_removes_it(stores):
    env, store, clean_env, _, bad_tok = stores
    proc = run_ptool(["listtokens", "--pid", "1"], env, check=False)
    assert proc.returncode == 0, proc.stderr
    _one_warning(proc.stderr, "tokens", bad_tok,
                 "remove the token with: tpm2-ptool rmtoken --label 'broken'")
    assert proc.stdout == run_ptool(["listtokens", "--pid", "1"], clean_env).stdout
    run_ptool(["rmtoken", "--label", "broken"], env)
    assert store_query(store, "SELECT count(*) FROM tokens WHERE id=?", (bad_tok,)) == [(0,)]
    assert store_query(store, "SELECT count(*) FROM sealobjects WHERE tokid=?", (bad_tok,)) == [(0,)]
    proc = run_ptool(["listtokens", "--pid", "1"], env)
    assert proc.stderr == ""
