"""Store equivalence: upstream ``tpm2_ptool`` and ours build the same store.

One scripted sequence (init; two tokens, one with an empty user PIN; addkey
for ecc256, rsa2048, aes128 and hmac:sha256 with fixed ids and labels;
addcert) runs once through upstream 1.9.0 (via tpm2-abrmd) and once through
our tool on a second, fresh store on the same TPM.  Both stores are parsed
with yaml.safe_load and compared row by row, attribute by attribute.  Only
random or TPM-generated values and the documented deliberate differences are
left out; each exclusion is explained where it is defined.
"""


import pytest
import yaml

from ptool_fixtures import (ptool_env, requires_tool, run, run_ptool,
                            run_upstream, store_query)

SO_PIN = "so-pin-1"
USER_PIN = "user-pin-1"
KEYS = (  # (token, algorithm, CKA_ID text, CKA_LABEL)
    ("tok-a", "ecc256", "ecid", "ec-key"),
    ("tok-a", "rsa2048", "rsaid", "rsa-key"),
    ("tok-b", "aes128", "aesid", "aes-key"),
    ("tok-b", "hmac:sha256", "hmacid", "hmac-key"),
)

CKA_MODULUS = 0x120
CKA_PUBLIC_EXPONENT = 0x122
CKA_EC_PARAMS = 0x180
CKA_EC_POINT = 0x181
CKA_ALLOWED_MECHANISMS = 0x40000600
CKM_SHA1_RSA_PKCS = 6
CKK_RSA = 0
CKA_KEY_TYPE = 0x100
CKA_CLASS = 0

# Attributes whose values differ between any two runs by design:
EXCLUDED_VALUES = {
    CKA_MODULUS: "RSA modulus: the TPM generates a fresh key in each run",
    CKA_EC_POINT: "EC public point: the TPM generates a fresh key in each run",
    0x8F000001: "CKA_TPM2_OBJAUTH_ENC: random object auth wrapped with a random IV",
    0x8F000002: "CKA_TPM2_PUB_BLOB: contains the TPM-generated public key (and unique field)",
    0x8F000003: "CKA_TPM2_PRIV_BLOB: TPM-encrypted private part, random per run",
}
# Attributes stored as hex text whose case may differ: compare the bytes.
HEX_VALUES = {CKA_PUBLIC_EXPONENT, CKA_EC_PARAMS}


def _run_sequence(runner, env, cert):
    init = yaml.safe_load(runner(["init"], env).stdout)
    pid = str(init["id"])
    runner(["addtoken", "--pid", pid, "--label", "tok-a", "--sopin", SO_PIN,
            "--userpin", USER_PIN], env)
    runner(["addtoken", "--pid", pid, "--label", "tok-b", "--sopin", SO_PIN,
            "--userpin", ""], env)
    for token, algorithm, key_id, label in KEYS:
        pin = USER_PIN if token == "tok-a" else ""
        runner(["addkey", "--label", token, "--algorithm", algorithm, "--id", key_id,
                "--key-label", label, "--userpin", pin], env)
    runner(["addcert", "--label", "tok-a", "--key-label", "rsa-key", str(cert)], env)


@pytest.fixture(scope="module")
def stores(abrmd_module, tmp_path_factory):
    for tool in ("tpm2_ptool", "openssl"):
        requires_tool(tool)
    base = tmp_path_factory.mktemp("equiv")
    cert = base / "cert.pem"
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
         base / "cert.key", "-out", cert, "-subj", "/CN=equivalence/O=tpm2-ptool",
         "-days", "30"])
    result = {}
    for name, runner in (("upstream", run_upstream), ("ours", run_ptool)):
        store = base / name
        store.mkdir(mode=0o700)
        env = ptool_env(abrmd_module, store, home=base / f"home-{name}")
        _run_sequence(runner, env, cert)
        result[name] = store
    return result


def _schema(store):
    return store_query(store, "SELECT type, name, tbl_name, sql FROM sqlite_master "
                              "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")


