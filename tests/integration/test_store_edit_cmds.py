"""rmtoken, addemptytoken, config, objmod, objdel, addcert, rmkey on swtpm: effects on the
store, output, and bad input (documented exit code, store byte-for-byte unchanged)."""

import hashlib
import subprocess

import pytest
import yaml

from ptool_fixtures import add_token
from ptool_fixtures import assert_no_tpm_leaks, ptool_env, run, run_ptool, store_query

CLASS, LABEL, ID, CERT_TYPE, VALUE, SUBJECT = 0, 3, 0x102, 0x80, 0x11, 0x101
CKO_CERTIFICATE, CKO_PUBLIC_KEY, CKO_PRIVATE_KEY = 1, 2, 3


def _digest(store):
    return hashlib.sha256((store / "tpm2_pkcs11.sqlite3").read_bytes()).hexdigest()


def _objects(store):
    rows = store_query(store, "SELECT id, tokid, attrs FROM tobjects ORDER BY id")
    return {rid: (tokid, yaml.safe_load(text)) for rid, tokid, text in rows}


def _make_cert(tmp_path, name="cert"):
    key, pem = tmp_path / f"{name}.key", tmp_path / f"{name}.pem"
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", key, "-out", pem, "-subj", f"/CN={name}", "-days", "1"])
    return pem


@pytest.fixture
def token(swtpm, store, tmp_path):
    env = ptool_env(swtpm, store)
    run_ptool(["init"], env)
    add_token(env)
    add_token(env, "other")
    ids = {}
    for alg, label in (("ecc256", "k1"), ("rsa2048", "k2"), ("aes128", "sym")):
        out = yaml.safe_load(run_ptool(["addkey", "--label", "tok", "--algorithm", alg,
                                        "--key-label", label, "--userpin", "user"], env).stdout)
        ids[label] = out["private"]["CKA_ID"]
    return {"env": env, "store": store, "ids": ids, "tpm": swtpm, "tmp": tmp_path}


def _fails(t, args, code, needle):
    before = _digest(t["store"])
    proc = run_ptool(args, t["env"], check=False)
    assert proc.returncode == code, (args, proc.returncode, proc.stderr)
    assert needle in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2, proc.stderr  # error + optional hint
    assert _digest(t["store"]) == before, f"{args} changed the store"


def test_rmtoken_removes_token_seals_and_objects(token):
    store = token["store"]
    tokid = store_query(store, "SELECT id FROM tokens WHERE label='tok'")[0][0]
    assert store_query(store, "SELECT count(*) FROM tobjects WHERE tokid=?", (tokid,)) == [(5,)]
    run_ptool(["rmtoken", "--label", "tok"], token["env"])
    assert store_query(store, "SELECT label FROM tokens") == [("other",)]
    assert store_query(store, "SELECT count(*) FROM tobjects WHERE tokid=?", (tokid,)) == [(0,)]
    assert store_query(store, "SELECT count(*) FROM sealobjects WHERE tokid=?", (tokid,)) == [(0,)]
    assert store_query(store, "SELECT count(*) FROM sealobjects") == [(1,)]
    _fails(token, ["rmtoken", "--label", "tok"], 6, 'No token labeled "tok"')


def test_addemptytoken(token):
    store = token["store"]
    run_ptool(["addemptytoken", "--pid", "1"], token["env"])
    rows = store_query(store, "SELECT id, label, config FROM tokens ORDER BY id")
    tid, label, config = rows[-1]
    assert label is None
    cfg = yaml.safe_load(config)
    assert cfg["token-init"] is False and isinstance(cfg["pss-sigs-good"], bool)
    assert "empty-user-pin" not in cfg
    assert store_query(store, "SELECT count(*) FROM sealobjects WHERE tokid=?", (tid,)) == [(0,)]
    assert_no_tpm_leaks(token["tpm"].tcti)
    listing = yaml.safe_load(run_ptool(["listtokens", "--pid", "1"], token["env"]).stdout)
    assert listing[-1] == {"id": tid, "label": None}
    _fails(token, ["addemptytoken", "--pid", "7"], 6, "No primary object id: 7")


