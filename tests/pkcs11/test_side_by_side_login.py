"""Side by side with upstream's module: session states, user and SO login rules, login ending
with the token's last session, the per-token session limit (tests/pkcs11/c/p11case_login.c)."""

import pytest

from p11_common import provision, side_by_side
from ptool_fixtures import reset_lockout

# PKCS#11 2.40 §5.5 (C_Login): a second user type while one is logged in is
# CKR_USER_ANOTHER_ALREADY_LOGGED_IN; upstream 1.9.0 says CKR_USER_ALREADY_LOGGED_IN.
KNOWN = {
    "user.so_while_user": "upstream answers CKR_USER_ALREADY_LOGGED_IN, the spec ..._ANOTHER_...",
    "so.user_while_so": "upstream answers CKR_USER_ALREADY_LOGGED_IN, the spec ..._ANOTHER_...",
}


@pytest.fixture(scope="module")
def token(swtpm_module, tmp_path_factory):
    store = tmp_path_factory.mktemp("sbs-login") / "store"
    store.mkdir(mode=0o700)
    return provision(swtpm_module.tcti, store, keys=(("ecc256", "k256"),))


def test_login_rules_agree_with_upstream(token, tmp_path, swtpm_module):
    reset_lockout(swtpm_module.tcti)  # one wrong PIN per module below
    ours, _ = side_by_side("login", token, tmp_path, known=KNOWN)
    assert ours["sessions.counts_two"] == "2/1024 rw 1/1024"
    assert ours["sessions.ro"] == "state 0 flags 0x4"  # CKS_RO_PUBLIC_SESSION
    assert ours["user.login"] == "0x0"
    assert ours["user.ro"] == "state 1 flags 0x4"  # CKS_RO_USER_FUNCTIONS
    assert ours["user.rw"] == "state 3 flags 0x6"  # CKS_RW_USER_FUNCTIONS
    assert ours["user.again"] == "0x100"  # CKR_USER_ALREADY_LOGGED_IN
    assert ours["user.so_while_user"] == "0x104"  # CKR_USER_ANOTHER_ALREADY_LOGGED_IN
    assert ours["user.new_ro"] == "state 1 flags 0x4"  # login belongs to the token
    # The last session's close logs the application out: a new session logs in again.
    assert ours["last_session_logs_out.new_ro"] == "state 0 flags 0x4"
    assert ours["last_session_logs_out.login_again"] == "0x0"
    assert ours["last_session_logs_out.logout"] == "0x0"
    assert ours["so.so_with_ro_open"] == "0xb7"  # CKR_SESSION_READ_ONLY_EXISTS
    assert ours["so.so_login"] == "0x0"
    assert ours["so.rw"] == "state 4 flags 0x6"  # CKS_RW_SO_FUNCTIONS
    assert ours["so.open_ro_while_so"] == "0xb8"  # CKR_SESSION_READ_WRITE_SO_EXISTS
    assert ours["so.user_while_so"] == "0x104"
    assert ours["so.ro_after_close_all"] == "state 0 flags 0x4"
    assert ours["limit.opened"] == "1024"
    assert ours["limit.next"] == "0xb1"  # CKR_SESSION_COUNT
    assert ours["limit.counts_full"] == "1024/1024 rw 512/1024"
    assert ours["limit.after_one_closed"] == "0x0"
