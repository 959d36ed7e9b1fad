"""The module's C API through ctypes: return codes, the C_GetAttributeValue
size protocol, laziness (no TPM before login), store changes seen without
re-initializing, concurrency, and no TPM objects left after C_Finalize."""

import ctypes
import hashlib
import sqlite3
import threading
from ctypes import byref, c_ubyte, c_void_p

import pytest

from p11_common import USER_PIN, module_path, provision
from p11_ctypes import (CK_ATTRIBUTE, CK_C_INITIALIZE_ARGS, CK_MECHANISM, CK_ULONG, CKA_ALLOWED_MECHANISMS,
                        CKA_EC_POINT, CKA_ID, CKA_LABEL, CKA_PRIVATE_EXPONENT,
                        CKA_TPM2_PUB_BLOB, CKA_VALUE, CKF_SERIAL_SESSION, CKM_ECDSA,
                        CKM_ECDSA_SHA256,
                        CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKR, UNAVAILABLE, Module)
from ptool_fixtures import Swtpm, assert_no_tpm_leaks, reset_lockout, run_ptool, tpm_handles


@pytest.fixture(scope="module")
def token(swtpm_module, tmp_path_factory):
    base = tmp_path_factory.mktemp("api")
    store = base / "store"
    store.mkdir(mode=0o700)
    tok = provision(swtpm_module.tcti, store, keys=(("ecc256", "k256"), ("rsa2048", "krsa")))
    tok["tcti"] = swtpm_module.tcti
    return tok


@pytest.fixture
def mod(token, monkeypatch):
    """The module loaded in this process, environment pointing at the test store."""
    for k, v in token["env"].items():
        if k.startswith(("TPM2", "HOME")):
            monkeypatch.setenv(k, v)
    m = Module(module_path())
    yield m
    m.Finalize(None)  # whatever the test left behind


def _logged_in(mod):
    """C_Initialize, one session on the only slot, user login; returns (slot, session)."""
    mod.ok("Initialize", None)
    [slot] = mod.slots()
    h = mod.open(slot)
    assert mod.login(h, USER_PIN) == 0
    return slot, h


def _object(mod, h, cls, label):
    return next(o for o in mod.find(h, cls) if mod.attribute(h, o, CKA_LABEL) == label)


def test_function_list_is_2_40_and_complete(mod):
    assert mod.version == (2, 40)
    # Unimplemented functions too answer CKR_CRYPTOKI_NOT_INITIALIZED before C_Initialize.
    assert mod.InitToken(CK_ULONG(1), None, CK_ULONG(0), None) == CKR["CRYPTOKI_NOT_INITIALIZED"]
    assert mod.DigestInit(CK_ULONG(1), None) == CKR["CRYPTOKI_NOT_INITIALIZED"]
    mod.ok("Initialize", None)
    # Implemented now (tokens.cpp): NULL PIN and label are CKR_ARGUMENTS_BAD, as upstream.
    assert mod.InitToken(CK_ULONG(1), None, CK_ULONG(0), None) == CKR["ARGUMENTS_BAD"]
    assert mod.WaitForSlotEvent(CK_ULONG(0), None, None) == CKR["FUNCTION_NOT_SUPPORTED"]


def test_calls_before_initialize(mod):
    n = CK_ULONG(0)
    info = ctypes.create_string_buffer(256)
    h = CK_ULONG(0)
    assert mod.GetInfo(info) == CKR["CRYPTOKI_NOT_INITIALIZED"]
    assert mod.GetSlotList(c_ubyte(1), None, byref(n)) == CKR["CRYPTOKI_NOT_INITIALIZED"]
    assert mod.OpenSession(CK_ULONG(1), CK_ULONG(CKF_SERIAL_SESSION), None, None,
                           byref(h)) == CKR["CRYPTOKI_NOT_INITIALIZED"]
    assert mod.Finalize(None) == CKR["CRYPTOKI_NOT_INITIALIZED"]
    mod.ok("Initialize", None)
    assert mod.Initialize(None) == CKR["CRYPTOKI_ALREADY_INITIALIZED"]
    mod.ok("GetInfo", info)
    mod.ok("Finalize", None)
    assert mod.GetInfo(info) == CKR["CRYPTOKI_NOT_INITIALIZED"]