def test_config_show_get_set(token):
    env, store = token["env"], token["store"]
    out = run_ptool(["config", "--label", "tok"], env).stdout
    assert out.endswith("\n\n") and "token-init: true\n" in out
    assert run_ptool(["config", "--label", "tok", "--key", "token-init"], env).stdout == \
        "token-init=True\n"
    assert run_ptool(["config", "--label", "tok", "--key", "tcti"], env).stdout == "tcti=\n"
    run_ptool(["config", "--label", "tok", "--key", "tcti", "--value", "device:/dev/tpmrm0"], env)
    assert run_ptool(["config", "--label", "tok", "--key", "tcti"], env).stdout == \
        "tcti=device:/dev/tpmrm0\n"
    [(config,)] = store_query(store, "SELECT config FROM tokens WHERE label='tok'")
    assert yaml.safe_load(config)["tcti"] == "device:/dev/tpmrm0"
    assert '!!str "device:/dev/tpmrm0"' in config  # tagged, as the library requires
    run_ptool(["config", "--label", "tok", "--key", "token-init", "--value", "no"], env)
    assert run_ptool(["config", "--label", "tok", "--key", "token-init"], env).stdout == \
        "token-init=False\n"
    run_ptool(["config", "--label", "tok", "--key", "token-init", "--value", "Y"], env)
    _fails(token, ["config", "--label", "tok", "--key", "empty-user-pin", "--value", "true"], 2,
           "can only be set with changepin or initpin")
    _fails(token, ["config", "--label", "tok", "--key", "log-level", "--value", "2"], 2,
           "log-level")
    _fails(token, ["config", "--label", "tok", "--key", "token-init", "--value", "maybe"], 2,
           "Boolean value expected")
    _fails(token, ["config", "--label", "tok", "--key", "nope", "--value", "1"], 2,
           "unknown config key")
    _fails(token, ["config", "--label", "tok", "--value", "1"], 2, "without a key")
    _fails(token, ["config", "--label", "missing", "--key", "tcti", "--value", "x"], 6,
           'No token labeled "missing"')


def test_config_refuses_token_init_without_seal_objects(token):
    run_ptool(["addemptytoken", "--pid", "1"], token["env"])
    # An empty token has no label; give it one so config can name it.
    db = token["store"] / "tpm2_pkcs11.sqlite3"
    run(["sqlite3", db, "UPDATE tokens SET label='empty' WHERE label IS NULL"])
    _fails(token, ["config", "--label", "empty", "--key", "token-init", "--value", "true"], 2,
           "has no seal objects")


def test_objmod_dump_get_set_and_file(token):
    env, store = token["env"], token["store"]
    objs = _objects(store)
    k1 = next(r for r, (_, a) in objs.items() if a[LABEL] == "6b31" and a[CLASS] == CKO_PRIVATE_KEY)
    dump = yaml.safe_load(run_ptool(["objmod", "--id", str(k1)], env).stdout)
    assert dump == objs[k1][1]
    assert run_ptool(["objmod", "--id", str(k1), "--key", "CKA_LABEL"], env).stdout == \
        "CKA_LABEL: 6b31\n\n"
    run_ptool(["objmod", "--id", str(k1), "--key", "CKA_LABEL", "--value", "new", "--type", "str"],
              env)
    assert _objects(store)[k1][1][LABEL] == b"new".hex()
    run_ptool(["objmod", "--id", str(k1), "--key", "0x202", "--value", "yes", "--type", "bool"],
              env)
    assert _objects(store)[k1][1][0x202] is True
    run_ptool(["objmod", "--id", str(k1), "--key", "CKA_ID", "--value", "AbCd", "--type", "raw"],
              env)
    assert _objects(store)[k1][1][ID] == "abcd"
    # Round trip: the dump fed back as a file leaves the attributes as they are.
    dumped = run_ptool(["objmod", "--id", str(k1)], env).stdout
    f = token["tmp"] / "attrs.yaml"
    f.write_text(dumped)
    before = _objects(store)[k1][1]
    run_ptool(["objmod", "--id", str(k1), str(f)], env)
    assert _objects(store)[k1][1] == before
    # The stored YAML keeps the tags the library needs.
    [(text,)] = store_query(store, "SELECT attrs FROM tobjects WHERE id=?", (k1,))
    assert '!!int "1073743360"' in text and "!!seq" in text

    bad = token["tmp"] / "bad.yaml"
    bad.write_text("0: 3\n3: not-hex\n")
    _fails(token, ["objmod", "--id", str(k1), str(bad)], 2, "not an even-length hex string")
    _fails(token, ["objmod", "--id", "999"], 6, "Not found, object with id: 999")
    _fails(token, ["objmod", "--id", "999", "--key", "CKA_LABEL", "--value", "x", "--type", "str"],
           6, "Not found, object with id: 999")
    _fails(token, ["objmod", "--id", str(k1), "--key", "CKA_LABEL", "--value", "x"], 2,
           "require --type")
    _fails(token, ["objmod", "--id", str(k1), "--key", "CKA_NOPE"], 2, "Unknown key")
    _fails(token, ["objmod", "--id", str(k1), "--key", "CKA_URL"], 6, "Key not found")
    _fails(token, ["objmod", "--id", str(k1), "--key", "CKA_ID", "--value", "xyz", "--type", "raw"],
           2, "not an even-length hex string")


