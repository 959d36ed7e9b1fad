"""Side by side with upstream's module: a search begun before C_Login and read after it
(and the other way round). Upstream's module matches private objects at C_FindObjectsInit
and leaves them out at C_FindObjects only while the user is not logged in; ours used to
drop them at C_FindObjectsInit, so they stayed hidden after the login
(tests/pkcs11/c/p11case_findlogin.c)."""

import pytest

from p11_common import provision, side_by_side


@pytest.fixture(scope="module")
def token(swtpm_module, tmp_path_factory):
    store = tmp_path_factory.mktemp("sbs-findlogin") / "store"
    store.mkdir(mode=0o700)
    return provision(swtpm_module.tcti, store, keys=(("ecc256", "k256"), ("ecc384", "k384")))


def test_search_reads_the_login_state_of_each_find_call(token, tmp_path):
    ours, _ = side_by_side("findlogin", token, tmp_path)
    assert ours["init_before_login.login"] == "0x0"
    assert ours["init_before_login.private_keys"] == "2"
    assert ours["init_after_login.private_keys"] == "0"
    assert ours["all_objects_across_login.first"] == "2"   # the two public keys
    # Reading the two public keys walked past both private ones (left out then): none left.
    assert ours["all_objects_across_login.rest"] == "0"
