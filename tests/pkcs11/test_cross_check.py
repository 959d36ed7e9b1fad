"""Cross-check: one store (made by our tool) read through our module and through the
upstream libtpm2_pkcs11.so gives the same slots, objects and public-key attributes.
Each module runs in its own subprocess (ctypes, p11_ctypes.Module)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from p11_common import module_path, provision
from ptool_fixtures import UPSTREAM_MODULE, requires_file

_DUMP = r'''
import ctypes, json, sys
from ctypes import byref
from p11_ctypes import CK_ULONG, Module
PUB_ATTRS = [0x0, 0x100, 0x102, 0x3, 0x120, 0x122, 0x180, 0x181, 0x10a, 0x104, 0x1, 0x2]
m = Module(sys.argv[1])
m.ok("Initialize", None)
out = []
for slot in m.slots():
    info = ctypes.create_string_buffer(512)
    m.ok("GetTokenInfo", CK_ULONG(slot), info)
    label = info.raw[:32].decode().rstrip()
    flags = int.from_bytes(info.raw[96:104], "little")
    if not flags & 0x400:  # CKF_TOKEN_INITIALIZED; upstream appends an empty slot
        continue
    h = m.open(slot)
    objs = []
    for o in m.find(h):
        entry = {"class": m.attribute(h, o, 0x0).hex(), "label": m.attribute(h, o, 0x3).hex(),
                 "id": m.attribute(h, o, 0x102).hex()}
        if int.from_bytes(bytes.fromhex(entry["class"]), "little") == 2:
            for a in PUB_ATTRS:
                try:
                    entry[hex(a)] = m.attribute(h, o, a).hex()
                except AssertionError:
                    entry[hex(a)] = None
        objs.append(entry)
    out.append({"label": label, "flags": flags & (0x4 | 0x8 | 0x400),
                "objects": sorted(objs, key=lambda e: (e["class"], e["label"]))})
m.ok("Finalize", None)
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def token(swtpm_module, tmp_path_factory):
    base = tmp_path_factory.mktemp("cross")
    store = base / "store"
    store.mkdir(mode=0o700)
    return provision(swtpm_module.tcti, store)


def _dump(env, module):
    proc = subprocess.run([sys.executable, "-c", _DUMP, str(module)], env=env,
                          cwd=Path(__file__).parent, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_same_slots_objects_and_public_attributes(token):
    upstream = requires_file(UPSTREAM_MODULE, "upstream libtpm2_pkcs11.so")
    ours = _dump(token["env"], module_path())
    theirs = _dump(token["env"], upstream)
    assert [s["label"] for s in ours] == ["tok"]
    # Without a login only the three public keys are visible (through either module).
    assert len(ours[0]["objects"]) == 3
    # CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED
    assert ours[0]["flags"] == 0x40c
    assert ours == theirs
