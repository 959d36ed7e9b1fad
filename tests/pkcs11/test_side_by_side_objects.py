"""Side by side with upstream's module: C_CreateObject (certificate, data object, RSA public
key), finding by label, C_SetAttributeValue, C_DestroyObject (tests/pkcs11/c/p11case_objects.c),
and what our CLI lists afterwards."""

import pytest
import yaml

from p11_common import provision, side_by_side
from ptool_fixtures import requires_tool, run, run_ptool

KNOWN = {
    # Upstream stores a CKA_TOKEN=false object as a token object (it has no session
    # objects), leaving it in the store for good; ours refuses it.
    "cert_session_object.rv": "upstream makes session objects permanent",
    # Upstream lets any attribute be set, CKA_SIGN included (the TPM key does not change);
    # ours only what names or describes the object.
    "set_id_on_key.set_sign": "upstream: any attribute writable",
    # Upstream answers a data object without CKA_VALUE with CKR_GENERAL_ERROR (it tries to
    # wrap the missing value first); the template is incomplete.
    "data_no_value.rv": "upstream: CKR_GENERAL_ERROR",
    # Upstream says CKR_KEY_HANDLE_INVALID for an object handle it no longer has.
    "destroy.cert_again": "upstream: CKR_KEY_HANDLE_INVALID",
    # Upstream says CKR_SESSION_READ_ONLY to a read/write session nobody logged in to.
    "not_logged_in.create_cert": "upstream: CKR_SESSION_READ_ONLY for a R/W public session",
    # Upstream stores the tpm2-pkcs11 vendor attributes a caller hands it.
    "bad_templates.vendor_attribute": "upstream: stores CKA_TPM2_* from the caller",
}


@pytest.fixture(scope="module")
def token(swtpm_module, tmp_path_factory):
    requires_tool("openssl")
    base = tmp_path_factory.mktemp("sbs-objects")
    store = base / "store"
    store.mkdir(mode=0o700)
    tok = provision(swtpm_module.tcti, store, keys=(("ecc256", "k256"),))
    cert = base / "cert.der"
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(base / "key.pem"), "-subj", "/CN=p11case", "-days", "1",
         "-outform", "DER", "-out", str(cert)])
    tok["cert"] = cert
    return tok


def test_objects_agree_with_upstream(token, tmp_path):
    ours, theirs = side_by_side("objects", token, tmp_path, known=KNOWN,
                                extra_args=(str(token["cert"]),))
    assert ours["not_logged_in.create_cert"] == "0x101"
    assert ours["read_only_session.create_cert"] == "0xb5"
    assert ours["cert.rv"] == "0x0"
    assert ours["cert.found"] == "1"
    assert ours["cert.value"] == "same"
    assert ours["cert_private.rv"] == "0x13"
    assert ours["cert_session_object.rv"] == "0x13"
    assert theirs["cert_session_object.rv"] == "0x0"
    assert ours["data.rv"] == "0x0"
    assert ours["data.found"] == "1"
    # Kept wrapped in the store (CKA_TPM2_ENC_BLOB), unwrapped when read while logged in.
    assert ours["data.value"] == "len 10"
    assert ours["data.value_read"] == "same"
    assert ours["data_public.rv"] == "0x13"
    assert ours["data_no_value.rv"] == "0xd0"
    assert ours["rsa_public.modulus_bits"] == "1024"
    assert ours["rsa_public_no_modulus.rv"] == "0xd0"
    assert ours["bad_templates.vendor_attribute"] == "0x12"  # CKR_ATTRIBUTE_TYPE_INVALID
    assert theirs["bad_templates.vendor_attribute"] == "0x0"
    assert theirs["cert_session_object.rv"] == "0x0"
    assert ours["set_label.found_new"] == "1"
    assert ours["set_label.found_old"] == "0"
    assert ours["set_id_on_key.id"] == b"newid".hex()
    assert ours["set_id_on_key.set_sign"] == "0x10"  # CKR_ATTRIBUTE_READ_ONLY
    assert ours["destroy.cert"] == "0x0"
    assert ours["destroy.found_after"] == "0"
    assert ours["destroy.cert_again"] == "0x82"  # CKR_OBJECT_HANDLE_INVALID
    assert ours["destroy.read_only_session"] == "0xb5"
    assert ours["destroy.not_logged_in"] == "0x101"
    assert ours["destroy.public_keys_left"] == "1"

    # Our CLI reads what our module wrote: the key's new CKA_ID, nothing destroyed left.
    store = tmp_path / "store-objects-ours"
    env = dict(token["env"], TPM2_PKCS11_STORE=str(store))
    listed = yaml.safe_load(run_ptool(["listobjects", "--label", token["token"]], env).stdout)
    labels = sorted(str(o.get("CKA_LABEL")) for o in listed)
    assert labels == ["k256", "k256"]
    assert [b"newid".hex()] in [o["CKA_ID"] for o in listed]
