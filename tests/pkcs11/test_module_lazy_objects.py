"""The module reads a token's rows at every C_FindObjectsInit but parses a row's attributes
in full only when an attribute or operation needs them (pkcs11/object_table.hpp): finding
everything, or by CKA_CLASS / CKA_LABEL / CKA_ID, parses nothing; reading one object's
attributes parses that one. Counted from the module's debug log, never timed."""

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from p11_common import USER_PIN, module_path, provision

DB = "tpm2_pkcs11.sqlite3"
COPIES = 30
PARSED = "attributes parsed"

SCRIPT = r"""
import ctypes, sys
sys.path.insert(0, sys.argv[2])
from p11_ctypes import Module, CK_ATTRIBUTE, CK_ULONG, CKA_CLASS, CKO_PUBLIC_KEY
m = Module(sys.argv[1])
m.ok("Initialize", None)
[slot] = m.slots()
h = m.open(slot)
def mark(what):
    sys.stderr.write("MARK " + what + "\n")
    sys.stderr.flush()
mark("find_all")
print("all", len(m.find(h)))
mark("find_public")
public = m.find(h, CKO_PUBLIC_KEY)
print("public", len(public))
mark("find_label")
label = b"k7"
value = ctypes.create_string_buffer(label, len(label))
tmpl = (CK_ATTRIBUTE * 1)(CK_ATTRIBUTE(3, ctypes.cast(value, ctypes.c_void_p), len(label)))
m.ok("FindObjectsInit", h, tmpl, CK_ULONG(1))
out = (CK_ULONG * 8)()
n = CK_ULONG(0)
m.ok("FindObjects", h, out, CK_ULONG(8), ctypes.byref(n))
m.ok("FindObjectsFinal", h)
print("label", n.value)
mark("read_one")
print("ec_point", len(m.attribute(h, public[0], 0x181)))
mark("login")
print("login", m.login(h, sys.argv[3]))
print("private", len(m.find(h, 3)))
mark("end")
m.ok("Finalize", None)
"""


def _replicate(store, copies):
    """The token's one key pair becomes `copies` pairs (distinct CKA_LABEL / CKA_ID)."""
    con = sqlite3.connect(store / DB)
    rows = con.execute("SELECT tokid, attrs FROM tobjects ORDER BY id").fetchall()
    con.execute("DELETE FROM tobjects")
    for i in range(copies):
        for tokid, attrs in rows:
            text = attrs
            for old, new in ((b"k256".hex(), f"k{i}".encode().hex()),):
                text = text.replace(f'"{old}"', f'"{new}"')
            con.execute("INSERT INTO tobjects (tokid, attrs) VALUES (?, ?)", (tokid, text))
    con.commit()
    con.close()


@pytest.fixture(scope="module")
def many(swtpm_module, tmp_path_factory):
    store = tmp_path_factory.mktemp("lazy") / "store"
    store.mkdir(mode=0o700)
    token = provision(swtpm_module.tcti, store, keys=(("ecc256", "k256"),))
    _replicate(store, COPIES)
    return token


def _sections(stderr):
    parts, current = {}, None
    for line in stderr.splitlines():
        if line.startswith("MARK "):
            current = line.split()[1]
            parts[current] = []
        elif current:
            parts[current].append(line)
    return {k: sum(PARSED in line for line in v) for k, v in parts.items()}


def test_find_parses_no_row_and_reading_one_object_parses_one(many):
    env = dict(many["env"], TPM2_PTOOL_LOG="debug")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, module_path(),
                           str(Path(__file__).parent), USER_PIN],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = dict(line.split() for line in proc.stdout.splitlines())
    assert out["all"] == str(COPIES)        # the public keys (private ones need a login)
    assert out["public"] == str(COPIES)
    assert out["label"] == "1"              # k7: its private row stays hidden before login
    assert out["ec_point"] == "67"
    assert out["login"] == "0" and out["private"] == str(COPIES)
    parsed = _sections(proc.stderr)
    assert parsed["find_all"] == 0, proc.stderr[-3000:]
    assert parsed["find_public"] == 0
    assert parsed["find_label"] == 0
    assert parsed["read_one"] == 1
    assert parsed["login"] == 0
    assert f"{2 * COPIES} objects read" in proc.stderr