def test_null_arguments(mod, token):
    args = CK_C_INITIALIZE_ARGS(None, None, None, None, 0, ctypes.c_void_p(1))
    assert mod.Initialize(byref(args)) == CKR["ARGUMENTS_BAD"]
    half = CK_C_INITIALIZE_ARGS(ctypes.c_void_p(1), None, None, None, 0, None)
    assert mod.Initialize(byref(half)) == CKR["ARGUMENTS_BAD"]
    args = CK_C_INITIALIZE_ARGS(None, None, None, None, 2, None)  # CKF_OS_LOCKING_OK
    mod.ok("Initialize", byref(args))
    assert mod.GetInfo(None) == CKR["ARGUMENTS_BAD"]
    assert mod.GetSlotList(c_ubyte(1), None, None) == CKR["ARGUMENTS_BAD"]
    [slot] = mod.slots()
    assert mod.GetTokenInfo(CK_ULONG(slot), None) == CKR["ARGUMENTS_BAD"]
    assert mod.OpenSession(CK_ULONG(slot), CK_ULONG(CKF_SERIAL_SESSION), None, None,
                           None) == CKR["ARGUMENTS_BAD"]
    h = mod.open(slot)
    [obj] = mod.find(h, CKO_PUBLIC_KEY)[:1]
    assert mod.GetAttributeValue(h, CK_ULONG(obj), None, CK_ULONG(1)) == CKR["ARGUMENTS_BAD"]
    assert mod.FindObjectsInit(h, None, CK_ULONG(1)) == CKR["ARGUMENTS_BAD"]
    assert mod.SignInit(h, None, CK_ULONG(obj)) == CKR["ARGUMENTS_BAD"]
    assert mod.Login(h, CK_ULONG(1), None, CK_ULONG(4)) == CKR["ARGUMENTS_BAD"]
    assert mod.Finalize(ctypes.c_void_p(1)) == CKR["ARGUMENTS_BAD"]
    assert mod.CloseSession(CK_ULONG(9999)) == CKR["SESSION_HANDLE_INVALID"]


def test_get_attribute_value_size_protocol(mod):
    mod.ok("Initialize", None)
    [slot] = mod.slots()
    h = mod.open(slot)
    pub = mod.find(h, CKO_PUBLIC_KEY)[0]
    label = mod.attribute(h, pub, CKA_LABEL)
    assert label == b"k256"

    # Three attributes in one call: a short buffer, an unknown type, a fitting buffer.
    small = ctypes.create_string_buffer(2)
    point = ctypes.create_string_buffer(200)
    tmpl = (CK_ATTRIBUTE * 3)(
        CK_ATTRIBUTE(CKA_LABEL, ctypes.cast(small, c_void_p), 2),
        CK_ATTRIBUTE(0x7ffffff0, ctypes.cast(point, c_void_p), 200),
        CK_ATTRIBUTE(CKA_EC_POINT, ctypes.cast(point, c_void_p), 200))
    rv = mod.GetAttributeValue(h, CK_ULONG(pub), tmpl, CK_ULONG(3))
    assert rv in (CKR["BUFFER_TOO_SMALL"], CKR["ATTRIBUTE_TYPE_INVALID"])
    assert tmpl[0].ulValueLen == UNAVAILABLE
    assert tmpl[1].ulValueLen == UNAVAILABLE
    assert tmpl[2].ulValueLen == 67  # 04 41 04 X Y for P-256
    assert point.raw[:3] == b"\x04\x41\x04"

    # Exact size works; a NULL pValue only reports the length.
    exact = ctypes.create_string_buffer(4)
    a = CK_ATTRIBUTE(CKA_LABEL, ctypes.cast(exact, c_void_p), 4)
    mod.ok("GetAttributeValue", h, CK_ULONG(pub), byref(a), CK_ULONG(1))
    assert a.ulValueLen == 4 and exact.raw == b"k256"
    a = CK_ATTRIBUTE(CKA_ALLOWED_MECHANISMS, None, 0)
    mod.ok("GetAttributeValue", h, CK_ULONG(pub), byref(a), CK_ULONG(1))
    assert a.ulValueLen > 0 and a.ulValueLen % ctypes.sizeof(CK_ULONG) == 0

    # Private objects are invisible before login; their secrets are never readable.
    assert mod.find(h, CKO_PRIVATE_KEY) == []
    assert mod.login(h, USER_PIN) == 0
    priv = mod.find(h, CKO_PRIVATE_KEY)[0]
    assert mod.attribute(h, priv, CKA_ID) == mod.attribute(h, pub, CKA_ID)
    for secret in (CKA_VALUE, CKA_PRIVATE_EXPONENT, CKA_TPM2_PUB_BLOB):
        a = CK_ATTRIBUTE(secret, None, 0)
        assert mod.GetAttributeValue(h, CK_ULONG(priv), byref(a),
                                     CK_ULONG(1)) == CKR["ATTRIBUTE_SENSITIVE"]
        assert a.ulValueLen == UNAVAILABLE
    a = CK_ATTRIBUTE(CKA_TPM2_PUB_BLOB, None, 0)
    assert mod.GetAttributeValue(h, CK_ULONG(pub), byref(a),
                                 CK_ULONG(1)) == CKR["ATTRIBUTE_SENSITIVE"]


