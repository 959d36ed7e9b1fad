"""A minimal ctypes binding of a PKCS#11 2.40 module, for tests that need exact
return codes and buffer behaviour (pkcs11-tool hides those)."""

import ctypes
from ctypes import POINTER, Structure, byref, c_ubyte, c_ulong, c_void_p

CK_ULONG = c_ulong
CK_RV = c_ulong
UNAVAILABLE = CK_ULONG(-1).value

CKR = {
    "OK": 0x0, "HOST_MEMORY": 0x2, "ARGUMENTS_BAD": 0x7, "ATTRIBUTE_SENSITIVE": 0x11,
    "ATTRIBUTE_TYPE_INVALID": 0x12, "DEVICE_ERROR": 0x30, "FUNCTION_NOT_SUPPORTED": 0x54,
    "MECHANISM_INVALID": 0x70, "OBJECT_HANDLE_INVALID": 0x82, "PIN_INCORRECT": 0xa0,
    "SESSION_HANDLE_INVALID": 0xb3, "USER_NOT_LOGGED_IN": 0x101, "BUFFER_TOO_SMALL": 0x150,
    "CRYPTOKI_NOT_INITIALIZED": 0x190, "CRYPTOKI_ALREADY_INITIALIZED": 0x191,
}
CKF_RW_SESSION, CKF_SERIAL_SESSION = 0x2, 0x4
CKU_USER = 1
CKA_CLASS, CKA_LABEL, CKA_VALUE, CKA_ID = 0x0, 0x3, 0x11, 0x102
CKA_PRIVATE_EXPONENT, CKA_EC_POINT, CKA_ALLOWED_MECHANISMS = 0x123, 0x181, 0x40000600
CKA_TPM2_PUB_BLOB = 0x8f000002
CKO_PUBLIC_KEY, CKO_PRIVATE_KEY = 2, 3
CKM_ECDSA, CKM_ECDSA_SHA256 = 0x1041, 0x1044

_NAMES = """Initialize Finalize GetInfo GetFunctionList GetSlotList GetSlotInfo GetTokenInfo
GetMechanismList GetMechanismInfo InitToken InitPIN SetPIN OpenSession CloseSession
CloseAllSessions GetSessionInfo GetOperationState SetOperationState Login Logout CreateObject
CopyObject DestroyObject GetObjectSize GetAttributeValue SetAttributeValue FindObjectsInit
FindObjects FindObjectsFinal EncryptInit Encrypt EncryptUpdate EncryptFinal DecryptInit Decrypt
DecryptUpdate DecryptFinal DigestInit Digest DigestUpdate DigestKey DigestFinal SignInit Sign
SignUpdate SignFinal SignRecoverInit SignRecover VerifyInit Verify VerifyUpdate VerifyFinal
VerifyRecoverInit VerifyRecover DigestEncryptUpdate DecryptDigestUpdate SignEncryptUpdate
DecryptVerifyUpdate GenerateKey GenerateKeyPair WrapKey UnwrapKey DeriveKey SeedRandom
GenerateRandom GetFunctionStatus CancelFunction WaitForSlotEvent""".split()


class CK_ATTRIBUTE(Structure):
    _fields_ = [("type", CK_ULONG), ("pValue", c_void_p), ("ulValueLen", CK_ULONG)]


class CK_MECHANISM(Structure):
    _fields_ = [("mechanism", CK_ULONG), ("pParameter", c_void_p), ("ulParameterLen", CK_ULONG)]


class CK_C_INITIALIZE_ARGS(Structure):
    _fields_ = [("CreateMutex", c_void_p), ("DestroyMutex", c_void_p), ("LockMutex", c_void_p),
                ("UnlockMutex", c_void_p), ("flags", CK_ULONG), ("pReserved", c_void_p)]


class _FunctionList(Structure):
    _fields_ = [("major", c_ubyte), ("minor", c_ubyte)] + [(n, c_void_p) for n in _NAMES]


