"""Side by side with upstream's module: C_GenerateKeyPair (RSA, EC) and C_GenerateKey (AES)
with valid and invalid templates (tests/pkcs11/c/p11case_keygen.c)."""

import pytest

from p11_common import provision, side_by_side

# Where upstream 1.9.0 answers differently, and why ours is right.
KNOWN = {
    # Upstream 1.9.0 has no C_GenerateKey at all (CKR_FUNCTION_NOT_SUPPORTED).
    "aes128.": "upstream: C_GenerateKey not implemented",
    "aes256.": "upstream: C_GenerateKey not implemented",
    "aes_bad_len.": "upstream: C_GenerateKey not implemented",
    "aes_no_len.": "upstream: C_GenerateKey not implemented",
    # Upstream creates a P-256 key in the TPM, then fails to store it (CKR_GENERAL_ERROR);
    # a missing curve is an incomplete template.
    "no_ec_params.rv": "upstream: CKR_GENERAL_ERROR after TPM work",
    # Upstream ignores its own check and makes the key; PKCS#11 wants the curve in the
    # public template only.
    # CKA_VERIFY=true and CKA_DECRYPT=false ask for different values of one TPM attribute:
    # upstream finds out after creating the key (CKR_GENERAL_ERROR), ours before.
    "usage_conflict.rv": "upstream: CKR_GENERAL_ERROR after TPM work",
    "ec_params_in_private.rv": "upstream accepts CKA_EC_PARAMS in the private template",
    # Without CKA_ID upstream stores an empty one, so every such key pairs with every
    # other; ours gives 16 random hex characters, as tpm2-ptool addkey does.
    "rsa_minimal.pub.id": "ours: random CKA_ID like addkey",
    "rsa_minimal.priv.id": "ours: random CKA_ID like addkey",
    # Both accept CKA_DERIVE=true (pkcs11-tool asks for it on every EC key); upstream
    # stores it true although it has no C_DeriveKey, ours stores what the key can do.
    "derive_requested.derive": "ours: CKA_DERIVE false (no C_DeriveKey)",
    # Upstream hands exponent 3 to the TPM, which refuses (CKR_GENERAL_ERROR); ours refuses
    # any exponent but 65537 up front (CKR_ATTRIBUTE_VALUE_INVALID).
    "bad_exponent.rv": "upstream: CKR_GENERAL_ERROR from the TPM",
    # Upstream writes P-521 points with a short-form DER length (135 bytes) and cannot
    # sign with such a key (CKR_HOST_MEMORY); ours writes the correct 136-byte encoding.
    "ec521.pub.ec_point": "upstream: invalid DER length for P-521 points",
    "ec521.sign": "upstream cannot sign with P-521 keys",
    "ec521.verify": "upstream cannot sign with P-521 keys",
}


@pytest.fixture(scope="module")
def token(abrmd_module, tmp_path_factory):
    # Through abrmd: upstream's module keeps every key it generates loaded, which fills a
    # bare swtpm's three object slots after the first key.
    store = tmp_path_factory.mktemp("sbs-keygen") / "store"
    store.mkdir(mode=0o700)
    return provision(abrmd_module, store, keys=(("ecc256", "k256"),))


def test_keygen_agrees_with_upstream(token, tmp_path):
    ours, theirs = side_by_side("keygen", token, tmp_path, known=KNOWN)
    assert ours["not_logged_in.ec"] == "0x101"  # CKR_USER_NOT_LOGGED_IN
    assert ours["read_only_session.ec"] == "0xb5"  # CKR_SESSION_READ_ONLY
    for curve, bits in (("ec224", 224), ("ec256", 256), ("ec384", 384), ("ec521", 521)):
        assert ours[f"{curve}.rv"] == "0x0"
        assert ours[f"{curve}.pub.key_type"] == "3"
        assert ours[f"{curve}.sign"] == "0x0"
        assert ours[f"{curve}.verify"] == "ok"
        assert ours[f"{curve}.found_by_label"] == "2"
    assert ours["always_auth_narrowed.always_authenticate"] == "1"
    assert ours["always_auth_narrowed.allowed_count"] == "1"
    assert ours["always_auth_narrowed.allowed_first"] == "0x1041"  # CKM_ECDSA
    assert ours["rsa2048.pub.modulus_bits"] == "2048"
    assert ours["rsa2048.pub.exponent"] == "010001"
    assert ours["rsa2048.verify"] == "ok"
    assert ours["rsa_minimal.pub.modulus_bits"] == "1024"
    assert ours["rsa_minimal.verify"] == "ok"
    assert ours["rsa_minimal.priv.id"] == "len 16"
    assert ours["ec224.rv"] == "0x0"
    assert ours["ec224.pub.ec_params"] == "06052b81040021"
    assert ours["ec521.pub.ec_point"] == "len 136"
    assert ours["derive_requested.rv"] == "0x0"
    assert ours["derive_requested.derive"] == "0"
    assert ours["bad_exponent.rv"] == "0x13"
    assert theirs["derive_requested.derive"] == "1"
    assert ours["usage_conflict.rv"] == "0xd1"
    assert theirs["usage_conflict.rv"] == "0x5"
    assert theirs["no_ec_params.rv"] == "0x5"
    assert ours["no_ec_params.rv"] == "0xd0"  # CKR_TEMPLATE_INCOMPLETE
    assert ours["ec_params_in_private.rv"] == "0xd1"  # CKR_TEMPLATE_INCONSISTENT
    assert ours["bad_curve.rv"] == "0x140"  # CKR_CURVE_NOT_SUPPORTED
    assert ours["bad_mechanism.rv"] == "0x70"  # CKR_MECHANISM_INVALID
    assert ours["aes128.rv"] == "0x0"
    assert ours["aes128.key_type"] == "31"  # CKK_AES
    assert ours["aes128.value_len"] == "16"
    assert ours["aes256.value_len"] == "32"
    assert ours["aes_bad_len.rv"] == "0x13"  # CKR_ATTRIBUTE_VALUE_INVALID
    assert ours["aes_no_len.rv"] == "0xd0"
    assert theirs["aes128.rv"] == "0x54"  # CKR_FUNCTION_NOT_SUPPORTED
