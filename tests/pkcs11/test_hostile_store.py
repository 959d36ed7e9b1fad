"""Crafted stores and the module's smaller points: the store is untrusted
input to the module, which runs inside ssh, ssh-agent and browsers. Each case copies one
provisioned store, rewrites it with plain SQL the way an attacker (or damage) would, and runs
our module through pkcs11-tool (-L, -O --login, --sign), ssh-keygen -D and ctypes, and the CLI
through listtokens / listobjects / ssh-pubkey. Under scripts/test-sanitizers this file runs
with the ASan build, so an overflow is a report, not luck.

Timeouts here are only a safety net against a hang; the assertions are on the errors.
"""

import ctypes
import shutil
import sqlite3
from ctypes import byref, c_void_p

import pytest
import yaml

from p11_common import SO_PIN, USER_PIN, module_path, provision
from p11_ctypes import (CK_MECHANISM, CK_ULONG, CKA_LABEL, CKF_RW_SESSION, CKF_SERIAL_SESSION,
                        CKM_ECDSA, CKO_PRIVATE_KEY, CKR, Module)
from ptool_fixtures import (PTOOL_BIN, STORE_DB_NAME, requires_tool, reset_lockout, run,
                            run_ptool)

SAFETY = 60  # seconds; never reached when the module answers

CKA_CLASS, CKA_MODULUS, CKA_EC_PARAMS, CKA_EC_POINT = 0, 0x120, 0x180, 0x181
CKA_TPM2_PUB_BLOB = 0x8f000002
CKM_SHA256_RSA_PKCS = 0x40
CKU_SO = 0
CKR_FUNCTION_FAILED, CKR_DEVICE_ERROR = 0x6, 0x30
CKR_SESSION_READ_ONLY_EXISTS, CKR_SESSION_READ_WRITE_SO_EXISTS = 0xb7, 0xb8
CKS_RW_SO_FUNCTIONS = 4
P384_OID = "06052b81040022"
LONG = 100_000

RECURSIVE_VIEW = """
DROP TABLE {table};
CREATE VIEW {table} AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r)
SELECT n AS id, 1 AS tokid, 1 AS pid, 'x' AS label, 'x' AS config, 'x' AS attrs FROM r
ORDER BY n DESC;
"""