class Module:
    """Every C_ function as an attribute taking raw ctypes arguments (no argtypes)."""

    def __init__(self, path):
        self.lib = ctypes.CDLL(str(path))
        get = self.lib.C_GetFunctionList
        get.restype = CK_RV
        fl = POINTER(_FunctionList)()
        rv = get(byref(fl))
        assert rv == 0, hex(rv)
        self.version = (fl.contents.major, fl.contents.minor)
        for name in _NAMES:
            ptr = getattr(fl.contents, name)
            assert ptr, f"C_{name} missing from the function list"
            setattr(self, name, ctypes.CFUNCTYPE(CK_RV)(ptr))

    # Convenience wrappers that assert success.
    def ok(self, name, *args):
        rv = getattr(self, name)(*args)
        assert rv == 0, f"C_{name} returned {rv:#x}"

    def slots(self, initialized=True):
        """The slot list; by default only the slots with an initialized token (both modules
        also list one spare uninitialized slot for C_InitToken)."""
        n = CK_ULONG(0)
        self.ok("GetSlotList", c_ubyte(1), None, byref(n))
        arr = (CK_ULONG * n.value)()
        self.ok("GetSlotList", c_ubyte(1), arr, byref(n))
        slots = list(arr[:n.value])
        if initialized:
            slots = [s for s in slots if self.token_flags(s) & 0x400]  # CKF_TOKEN_INITIALIZED
        return slots

    def token_flags(self, slot):
        info = ctypes.create_string_buffer(512)  # larger than CK_TOKEN_INFO
        self.ok("GetTokenInfo", CK_ULONG(slot), info)
        # flags follow label[32], manufacturerID[32], model[16], serialNumber[16]
        return CK_ULONG.from_buffer(info, 96).value

    def open(self, slot):
        h = CK_ULONG(0)
        self.ok("OpenSession", CK_ULONG(slot), CK_ULONG(CKF_SERIAL_SESSION | CKF_RW_SESSION),
                None, None, byref(h))
        return h

    def login(self, h, pin):
        b = pin.encode()
        return self.Login(h, CK_ULONG(CKU_USER), ctypes.c_char_p(b), CK_ULONG(len(b)))

    def find(self, h, cls=None):
        tmpl = (CK_ATTRIBUTE * 1)()
        n = 0
        if cls is not None:
            value = CK_ULONG(cls)
            tmpl[0] = CK_ATTRIBUTE(CKA_CLASS, ctypes.cast(byref(value), c_void_p),
                                   ctypes.sizeof(value))
            n = 1
        self.ok("FindObjectsInit", h, tmpl, CK_ULONG(n))
        out = (CK_ULONG * 64)()
        count = CK_ULONG(0)
        self.ok("FindObjects", h, out, CK_ULONG(64), byref(count))
        self.ok("FindObjectsFinal", h)
        return list(out[:count.value])

    def attribute(self, h, obj, attr_type):
        a = CK_ATTRIBUTE(attr_type, None, 0)
        self.ok("GetAttributeValue", h, CK_ULONG(obj), byref(a), CK_ULONG(1))
        buf = ctypes.create_string_buffer(a.ulValueLen)
        a.pValue = ctypes.cast(buf, c_void_p)
        self.ok("GetAttributeValue", h, CK_ULONG(obj), byref(a), CK_ULONG(1))
        return buf.raw[:a.ulValueLen]

    def sign(self, h, key, mech, data):
        m = CK_MECHANISM(mech, None, 0)
        self.ok("SignInit", h, byref(m), CK_ULONG(key))
        n = CK_ULONG(0)
        self.ok("Sign", h, ctypes.c_char_p(data), CK_ULONG(len(data)), None, byref(n))
        buf = ctypes.create_string_buffer(n.value)
        self.ok("Sign", h, ctypes.c_char_p(data), CK_ULONG(len(data)), buf, byref(n))
        return buf.raw[:n.value]
