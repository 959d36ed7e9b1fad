"""The store is never created through a symbolic link, nor used when someone else owns it.

As root, `--path` into a world-writable directory where another user planted symbolic links
(for the store directory, the database, its .lock file) used to create an SQLite file and an
empty file wherever they pointed.  Now the command fails with an error naming the link, and
nothing appears at the targets.  A store directory or database owned by another uid (not root)
is refused with the reason.
"""

import os

import pytest

from ptool_fixtures import ptool_env, run_ptool

DB = "tpm2_pkcs11.sqlite3"
OTHER_UID = 54321


@pytest.fixture
def world(tmp_path):
    w = tmp_path / "world"
    w.mkdir()
    os.chmod(w, 0o1777)
    target = tmp_path / "elsewhere"
    target.mkdir()
    return w, target


def _init(swtpm_module, path, tmp_path):
    env = ptool_env(swtpm_module, tmp_path / "unused-store", home=tmp_path / "home")
    return run_ptool(["--path", str(path), "init"], env, check=False)


def _refused(proc, *words):
    assert proc.returncode == 1, proc.stdout + proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith("tpm2-ptool: error: "), proc.stderr
    for w in words:
        assert w in proc.stderr, proc.stderr
    assert "hint: " in proc.stderr


def test_store_directory_link_to_existing_and_missing_dirs(swtpm_module, world, tmp_path):
    w, target = world
    (w / "store").symlink_to(target)
    _refused(_init(swtpm_module, w / "store", tmp_path), "store directory", "symbolic link")
    assert list(target.iterdir()) == []
    (w / "store2").symlink_to(target / "new")
    _refused(_init(swtpm_module, w / "store2", tmp_path), "symbolic link")
    assert not (target / "new").exists()


def test_database_and_lock_links(swtpm_module, world, tmp_path):
    w, target = world
    store = w / "store"
    store.mkdir(mode=0o700)
    (store / DB).symlink_to(target / "db")
    _refused(_init(swtpm_module, store, tmp_path), "store database", "symbolic link")
    assert not (target / "db").exists() and (store / DB).is_symlink()

    (store / DB).unlink()
    (store / (DB + ".lock")).symlink_to(target / "lock")
    _refused(_init(swtpm_module, store, tmp_path), ".lock is a symbolic link")
    assert not (target / "lock").exists()
    assert list(target.iterdir()) == []


def test_real_paths_still_work(swtpm_module, world, tmp_path):
    w, _ = world
    proc = _init(swtpm_module, w / "store", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (w / "store" / DB).is_file()
    assert oct((w / "store").stat().st_mode & 0o777) == "0o700"
    assert oct((w / "store" / DB).stat().st_mode & 0o777) == "0o600"


def test_store_owned_by_another_user_is_refused(swtpm_module, world, tmp_path):
    if os.geteuid() != 0:
        pytest.fail("this test chowns files: run it as root (CI does)")
    w, _ = world
    store = w / "store"
    assert _init(swtpm_module, store, tmp_path).returncode == 0
    env = ptool_env(swtpm_module, store, home=tmp_path / "home")
    os.chown(store / DB, OTHER_UID, OTHER_UID)
    proc = run_ptool(["listprimaries"], env, check=False)
    _refused(proc, "store database", f"belongs to uid {OTHER_UID}", "not to you (uid 0)")
    os.chown(store / DB, 0, 0)
    os.chown(store, OTHER_UID, OTHER_UID)
    for args in (["listprimaries"], ["init"]):
        _refused(run_ptool(args, env, check=False), "store directory",
                 f"belongs to uid {OTHER_UID}")
    os.chown(store, 0, 0)
    assert run_ptool(["listprimaries"], env).returncode == 0