@pytest.fixture(scope="module")
def base(swtpm_module, tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    store = root / "store"
    store.mkdir(mode=0o700)
    tok = provision(swtpm_module.tcti, store, keys=(("ecc256", "k256"), ("rsa2048", "krsa")))
    tok["tcti"] = swtpm_module.tcti
    return tok


def _crafted(base, tmp_path, edit=None, sql=None):
    """A copy of the base store, changed by `edit(con)` / `sql`; returns (store, env)."""
    store = tmp_path / "store"
    shutil.copytree(base["store"], store)
    con = sqlite3.connect(store / STORE_DB_NAME)
    with con:
        if edit:
            edit(con)
        if sql:
            con.executescript(sql)
    con.close()
    env = dict(base["env"], TPM2_PKCS11_STORE=str(store), TPM2_PTOOL_LOG="info")
    return store, env


def _rows(con):
    return [(i, yaml.safe_load(a)) for i, a in con.execute("SELECT id, attrs FROM tobjects")]


def _object_id(con, label, cls):
    return next(i for i, a in _rows(con) if a.get(3) == label.encode().hex() and a[0] == cls)


def _edit_attrs(con, oid, change):
    attrs = yaml.safe_load(con.execute("SELECT attrs FROM tobjects WHERE id=?", (oid,)).fetchone()[0])
    change(attrs)
    con.execute("UPDATE tobjects SET attrs=? WHERE id=?", (yaml.dump(attrs, canonical=True), oid))


def _edit_config(con, change):
    config = yaml.safe_load(con.execute("SELECT config FROM tokens WHERE id=1").fetchone()[0])
    change(config)
    con.execute("UPDATE tokens SET config=? WHERE id=1", (yaml.dump(config, canonical=True),))


def _p11(env, *args, cwd=None):
    requires_tool("pkcs11-tool")
    return run(["pkcs11-tool", "--module", module_path(), *args], env=env, check=False,
               timeout=SAFETY, cwd=cwd)


def _sign(env, tmp_path, key_id, mech):
    data = tmp_path / "data.bin"
    data.write_bytes(b"hostile store")
    return _p11(env, "--login", "--pin", USER_PIN, "--sign", "--id", key_id, "-m", mech,
                "-i", data, "-o", tmp_path / "sig.bin")


def _ssh_keys(env):
    requires_tool("ssh-keygen")
    return run(["ssh-keygen", "-D", module_path()], env=env, check=False, timeout=SAFETY)


@pytest.fixture
def mod(base, monkeypatch):
    """The module in this process; the test points TPM2_PKCS11_STORE where it wants."""
    for k, v in base["env"].items():
        if k.startswith(("TPM2", "HOME")):
            monkeypatch.setenv(k, v)
    monkeypatch.delenv("TSS2_LOG", raising=False)
    m = Module(module_path())
    yield m
    m.Finalize(None)


def _session(mod, rw=True, login=True):
    mod.ok("Initialize", None)
    [slot] = mod.slots()
    h = CK_ULONG(0)
    flags = CKF_SERIAL_SESSION | (CKF_RW_SESSION if rw else 0)
    mod.ok("OpenSession", CK_ULONG(slot), CK_ULONG(flags), None, None, byref(h))
    if login:
        assert mod.login(h, USER_PIN) == 0
    return slot, h


def _private(mod, h, label):
    return next(o for o in mod.find(h, CKO_PRIVATE_KEY)
                if mod.attribute(h, o, CKA_LABEL) == label.encode())


def _sign_init(mod, h, key, mech):
    m = CK_MECHANISM(mech, None, 0)
    return mod.SignInit(h, byref(m), CK_ULONG(key))


# --- 1. sizes come from the TPM key, never from the row --------------------------------------

@pytest.mark.parametrize("modulus", ["short", "zero"])
def test_row_modulus_disagreeing_with_the_tpm_key_is_refused(base, tmp_path, mod, monkeypatch,
                                                             modulus):
    """The old module answered the size query from CKA_MODULUS (128 bytes, or 0) and then
    copied the TPM's 256-byte signature into that buffer."""
    def lie(con):
        for cls in (2, 3):
            oid = _object_id(con, "krsa", cls)
            _edit_attrs(con, oid, lambda a: a.__setitem__(
                CKA_MODULUS, a[CKA_MODULUS][:256] if modulus == "short" else "00000000"))
    store, env = _crafted(base, tmp_path, lie)
    monkeypatch.setenv("TPM2_PKCS11_STORE", str(store))
    _, h = _session(mod)
    key = _private(mod, h, "krsa")
    assert _sign_init(mod, h, key, CKM_SHA256_RSA_PKCS) == CKR_FUNCTION_FAILED
    proc = _sign(env, tmp_path, base["ids"]["krsa"], "SHA256-RSA-PKCS")
    assert proc.returncode != 0
    assert "CKR_FUNCTION_FAILED" in proc.stdout + proc.stderr
    assert "CKA_MODULUS is not the TPM key's modulus" in proc.stderr
    assert "tpm2-ptool objdel" in proc.stderr
    # The honest EC key of the same token still signs.
    assert _sign(env, tmp_path, base["ids"]["k256"], "ECDSA-SHA256").returncode == 0


def test_signature_never_exceeds_the_callers_buffer(base, mod, monkeypatch):
    monkeypatch.setenv("TPM2_PKCS11_STORE", str(base["store"]))
    _, h = _session(mod)
    key = _private(mod, h, "krsa")
    assert _sign_init(mod, h, key, CKM_SHA256_RSA_PKCS) == 0
    data = b"x" * 32
    n = CK_ULONG(0)
    mod.ok("Sign", h, ctypes.c_char_p(data), CK_ULONG(len(data)), None, byref(n))
    assert n.value == 256
    buf = ctypes.create_string_buffer(b"\xa5" * 300, 300)
    n = CK_ULONG(100)
    assert mod.Sign(h, ctypes.c_char_p(data), CK_ULONG(len(data)), buf,
                    byref(n)) == CKR["BUFFER_TOO_SMALL"]
    assert n.value == 256
    assert buf.raw[:300] == b"\xa5" * 300
    n = CK_ULONG(256)
    mod.ok("Sign", h, ctypes.c_char_p(data), CK_ULONG(len(data)), buf, byref(n))
    assert n.value == 256 and buf.raw[256:300] == b"\xa5" * 44


@pytest.mark.parametrize("lie", ["curve", "point", "blob"])
def test_ec_row_disagreeing_with_its_blob_is_refused(base, tmp_path, mod, monkeypatch, lie):
    """A P-256 key whose row names P-384, carries a junk point, or a blob with a lying size."""
    def change(a):
        if lie == "curve":
            a[CKA_EC_PARAMS] = P384_OID
        elif lie == "point":
            a[CKA_EC_POINT] = "0441" + "04" + "11" * 64
        else:
            blob = a[CKA_TPM2_PUB_BLOB]
            a[CKA_TPM2_PUB_BLOB] = "%04x" % (len(blob) // 2 + 40) + blob[4:]
    store, env = _crafted(base, tmp_path,
                          lambda con: _edit_attrs(con, _object_id(con, "k256", 3), change))
    monkeypatch.setenv("TPM2_PKCS11_STORE", str(store))
    _, h = _session(mod)
    key = _private(mod, h, "k256")
    assert _sign_init(mod, h, key, CKM_ECDSA) == CKR_FUNCTION_FAILED
    proc = _sign(env, tmp_path, base["ids"]["k256"], "ECDSA-SHA256")
    assert proc.returncode != 0 and "refused" in proc.stderr
    # Listing and the other key are unaffected.
    listed = _p11(env, "-O", "--login", "--pin", USER_PIN)
    assert listed.returncode == 0 and "krsa" in listed.stdout
    assert _sign(env, tmp_path, base["ids"]["krsa"], "SHA256-RSA-PKCS").returncode == 0


def test_huge_labels_are_cut_to_the_fields(base, tmp_path, mod, monkeypatch):
    def edit(con):
        con.execute("UPDATE tokens SET label=? WHERE id=1", ("T" * LONG,))
        for cls in (2, 3):
            _edit_attrs(con, _object_id(con, "k256", cls),
                        lambda a: a.__setitem__(3, ("L" * LONG).encode().hex()))
    store, env = _crafted(base, tmp_path, edit)
    monkeypatch.setenv("TPM2_PKCS11_STORE", str(store))
    mod.ok("Initialize", None)
    [slot] = mod.slots()
    info = ctypes.create_string_buffer(b"\xa5" * 400, 400)
    mod.ok("GetTokenInfo", CK_ULONG(slot), info)
    assert info.raw[:32] == b"T" * 32
    mod.ok("GetSlotInfo", CK_ULONG(slot), info)
    assert b"T" * 10 in info.raw[:64]
    assert _p11(env, "-L").returncode == 0
    listed = _p11(env, "-O", "--login", "--pin", USER_PIN)
    assert listed.returncode == 0 and "L" * 1000 in listed.stdout
    # OpenSSH 9.2 reads attributes into buffers of its own size: for a 100 kB label it gets
    # CKR_BUFFER_TOO_SMALL and gives up on the token, cleanly (no signal, no ASan report).
    keys = _ssh_keys(env)
    assert keys.returncode == 0 or (keys.returncode == 255
                                    and "C_GetAttributeValue failed: 336" in keys.stderr)
    assert run_ptool(["listtokens", "--pid", "1"], env).returncode == 0


def test_deep_yaml_row_is_skipped(base, tmp_path):
    store, env = _crafted(base, tmp_path, lambda con: con.execute(
        "UPDATE tobjects SET attrs=? WHERE id=?", ("[" * LONG, _object_id(con, "k256", 2))))
    listed = _p11(env, "-O", "--login", "--pin", USER_PIN)
    assert listed.returncode == 0 and "krsa" in listed.stdout
    assert "object skipped" in listed.stderr
    assert _sign(env, tmp_path, base["ids"]["krsa"], "SHA256-RSA-PKCS").returncode == 0


def test_repeated_object_id_is_skipped(base, tmp_path):
    """tobjects rebuilt without its PRIMARY KEY, holding one id twice: the module's binary
    searches need increasing ids, so the repeat is skipped with a warning and both keys stay
    usable."""
    def repeat(con):
        con.executescript("CREATE TABLE t2 AS SELECT * FROM tobjects; DROP TABLE tobjects; "
                          "ALTER TABLE t2 RENAME TO tobjects;")
        oid = _object_id(con, "krsa", 3)
        con.execute("INSERT INTO tobjects SELECT * FROM tobjects WHERE id=?", (oid,))
    store, env = _crafted(base, tmp_path, repeat)
    listed = _p11(env, "-O", "--login", "--pin", USER_PIN)
    assert listed.returncode == 0 and "k256" in listed.stdout and "krsa" in listed.stdout
    assert "comes out of id order" in listed.stderr
    assert _sign(env, tmp_path, base["ids"]["krsa"], "SHA256-RSA-PKCS").returncode == 0
    assert _sign(env, tmp_path, base["ids"]["k256"], "ECDSA").returncode == 0


# --- 2. no library or program from the store's tcti -------------------------------------------

@pytest.fixture(scope="module")
def evil_library(tmp_path_factory):
    """A TCTI-looking library whose constructor leaves a marker file."""
    d = tmp_path_factory.mktemp("evil")
    marker = d / "constructor-ran"
    src = d / "evil.c"
    src.write_text('#include <stdio.h>\n__attribute__((constructor)) static void f(void)\n'
                   '{ FILE* m = fopen("%s", "w"); if (m) fclose(m); }\n' % marker)
    lib = d / "evil.so"
    run(["gcc", "-shared", "-fPIC", "-o", lib, src])
    return lib, marker


@pytest.mark.parametrize("kind", ["path", "cmd"])
def test_store_tcti_never_loads_a_library_or_runs_a_program(base, tmp_path, evil_library, kind):
    lib, marker = evil_library
    ran = tmp_path / "cmd-ran"
    tcti = f"{lib}:x" if kind == "path" else f"cmd:touch {ran}"
    store, env = _crafted(base, tmp_path, lambda con: _edit_config(
        con, lambda c: c.__setitem__("tcti", tcti)))
    env.pop("TPM2_PKCS11_TCTI")
    env.pop("TPM2TOOLS_TCTI")
    proc = _p11(env, "-O", "--login", "--pin", USER_PIN)
    assert proc.returncode != 0 and "CKR_DEVICE_ERROR" in proc.stdout + proc.stderr
    assert "the store's tcti" in proc.stderr and "is refused" in proc.stderr
    assert not marker.exists() and not ran.exists()
    # TPM2_PKCS11_TCTI overrides the store: the token works and nothing was loaded either.
    env["TPM2_PKCS11_TCTI"] = base["tcti"]
    assert _sign(env, tmp_path, base["ids"]["k256"], "ECDSA-SHA256").returncode == 0
    assert not marker.exists() and not ran.exists()


def test_store_tcti_in_the_log_cannot_drive_the_terminal(base, tmp_path):
    """The refused tcti is quoted in the module's log line with control bytes escaped and cut."""
    tcti = "\x1b]0;owned\x07\x1b[2J" + "A" * 5000 + ":x"
    store, env = _crafted(base, tmp_path, lambda con: _edit_config(
        con, lambda c: c.__setitem__("tcti", tcti)))
    env.pop("TPM2_PKCS11_TCTI")
    env.pop("TPM2TOOLS_TCTI")
    proc = _p11(env, "-O", "--login", "--pin", USER_PIN)
    assert proc.returncode != 0
    line = next(x for x in proc.stderr.splitlines() if "the store's tcti" in x)
    assert "\x1b" not in proc.stderr and "\x07" not in proc.stderr
    assert "\\x1b]0;owned\\x07\\x1b[2J" in line
    assert len(line) < 700 and "more bytes)" in line


def test_store_tcti_with_a_known_name_is_used(base, tmp_path):
    store, env = _crafted(base, tmp_path, lambda con: _edit_config(
        con, lambda c: c.__setitem__("tcti", base["tcti"])))
    env.pop("TPM2_PKCS11_TCTI")
    env.pop("TPM2TOOLS_TCTI")
    assert _sign(env, tmp_path, base["ids"]["k256"], "ECDSA-SHA256").returncode == 0


def test_no_current_directory_store_without_home(base, tmp_path):
    """HOME unset and no other store: the module lists nothing, even in a store directory."""
    store, env = _crafted(base, tmp_path)
    for k in ("HOME", "TPM2_PKCS11_STORE"):
        env.pop(k)
    proc = _p11(env, "-L", cwd=store)
    assert "tok" not in proc.stdout
    assert "no store location: HOME is unset" in proc.stderr
    cli = run([PTOOL_BIN, "listtokens", "--pid", "1"], env=env, cwd=store, check=False,
              timeout=SAFETY)
    assert cli.returncode == 6
    assert "HOME is unset" in cli.stderr and "TPM2_PKCS11_STORE" in cli.stderr


# --- 3. crafted schema: views, symlinks -------------------------------------------------------

@pytest.mark.parametrize("table", ["tobjects", "tokens"])
def test_recursive_view_is_refused_promptly(base, tmp_path, table):
    store, env = _crafted(base, tmp_path, sql=RECURSIVE_VIEW.format(table=table))
    listed = _p11(env, "-L")
    assert "No slots" in listed.stderr and "tok" not in listed.stdout
    assert f"'{table}' is a view, not a table" in listed.stderr
    assert _p11(env, "-O", "--login", "--pin", USER_PIN).returncode != 0
    keys = _ssh_keys(env)
    assert "ecdsa-sha2" not in keys.stdout and f"'{table}' is a view" in keys.stderr
    for args in (["listobjects", "--label", "tok"], ["ssh-pubkey", "--label", "tok"],
                 ["listtokens", "--pid", "1"]):
        cli = run_ptool(args, env, check=False, timeout=SAFETY)
        assert cli.returncode == 1, cli.stderr
        assert f"'{table}' is a view, not a table" in cli.stderr
        assert "hint:" in cli.stderr and "Traceback" not in cli.stderr


def test_symlinked_database_is_not_opened(base, tmp_path):
    store, env = _crafted(base, tmp_path)
    linked = tmp_path / "linked"
    linked.mkdir(mode=0o700)
    (linked / STORE_DB_NAME).symlink_to(store / STORE_DB_NAME)
    env["TPM2_PKCS11_STORE"] = str(linked)
    cli = run_ptool(["listtokens", "--pid", "1"], env, check=False)
    assert cli.returncode == 1 and "symbolic link" in cli.stderr
    listed = _p11(env, "-L")
    assert "tok" not in listed.stdout and "symbolic link" in listed.stderr


# --- smaller points ---------------------------------------------------------------------------

def test_so_login_needs_read_write_sessions(base, mod, monkeypatch):
    """PKCS#11 §5.6, as upstream's library: no SO login while a read-only session is open,
    and no read-only session while the SO is logged in."""
    monkeypatch.setenv("TPM2_PKCS11_STORE", str(base["store"]))
    slot, ro = _session(mod, rw=False, login=False)
    so = SO_PIN.encode()
    assert mod.Login(ro, CK_ULONG(CKU_SO), ctypes.c_char_p(so),
                     CK_ULONG(len(so))) == CKR_SESSION_READ_ONLY_EXISTS
    mod.ok("CloseSession", ro)
    rw = mod.open(slot)
    mod.ok("Login", rw, CK_ULONG(CKU_SO), ctypes.c_char_p(so), CK_ULONG(len(so)))
    info = (CK_ULONG * 8)()
    mod.ok("GetSessionInfo", rw, info)
    assert info[1] == CKS_RW_SO_FUNCTIONS
    h = CK_ULONG(0)
    assert mod.OpenSession(CK_ULONG(slot), CK_ULONG(CKF_SERIAL_SESSION), None, None,
                           byref(h)) == CKR_SESSION_READ_WRITE_SO_EXISTS
    mod.ok("Logout", rw)


def test_failed_login_leaves_the_host_dumpable_and_no_tss2_log_is_set(base, mod, monkeypatch):
    monkeypatch.setenv("TPM2_PKCS11_STORE", str(base["store"]))
    libc = ctypes.CDLL(None)
    libc.getenv.restype = ctypes.c_char_p
    pr_get_dumpable, pr_set_dumpable = 3, 4
    libc.prctl(pr_set_dumpable, 1, 0, 0, 0)
    _, h = _session(mod, login=False)
    assert libc.getenv(b"TSS2_LOG") is None  # the host's environment is left alone
    bad = b"wrong-pin"
    assert mod.Login(h, CK_ULONG(1), ctypes.c_char_p(bad), CK_ULONG(len(bad))) == CKR["PIN_INCORRECT"]
    reset_lockout(base["tcti"])
    assert libc.prctl(pr_get_dumpable, 0, 0, 0, 0) == 1
    assert mod.login(h, USER_PIN) == 0
    assert libc.prctl(pr_get_dumpable, 0, 0, 0, 0) == 0
    assert libc.getenv(b"TSS2_LOG") is None
    libc.prctl(pr_set_dumpable, 1, 0, 0, 0)