def _normalise_attrs(attrs):
    out = {}
    for key, value in attrs.items():
        key = int(key)
        if key in EXCLUDED_VALUES:
            out[key] = "<excluded>"  # present on both sides, value not compared
        elif key in HEX_VALUES:
            out[key] = bytes.fromhex(value)
        else:
            out[key] = value
    if out.get(CKA_KEY_TYPE) == CKK_RSA and CKA_ALLOWED_MECHANISMS in out:
        # Deliberate difference (docs/store-format.md §5.3): our RSA keys also allow
        # CKM_SHA1_RSA_PKCS, which 1.9.0 omits; drop it before comparing.
        out[CKA_ALLOWED_MECHANISMS] = [m for m in out[CKA_ALLOWED_MECHANISMS]
                                       if m != CKM_SHA1_RSA_PKCS]
    return out


def _objects(store):
    rows = store_query(store, "SELECT t.label, o.attrs FROM tobjects o "
                              "JOIN tokens t ON t.id = o.tokid ORDER BY o.id")
    return [(label, yaml.safe_load(attrs)) for label, attrs in rows]


def test_schema_sql_is_identical(stores):
    assert _schema(stores["ours"]) == _schema(stores["upstream"])
    for store in stores.values():
        assert store_query(store, "SELECT schema_version FROM schema") == [(8,)]


def test_primary_rows_match(stores):
    def rows(store):
        out = []
        for hierarchy, config, objauth in store_query(
                store, "SELECT hierarchy, config, objauth FROM pobjects ORDER BY id"):
            cfg = yaml.safe_load(config)
            # The persistent handle/ESYS_TR serialization names the TPM object;
            # each store got its own primary, so only their presence is compared.
            for k in ("esys-tr",):
                assert k in cfg
                cfg[k] = "<excluded>"
            out.append((hierarchy, cfg, objauth))
        return out
    assert rows(stores["ours"]) == rows(stores["upstream"])


def test_token_rows_and_configs_match(stores):
    def rows(store):
        return [(tid, pid, label, yaml.safe_load(config)) for tid, pid, label, config in
                store_query(store, "SELECT id, pid, label, config FROM tokens ORDER BY id")]
    ours, upstream = rows(stores["ours"]), rows(stores["upstream"])
    assert ours == upstream
    assert upstream[1][3].get("empty-user-pin") is True


def test_seal_rows_have_same_shape(stores):
    # The sealed blobs and the salts are random per run; their storage class
    # (blobs) and the salts' form (64 hex characters) are not.  The salts'
    # own storage class legitimately differs: 1.9.0 binds Python bytes (BLOB),
    # we bind TEXT like the C library; both read either (docs/store-format.md §2.1).
    sql = ("SELECT tokid, typeof(userpub), typeof(userpriv), typeof(sopub), typeof(sopriv), "
           "CAST(userauthsalt AS TEXT), CAST(soauthsalt AS TEXT) FROM sealobjects ORDER BY id")

    def shape(store):
        out = []
        for *head, user_salt, so_salt in store_query(store, sql):
            for salt in (user_salt, so_salt):
                assert len(salt) == 64 and bytes.fromhex(salt)
            out.append(tuple(head))
        return out
    assert shape(stores["ours"]) == shape(stores["upstream"])


def test_objects_match_attribute_by_attribute(stores):
    ours, upstream = _objects(stores["ours"]), _objects(stores["upstream"])
    assert [(label, a[CKA_CLASS]) for label, a in ours] == \
        [(label, a[CKA_CLASS]) for label, a in upstream]
    assert len(upstream) == 7  # 2 x (private + public), aes, hmac, cert
    for (label, mine), (_, theirs) in zip(ours, upstream):
        a, b = _normalise_attrs(mine), _normalise_attrs(theirs)
        assert sorted(a) == sorted(b), (label, set(a) ^ set(b))
        diff = {k: (a[k], b[k]) for k in a if a[k] != b[k]}
        assert not diff, (label, diff)


def test_our_rsa_keys_add_only_sha1_rsa_pkcs(stores):
    def mechs(store):
        return [a[CKA_ALLOWED_MECHANISMS] for _, a in _objects(store)
                if a.get(CKA_KEY_TYPE) == CKK_RSA and CKA_ALLOWED_MECHANISMS in a]
    ours, upstream = mechs(stores["ours"]), mechs(stores["upstream"])
    assert ours and len(ours) == len(upstream)
    for mine, theirs in zip(ours, upstream):
        assert CKM_SHA1_RSA_PKCS in mine and CKM_SHA1_RSA_PKCS not in theirs
        assert [m for m in mine if m != CKM_SHA1_RSA_PKCS] == theirs