def test_no_tpm_needed_until_login(mod, monkeypatch):
    # A TCTI that nothing listens on: every store-only call must still work.
    dead = Swtpm()
    dead_tcti = dead.tcti
    dead.stop()
    monkeypatch.setenv("TPM2_PKCS11_TCTI", dead_tcti)
    monkeypatch.setenv("TPM2TOOLS_TCTI", dead_tcti)
    mod.ok("Initialize", None)
    [slot] = mod.slots()
    info = ctypes.create_string_buffer(512)
    mod.ok("GetTokenInfo", CK_ULONG(slot), info)
    h = mod.open(slot)
    objs = mod.find(h)
    assert len(objs) == 2
    assert mod.attribute(h, objs[0], CKA_LABEL) == b"k256"
    # ...and the TPM really is unreachable: login needs it and fails cleanly.
    assert mod.login(h, USER_PIN) == CKR["DEVICE_ERROR"]


def test_key_added_after_initialize_is_found(mod, token):
    mod.ok("Initialize", None)
    [slot] = mod.slots()
    h = mod.open(slot)
    before = mod.find(h, CKO_PUBLIC_KEY)
    run_ptool(["addkey", "--label", token["token"], "--algorithm", "ecc256", "--key-label",
               "late", "--userpin", USER_PIN], token["env"])
    after = mod.find(h, CKO_PUBLIC_KEY)
    assert len(after) == len(before) + 1
    [new] = set(after) - set(before)
    assert mod.attribute(h, new, CKA_LABEL) == b"late"


def test_wrong_pin_is_pin_incorrect(mod):
    mod.ok("Initialize", None)
    [slot] = mod.slots()
    h = mod.open(slot)
    assert mod.login(h, "bad-pin") == CKR["PIN_INCORRECT"]
    assert mod.login(h, USER_PIN) == 0


def test_four_threads_sign_concurrently_and_nothing_is_left(mod, token):
    slot, first = _logged_in(mod)
    key = _object(mod, first, CKO_PRIVATE_KEY, b"k256")
    errors, sigs = [], []

    def worker():
        try:
            h = mod.open(slot)
            for i in range(5):
                sigs.append(mod.sign(h, key, CKM_ECDSA_SHA256, b"thread %d" % i))
            mod.ok("CloseSession", h)
        except AssertionError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(sigs) == 20 and all(len(s) == 64 for s in sigs)
    mod.ok("Finalize", None)
    assert tpm_handles(token["tcti"], "transient") == []
    assert_no_tpm_leaks(token["tcti"])


def test_sign_reuses_loaded_key(mod, token):
    # The digest variant and the raw mechanism give verifiable signatures of the same size.
    _, h = _logged_in(mod)
    key = _object(mod, h, CKO_PRIVATE_KEY, b"k256")
    pub = _object(mod, h, CKO_PUBLIC_KEY, b"k256")
    for _ in range(3):
        sig = mod.sign(h, key, CKM_ECDSA_SHA256, b"data")
        m = CK_MECHANISM(CKM_ECDSA_SHA256, None, 0)
        mod.ok("VerifyInit", h, byref(m), CK_ULONG(pub))
        mod.ok("Verify", h, ctypes.c_char_p(b"data"), CK_ULONG(4), ctypes.c_char_p(sig),
               CK_ULONG(len(sig)))
    mod.ok("VerifyInit", h, byref(m), CK_ULONG(pub))
    assert mod.Verify(h, ctypes.c_char_p(b"datX"), CK_ULONG(4), ctypes.c_char_p(sig),
                      CK_ULONG(len(sig))) == 0xc0  # CKR_SIGNATURE_INVALID
    # Raw CKM_ECDSA over SHA-256(data) verifies as CKM_ECDSA_SHA256 over data.
    raw = mod.sign(h, key, CKM_ECDSA, hashlib.sha256(b"data").digest())
    mod.ok("VerifyInit", h, byref(m), CK_ULONG(pub))
    mod.ok("Verify", h, ctypes.c_char_p(b"data"), CK_ULONG(4), ctypes.c_char_p(raw),
           CK_ULONG(len(raw)))


