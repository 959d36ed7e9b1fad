"""A lost TPM under a running module: one C_Initialize, one session, one
login, signing in a loop while swtpm is killed and restarted on the same port and state
directory, or reset through its control channel with the connection kept. Signing resumes:
the module reopens its ESYS context and reloads the key with the auth it holds. While the TPM
is really gone, C_Sign answers CKR_DEVICE_REMOVED and the token is logged out, so the next
C_Login works once the TPM is back.
"""

import ctypes
from ctypes import byref

import pytest

from p11_common import USER_PIN, module_path, provision
from p11_ctypes import CK_MECHANISM, CK_ULONG, CKA_LABEL, CKM_ECDSA, CKO_PRIVATE_KEY, Module
from ptool_fixtures import requires_tool, reset_lockout, run

CKR_DEVICE_REMOVED, CKR_OBJECT_HANDLE_INVALID, CKR_USER_NOT_LOGGED_IN = 0x32, 0x82, 0x101
DIGEST = bytes(range(32))


@pytest.fixture(scope="module")
def token(swtpm_module, tmp_path_factory):
    store = tmp_path_factory.mktemp("recovery") / "store"
    store.mkdir(mode=0o700)
    return provision(swtpm_module.tcti, store, keys=(("ecc256", "k256"),))


@pytest.fixture
def swtpm(swtpm_module):
    """The module's swtpm, which these tests kill and start again (same port and state)."""
    yield swtpm_module
    if not swtpm_module._daemon:
        swtpm_module.start()


@pytest.fixture
def signer(token, swtpm, monkeypatch):
    tok = token
    for k, v in tok["env"].items():
        if k.startswith(("TPM2", "HOME")):
            monkeypatch.setenv(k, v)
    mod = Module(module_path())
    mod.ok("Initialize", None)
    [slot] = mod.slots()
    h = mod.open(slot)
    assert mod.login(h, USER_PIN) == 0
    key = next(o for o in mod.find(h, CKO_PRIVATE_KEY)
               if mod.attribute(h, o, CKA_LABEL) == b"k256")
    yield mod, h, key
    mod.Finalize(None)


def _sign(mod, h, key):
    m = CK_MECHANISM(CKM_ECDSA, None, 0)
    rv = mod.SignInit(h, byref(m), CK_ULONG(key))
    if rv:
        return rv
    buf = ctypes.create_string_buffer(64)
    n = CK_ULONG(64)
    return mod.Sign(h, ctypes.c_char_p(DIGEST), CK_ULONG(len(DIGEST)), buf, byref(n))


def _sign_loop(mod, h, key, times=5):
    return [_sign(mod, h, key) for _ in range(times)]


def _restart(swtpm):
    swtpm.kill()
    swtpm.start()
    # A TPM that was not shut down orderly counts one dictionary-attack failure at startup
    # (TPM 2.0 part 1, §19.8.6); three of them lock DA-protected objects such as the primary.
    reset_lockout(swtpm.tcti)


def test_swtpm_restart_under_a_running_module(swtpm, signer):
    mod, h, key = signer
    assert _sign_loop(mod, h, key) == [0] * 5
    _restart(swtpm)
    # Same session, no new login: the first C_Sign meets the lost TPM, reopens, reloads.
    assert _sign_loop(mod, h, key) == [0] * 5
    _restart(swtpm)
    _restart(swtpm)
    assert _sign_loop(mod, h, key) == [0] * 5


def test_tpm_gone_logs_out_and_login_works_again(swtpm, signer):
    mod, h, key = signer
    assert _sign(mod, h, key) == 0
    swtpm.kill()
    rv = _sign(mod, h, key)
    assert rv == CKR_DEVICE_REMOVED, hex(rv)
    # Logged out: never "logged in" with a dead context, never CKR_FUNCTION_FAILED forever.
    # The private key is hidden again until C_Login.
    assert _sign(mod, h, key) in (CKR_OBJECT_HANDLE_INVALID, CKR_USER_NOT_LOGGED_IN)
    swtpm.start()
    reset_lockout(swtpm.tcti)
    assert mod.login(h, USER_PIN) == 0
    assert _sign_loop(mod, h, key) == [0] * 5


def _reset(swtpm):
    """TPM reset, swtpm process kept: CMD_INIT on the control channel, then TPM2_Startup."""
    run(["swtpm_ioctl", "--tcp", f"127.0.0.1:{swtpm.ctrl_port}", "-i"])
    run(["tpm2_startup", "-T", swtpm.tcti, "-c"])
    reset_lockout(swtpm.tcti)


def test_tpm_reset_with_the_connection_kept(swtpm, signer):
    """After a TPM reset every transient object and session is gone ("handle not loaded"
    on every C_Sign before), while the session still says logged in."""
    requires_tool("swtpm_ioctl")
    mod, h, key = signer
    assert _sign(mod, h, key) == 0
    _reset(swtpm)
    assert _sign_loop(mod, h, key) == [0] * 5
    _reset(swtpm)
    assert _sign_loop(mod, h, key) == [0] * 5


def test_tpm_not_started_after_a_reset(swtpm, signer):
    """CMD_INIT without TPM2_Startup: TPM_RC_INITIALIZE on every command. The module does not
    start the TPM itself (firmware's or the OS's job): CKR_DEVICE_REMOVED, logged out; once
    the TPM is started, C_Login and C_Sign work again."""
    requires_tool("swtpm_ioctl")
    mod, h, key = signer
    assert _sign(mod, h, key) == 0
    run(["swtpm_ioctl", "--tcp", f"127.0.0.1:{swtpm.ctrl_port}", "-i"])
    assert _sign(mod, h, key) == CKR_DEVICE_REMOVED
    run(["tpm2_startup", "-T", swtpm.tcti, "-c"])
    reset_lockout(swtpm.tcti)
    assert mod.login(h, USER_PIN) == 0
    assert _sign_loop(mod, h, key) == [0] * 5
