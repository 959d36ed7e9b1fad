"""Side by side with upstream's module: finding objects and public attributes, before and
after login, on a store our tool wrote (tests/pkcs11/c/p11case_find.c)."""

import pytest

from p11_common import provision, side_by_side


@pytest.fixture(scope="module")
def token(swtpm_module, tmp_path_factory):
    store = tmp_path_factory.mktemp("sbs-find") / "store"
    store.mkdir(mode=0o700)
    return provision(swtpm_module.tcti, store)


def test_find_and_login_agree_with_upstream(token, tmp_path):
    ours, _ = side_by_side("find", token, tmp_path)
    assert ours["before_login.public_keys"] == "3"
    assert ours["before_login.private_keys"] == "0"
    assert ours["public_attributes.key_type"] == "3"  # CKK_EC
    assert ours["login.wrong_pin"] == "0xa0"  # CKR_PIN_INCORRECT
    assert ours["login.right_pin"] == "0x0"
    assert ours["login.private_keys"] == "3"
    assert ours["login.private_keys_after_logout"] == "0"