def test_more_keys_than_tpm_slots(mod, token):
    # swtpm holds 3 transient objects; signing with 4 keys in one session must still work.
    for n in range(2):
        run_ptool(["addkey", "--label", token["token"], "--algorithm", "ecc256", "--key-label",
                   f"extra{n}", "--userpin", USER_PIN], token["env"])
    mod.ok("Initialize", None)
    [slot] = mod.slots()
    h = mod.open(slot)
    assert mod.login(h, USER_PIN) == 0
    keys = [o for o in mod.find(h, CKO_PRIVATE_KEY)
            if mod.attribute(h, o, CKA_LABEL) != b"krsa"]
    assert len(keys) >= 4
    for _ in range(2):
        for k in keys:
            assert len(mod.sign(h, k, CKM_ECDSA_SHA256, b"x")) == 64
    mod.ok("Finalize", None)
    assert_no_tpm_leaks(token["tcti"])


def test_unreadable_row_hides_only_that_object(swtpm_module, tmp_path, monkeypatch):
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    tok = provision(swtpm_module.tcti, store, token="dmg",
                    keys=(("ecc256", "good"), ("ecc256", "bad")))
    db = sqlite3.connect(store / "tpm2_pkcs11.sqlite3")
    with db:
        db.execute("UPDATE tobjects SET attrs='not: [valid' WHERE id=(SELECT max(id) FROM tobjects)")
    db.close()
    for k, v in tok["env"].items():
        if k.startswith(("TPM2", "HOME")):
            monkeypatch.setenv(k, v)
    mod = Module(module_path())
    mod.ok("Initialize", None)
    try:
        [slot] = mod.slots()
        h = mod.open(slot)
        # The damaged row is the public object of "bad"; everything else is still there.
        assert [mod.attribute(h, o, CKA_LABEL) for o in mod.find(h)] == [b"good"]
        assert mod.login(h, USER_PIN) == 0
        privs = sorted(mod.attribute(h, o, CKA_LABEL) for o in mod.find(h, CKO_PRIVATE_KEY))
        assert privs == [b"bad", b"good"]
    finally:
        mod.Finalize(None)


def test_always_authenticate_key_needs_the_pin_for_every_signature(mod, token):
    """CKA_ALWAYS_AUTHENTICATE: C_Sign fails with CKR_USER_NOT_LOGGED_IN unless C_Login
    (CKU_CONTEXT_SPECIFIC) with the right PIN came after C_SignInit, once per signature."""
    run_ptool(["addkey", "--label", token["token"], "--algorithm", "ecc256", "--key-label",
               "always", "--attr-always-authenticate", "--userpin", USER_PIN], token["env"])
    _, h = _logged_in(mod)
    key = _object(mod, h, CKO_PRIVATE_KEY, b"always")
    data = ctypes.c_char_p(b"data")
    m = CK_MECHANISM(CKM_ECDSA_SHA256, None, 0)
    buf, n = ctypes.create_string_buffer(64), CK_ULONG(64)

    def context_login(pin):
        b = pin.encode()
        return mod.Login(h, CK_ULONG(2), ctypes.c_char_p(b), CK_ULONG(len(b)))  # CONTEXT_SPECIFIC

    mod.ok("SignInit", h, byref(m), CK_ULONG(key))
    assert mod.Sign(h, data, CK_ULONG(4), buf, byref(n)) == CKR["USER_NOT_LOGGED_IN"]
    # The failed C_Sign ended the operation; a wrong PIN does not unlock the next one.
    mod.ok("SignInit", h, byref(m), CK_ULONG(key))
    assert context_login("bad-pin") == CKR["PIN_INCORRECT"]
    assert mod.Sign(h, data, CK_ULONG(4), buf, byref(n)) == CKR["USER_NOT_LOGGED_IN"]
    for _ in range(2):
        mod.ok("SignInit", h, byref(m), CK_ULONG(key))
        assert context_login(USER_PIN) == 0
        n = CK_ULONG(64)
        assert mod.Sign(h, data, CK_ULONG(4), buf, byref(n)) == 0 and n.value == 64
    # Keys without the attribute are unaffected.
    plain = _object(mod, h, CKO_PRIVATE_KEY, b"k256")
    assert len(mod.sign(h, plain, CKM_ECDSA_SHA256, b"data")) == 64
    mod.ok("Finalize", None)
    assert_no_tpm_leaks(token["tcti"])
    reset_lockout(token["tcti"])