def test_objdel(token):
    env, store = token["env"], token["store"]
    first = min(_objects(store))
    run_ptool(["objdel", str(first)], env)
    assert first not in _objects(store)
    _fails(token, ["objdel", str(first)], 6, f"Not found, object with id: {first}")
    _fails(token, ["objdel", "abc"], 2, "invalid object id")


def test_addcert_by_label_and_by_id(token):
    env, store = token["env"], token["store"]
    pem = _make_cert(token["tmp"])
    out = run_ptool(["addcert", "--label", "tok", "--key-label", "k1", str(pem)], env).stdout
    assert yaml.safe_load(out) == {"action": "add", "cert": {"CKA_ID": token["ids"]["k1"]}}
    cert = [a for _, (_, a) in _objects(store).items() if a[CLASS] == CKO_CERTIFICATE]
    assert len(cert) == 1
    attrs = cert[0]
    der_bytes = subprocess.run(["openssl", "x509", "-in", str(pem), "-outform", "DER"],
                               capture_output=True, check=True).stdout
    assert attrs[VALUE] == der_bytes.hex()
    assert attrs[0x90] == hashlib.sha1(der_bytes).hexdigest()[:6]
    assert attrs[CERT_TYPE] == 0 and attrs[0x8C] == 0x220 and attrs[0x2] is False
    assert attrs[LABEL] == b"k1".hex() and attrs[ID] == token["ids"]["k1"]
    assert attrs[SUBJECT].startswith("30") and attrs[0x82].startswith("02")

    out = run_ptool(["addcert", "--label", "tok", "--key-id", token["ids"]["k2"], str(pem)],
                    env).stdout
    assert yaml.safe_load(out)["cert"]["CKA_ID"] == token["ids"]["k2"]
    certs = [a for _, (_, a) in _objects(store).items() if a[CLASS] == CKO_CERTIFICATE]
    assert certs[-1][LABEL] == b"k2".hex()

    garbage = token["tmp"] / "garbage.pem"
    garbage.write_text("not a certificate\n")
    _fails(token, ["addcert", "--label", "tok", "--key-label", "k1", str(garbage)], 2,
           "is not a PEM X.509 certificate")
    _fails(token, ["addcert", "--label", "tok", "--key-label", "k1", str(token["tmp"] / "nope")],
           2, "cannot read certificate file")
    _fails(token, ["addcert", "--label", "tok", "--key-label", "nope", str(pem)], 6,
           'no private key labeled "nope"')
    _fails(token, ["addcert", "--label", "tok", "--key-id", "00ff", str(pem)], 6,
           "no private key with id 00ff")
    _fails(token, ["addcert", "--label", "nope", "--key-label", "k1", str(pem)], 6,
           'No token labeled "nope"')
    _fails(token, ["addcert", "--label", "tok", str(pem)], 2, "--key-label or --key-id")


def test_rmkey_removes_private_public_and_cert(token):
    env, store = token["env"], token["store"]
    pem = _make_cert(token["tmp"])
    run_ptool(["addcert", "--label", "tok", "--key-label", "k1", str(pem)], env)
    k1_id = bytes.fromhex(token["ids"]["k1"]).hex()
    doomed = {r for r, (_, a) in _objects(store).items() if a.get(ID) == k1_id}
    assert len(doomed) == 3
    out = yaml.safe_load(run_ptool(["rmkey", "--label", "tok", "--key-label", "k1"], env).stdout)
    assert out == {"action": "remove", "objects": sorted(doomed)}
    assert not doomed & set(_objects(store))
    # by id: the RSA pair goes, the AES key stays.
    run_ptool(["rmkey", "--label", "tok", "--id", token["ids"]["k2"]], env)
    left = [a for _, (_, a) in _objects(store).items()]
    assert [a[LABEL] for a in left] == [b"sym".hex()]
    _fails(token, ["rmkey", "--label", "tok", "--key-label", "k1"], 6, 'no key labeled "k1"')
    _fails(token, ["rmkey", "--label", "tok", "--id", "00ff"], 6, "no key with id 00ff")
    _fails(token, ["rmkey", "--label", "tok", "--id", "zz"], 2, "is not a hex CKA_ID")
    _fails(token, ["rmkey", "--label", "nope", "--key-label", "sym"], 6, 'No token labeled')
    _fails(token, ["rmkey", "--label", "tok"], 2, "exactly one of --key-label and --id")
