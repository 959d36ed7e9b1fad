"""tpm2-ptool attest: EK-certified AK, software MakeCredential, Certify of token keys.

swtpm is provisioned with EK certificates by swtpm_setup + a private swtpm_localca; nothing
is mocked. docs/attestation.md describes the flow and docs/schemas/attest-*.schema.json the
documents each step prints.
"""

import base64
import hashlib
import json
import stat
import struct

import pytest

from keyops_common import USER_PIN, add_key, make_token
from ptool_fixtures import (Swtpm, assert_no_tpm_leaks, ptool_env, reset_lockout, run,
                            run_ptool)

NONCE = "00112233445566778899aabbccddeeff"
EXIT_ATTEST_FAILED = 7
EXIT_ATTEST_POLICY = 8


@pytest.fixture(scope="module")
def ektpm():
    tpm = Swtpm(ek_certs=True)
    yield tpm
    tpm.stop()


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("attest")


def _ptool(args, env, check=True, cwd=None):
    proc = run_ptool([str(a) for a in args], env, check=check)
    return proc


def _json(proc):
    return json.loads(proc.stdout)


def _write(path, doc):
    path.write_text(json.dumps(doc, indent=2))
    return path


def _make_ca(dirpath):
    key, cert = dirpath / "ca.key", dirpath / "ca.pem"
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", key, "-out", cert, "-subj", "/CN=attest test CA", "-days", "2"])
    return key, cert


@pytest.fixture(scope="module")
def device(ektpm, work):
    """A token with a generated and an imported key, enrolled with an AK certificate."""
    store = work / "store"
    store.mkdir(mode=0o700)
    env = make_token(ektpm, store)
    add_key(env, "ecc256", "gen")
    add_key(env, "rsa2048", "genrsa")
    imp = work / "imp.pem"
    run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-out", imp])
    run_ptool(["import", "--label", "tok", "--privkey", imp, "--key-label", "imp",
               "--userpin", USER_PIN], env)
    roots = work / "ekroots.pem"
    roots.write_text(ektpm.ek_ca_root.read_text() + ektpm.ek_ca_issuer.read_text())
    enroll = _write(work / "enroll.json", _json(_ptool(["attest", "enroll"], env)))
    state = work / "verifier.state"
    challenge = _write(work / "challenge.json", _json(_ptool(
        ["attest", "challenge", "--ek-ca", roots, "--state", state, enroll], env)))
    state_doc = json.loads(state.read_text())
    response = _write(work / "response.json",
                      _json(_ptool(["attest", "activate", challenge], env)))
    ca_key, ca_cert = _make_ca(work)
    record = _write(work / "device.json", _json(_ptool(
        ["attest", "accept", "--state", state, "--issue-ak-cert", ca_key, "--ca-cert", ca_cert,
         response], env)))
    return {"env": env, "store": store, "roots": roots, "enroll": enroll, "record": record,
            "state_doc": state_doc, "challenge": challenge, "ca_cert": ca_cert, "work": work,
            "tpm": ektpm}


def _attest_key(dev, key_label, nonce=NONCE, extra=()):
    return _json(_ptool(["attest", "key", "--label", "tok", "--key-label", key_label,
                         "--nonce", nonce, "--userpin", USER_PIN, *extra], dev["env"]))


def _verify(dev, key_doc, nonce=NONCE, check=True, extra=()):
    path = _write(dev["work"] / "key-under-test.json", key_doc)
    return _ptool(["attest", "verify", "--device", dev["record"], "--nonce", nonce, path, *extra],
                  dev["env"], check=check)


def _ssh_pubkey(dev, key_label):
    line = run_ptool(["ssh-pubkey", "--label", "tok", "--key-label", key_label],
                     dev["env"]).stdout.strip()
    return " ".join(line.split()[:2])


def test_enrollment_documents(device, ektpm):
    enroll = json.loads(device["enroll"].read_text())
    assert enroll["type"] == "tpm2-ptool-attest-enroll" and enroll["version"] == 1
    assert enroll["ek_nv_index"] == "0x01c00002" and enroll["ek_template"] == "L-1"
    # The EK certificate is what swtpm_setup wrote to NV (tpm2-tools reads the same bytes).
    nv = device["work"] / "ek-nv.der"
    run(["tpm2_nvread", "0x01c00002", "-o", nv], env=device["env"])
    der = base64.b64decode(enroll["ek_certificate"])
    assert nv.read_bytes()[:len(der)] == der
    run(["openssl", "verify", "-CAfile", ektpm.ek_ca_root, "-untrusted", ektpm.ek_ca_issuer,
         nv], env=device["env"])
    record = json.loads(device["record"].read_text())
    assert record["type"] == "tpm2-ptool-attest-device"
    assert record["ek_issuer"] == "CN=swtpm-localca"
    assert record["ak_public"] == enroll["ak_public"]
    # The state file holds the only secret and is 0600; accept removed it (one use).
    assert not (device["work"] / "verifier.state").exists()
    assert "credential" not in json.loads(device["challenge"].read_text())


@pytest.mark.parametrize("key_label", ["gen", "genrsa"])
def test_key_verifies(device, key_label):
    doc = _attest_key(device, key_label)
    assert doc["ssh_public_key"] == _ssh_pubkey(device, key_label)
    out = _verify(device, doc).stdout.splitlines()
    assert out[0] == _ssh_pubkey(device, key_label)
    assert out[1].startswith("OK: generated in the TPM of EK CN=unknown")
    js = json.loads(_verify(device, doc, extra=["--output", "json"]).stdout)
    assert js["verdict"] == "ok" and js["ssh_public_key"] == out[0]
    assert_no_tpm_leaks(device["tpm"].tcti)


def test_bad_input_fails_before_the_tpm(device, work):
    env = dict(device["env"], TPM2_PKCS11_TCTI="swtpm:host=127.0.0.1,port=1")
    proc = _ptool(["attest", "key", "--label", "tok", "--key-label", "gen", "--nonce", "zz",
                   "--userpin", USER_PIN], env, check=False)
    _fails(proc, 2, "--nonce must be 8 to 64 bytes in hex")
    proc = _ptool(["attest", "activate", device["enroll"]], env, check=False)
    _fails(proc, 2, "is not a tpm2-ptool-attest-challenge document")
    proc = _ptool(["attest", "verify", "--device", work / "missing.json", "--nonce", NONCE,
                   device["enroll"]], env, check=False)
    _fails(proc, 6, "cannot read document")


def _fails(proc, code, text):
    assert proc.returncode == code, proc.stderr
    assert text in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "warning: secrets on the command" not in ln]
    assert len(lines) <= 2, lines


def test_wrong_nonce(device):
    doc = _attest_key(device, "gen")
    _fails(_verify(device, doc, nonce="ff" * 16, check=False), EXIT_ATTEST_FAILED,
           "wrong nonce")


def test_imported_key_is_refused(device):
    doc = _attest_key(device, "imp")
    _fails(_verify(device, doc, check=False), EXIT_ATTEST_POLICY, "sensitiveDataOrigin")


def test_key_from_another_token(device):
    """The certification of one key with another key's public area attached."""
    env = device["env"]
    run_ptool(["addtoken", "--pid", "1", "--label", "tok2", "--sopin", "so2",
               "--userpin", "user2"], env)
    add_key(env, "ecc256", "other", label="tok2", pin="user2")
    other = _json(_ptool(["attest", "key", "--label", "tok2", "--key-label", "other",
                          "--nonce", NONCE, "--userpin", "user2"], env))
    doc = _attest_key(device, "gen")
    doc["pub_area"], doc["ssh_public_key"] = other["pub_area"], other["ssh_public_key"]
    _fails(_verify(device, doc, check=False), EXIT_ATTEST_FAILED,
           "the certified name is not the name of pub_area")


def _flip(b64):
    raw = bytearray(base64.b64decode(b64))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


# What the one-line error names when each field is altered (a flipped bit in the middle).
ALTERED = {
    "type": "is not a tpm2-ptool-attest-key document",
    "version": "has version 2",
    "ssh_public_key": "ssh_public_key is not the key of pub_area",
    "pub_area": "pub_area",
    "cert_info": "the signature over cert_info does not verify with the enrolled AK",
    "signature": "signature",
    "webauthn_att_stmt": "webauthn_att_stmt",
}


def test_every_field_of_key_json_is_checked(device):
    doc = _attest_key(device, "gen", extra=["--ak-cert", device["record"]])
    assert set(doc) == set(ALTERED)
    _verify(device, doc)
    for field in doc:
        bad = dict(doc)
        if field == "type":
            bad[field] = "tpm2-ptool-attest-enroll"
        elif field == "version":
            bad[field] = 2
        elif field == "ssh_public_key":
            kind, blob = doc[field].split()
            bad[field] = kind + " " + _flip(blob)
        else:
            bad[field] = _flip(doc[field])
        proc = _verify(device, bad, check=False)
        assert proc.returncode == EXIT_ATTEST_FAILED, (field, proc.stderr)
        line = proc.stderr.splitlines()[0]
        assert "attestation check failed" in line and ALTERED[field] in line, (field, line)
    extra = dict(doc, comment="x")
    _fails(_verify(device, extra, check=False), EXIT_ATTEST_FAILED, 'unknown field "comment"')


def test_ek_certificate_must_chain(device, work):
    (work / "other").mkdir(exist_ok=True)
    _, other_ca = _make_ca(work / "other")  # a CA that signed nothing
    proc = _ptool(["attest", "challenge", "--ek-ca", other_ca, "--state", work / "x.state",
                   device["enroll"]], device["env"], check=False)
    _fails(proc, EXIT_ATTEST_FAILED, "the EK certificate does not chain to the given roots")
    assert not (work / "x.state").exists()


def test_impostor_ak_cannot_activate(device, work):
    """A second TPM's AK offered with the genuine EK certificate: the challenge is made (the
    EK checks out) but neither TPM can activate it, so accept is never reached."""
    other = Swtpm(ek_certs=True)
    try:
        store2 = work / "store2"
        env2 = ptool_env(other, store2)
        impostor = json.loads(device["enroll"].read_text())
        impostor["ak_public"] = _json(_ptool(["attest", "enroll"], env2))["ak_public"]
        enroll = _write(work / "impostor-enroll.json", impostor)
        challenge = _write(work / "impostor-challenge.json", _json(_ptool(
            ["attest", "challenge", "--ek-ca", device["roots"], "--state",
             work / "impostor.state", enroll], device["env"])))
        # The verifier's state is the only file with a secret: 0600.
        assert stat.S_IMODE((work / "impostor.state").stat().st_mode) == 0o600
        for env in (device["env"], env2):
            proc = _ptool(["attest", "activate", challenge], env, check=False)
            _fails(proc, 3, "cannot activate this credential")
    finally:
        other.stop()


def _tools_cred_file(id_object, secret):
    return struct.pack(">II", 0xBADCC0DE, 1) + id_object + secret


def test_our_credential_activates_with_tpm2_tools(device, work):
    env = device["env"]
    chal = json.loads(device["challenge"].read_text())
    cred = work / "ours.cred"
    cred.write_bytes(_tools_cred_file(base64.b64decode(chal["credential_blob"]),
                                      base64.b64decode(chal["encrypted_secret"])))
    ek, ak, sess, out = (work / n for n in ("ek.ctx", "ak.ctx", "s.ctx", "cred.out"))
    run(["tpm2_createek", "-c", ek, "-G", "rsa"], env=env)
    run(["tpm2_flushcontext", "-t"], env=env)
    run(["tpm2_createprimary", "-C", "e", "-g", "sha256", "-G", "ecc256:ecdsa-sha256:null",
         "-a", "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign",
         "-c", ak], env=env)
    run(["tpm2_flushcontext", "-t"], env=env)
    name = run(["tpm2_readpublic", "-c", ak], env=env).stdout
    record = json.loads(device["record"].read_text())
    assert f"name: {record['ak_name']}" in name
    run(["tpm2_startauthsession", "--policy-session", "-S", sess], env=env)
    run(["tpm2_policysecret", "-S", sess, "-c", "e"], env=env)
    run(["tpm2_activatecredential", "-c", ak, "-C", ek, "-i", cred, "-o", out,
         "-P", f"session:{sess}"], env=env)
    run(["tpm2_flushcontext", sess], env=env, check=False)
    run(["tpm2_flushcontext", "-t"], env=env)
    assert out.read_bytes() == base64.b64decode(device["state_doc"]["credential"])


def test_tpm2_tools_credential_activates_with_ours(device, work):
    import hmac
    env = device["env"]
    enroll = json.loads(device["enroll"].read_text())
    record = json.loads(device["record"].read_text())
    ek_pub = base64.b64decode(enroll["ek_public"])
    (work / "ek.pub").write_bytes(struct.pack(">H", len(ek_pub)) + ek_pub)
    secret = bytes(range(32))
    (work / "secret.bin").write_bytes(secret)
    run(["tpm2_makecredential", "--tcti", "none", "-u", work / "ek.pub", "-s",
         work / "secret.bin", "-n", record["ak_name"], "-o", work / "tools.cred"], env=env)
    blob = (work / "tools.cred").read_bytes()[8:]
    id_len = struct.unpack(">H", blob[:2])[0] + 2
    chal = {"type": "tpm2-ptool-attest-challenge", "version": 1, "challenge_id": "00" * 16,
            "ek_template": "L-1",
            "credential_blob": base64.b64encode(blob[:id_len]).decode(),
            "encrypted_secret": base64.b64encode(blob[id_len:]).decode()}
    resp = _json(_ptool(["attest", "activate", _write(work / "tools-chal.json", chal)], env))
    expected = hmac.new(secret, b"tpm2-ptool attest activate" + bytes.fromhex(record["ak_name"]),
                        hashlib.sha256).digest()
    assert base64.b64decode(resp["proof"]) == expected


def _tpm2b(buf, off):
    n = struct.unpack(">H", buf[off:off + 2])[0]
    return buf[off + 2:off + 2 + n], off + 2 + n


def _ecdsa_der(sig):
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    alg, _hash = struct.unpack(">HH", sig[:4])
    assert alg == 0x0018  # TPM2_ALG_ECDSA
    r, off = _tpm2b(sig, 4)
    s, _ = _tpm2b(sig, off)
    return encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))


def test_certify_signature_verifies_with_openssl(device, work):
    doc = _attest_key(device, "gen")
    record = json.loads(device["record"].read_text())
    (work / "ak.der").write_bytes(base64.b64decode(record["ak_certificate"]))
    pub = run(["openssl", "x509", "-inform", "der", "-in", work / "ak.der", "-pubkey",
               "-noout"], env=device["env"]).stdout
    (work / "ak.pem").write_text(pub)
    (work / "certinfo.bin").write_bytes(base64.b64decode(doc["cert_info"]))
    (work / "sig.der").write_bytes(_ecdsa_der(base64.b64decode(doc["signature"])))
    out = run(["openssl", "dgst", "-sha256", "-verify", work / "ak.pem", "-signature",
               work / "sig.der", work / "certinfo.bin"], env=device["env"]).stdout
    assert "Verified OK" in out


def test_webauthn_statement_passes_webauthn_8_3(device):
    """WebAuthn §8.3 verification procedure for a "tpm" statement, written out with
    python3-cryptography and python3-cbor2; extraData is our nonce hash."""
    import cbor2
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

    doc = _attest_key(device, "gen", extra=["--ak-cert", device["record"]])
    stmt = cbor2.loads(base64.b64decode(doc["webauthn_att_stmt"]))
    assert set(stmt) == {"ver", "alg", "x5c", "sig", "certInfo", "pubArea"}
    assert stmt["ver"] == "2.0" and stmt["alg"] == -7
    pub_area, cert_info = stmt["pubArea"], stmt["certInfo"]
    # pubArea's key is the credential (here: OpenSSH) public key.
    ssh_blob = base64.b64decode(doc["ssh_public_key"].split()[1])
    point = ssh_blob[-65:]
    assert point[0] == 4 and point[1:33] in pub_area and point[33:] in pub_area
    # certInfo: magic TPM_GENERATED_VALUE, type TPM_ST_ATTEST_CERTIFY, extraData, name.
    magic, typ = struct.unpack(">IH", cert_info[:6])
    assert (magic, typ) == (0xFF544347, 0x8017)
    _signer, off = _tpm2b(cert_info, 6)
    extra, off = _tpm2b(cert_info, off)
    assert extra == hashlib.sha256(bytes.fromhex(NONCE) + ssh_blob).digest()
    off += 17 + 8  # clockInfo, firmwareVersion
    name, off = _tpm2b(cert_info, off)
    name_alg = struct.unpack(">H", pub_area[2:4])[0]
    assert name_alg == 0x000B
    assert name == pub_area[2:4] + hashlib.sha256(pub_area).digest()
    # x5c[0] is the AK certificate: sig verifies over certInfo; profile requirements.
    aik = x509.load_der_x509_certificate(stmt["x5c"][0])
    aik.public_key().verify(stmt["sig"], cert_info, ec.ECDSA(hashes.SHA256()))
    assert aik.version == x509.Version.v3
    assert len(aik.subject) == 0
    san = aik.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical
    dirname = san.value.get_values_for_type(x509.DirectoryName)[0]
    oids = {a.oid.dotted_string for a in dirname}
    assert {"2.23.133.2.1", "2.23.133.2.2", "2.23.133.2.3"} <= oids
    eku = aik.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ObjectIdentifier("2.23.133.8.3") in list(eku)
    assert ExtendedKeyUsageOID.SERVER_AUTH not in list(eku)
    assert aik.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    # The AK certificate chains to the verifier's CA.
    ca = x509.load_pem_x509_certificate(device["ca_cert"].read_bytes())
    ca.public_key().verify(aik.signature, aik.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))


def test_documents_match_their_schemas(device):
    import jsonschema
    from ptool_fixtures import REPO_ROOT
    schemas = REPO_ROOT / "docs" / "schemas"
    docs = {"enroll": device["enroll"], "challenge": device["challenge"],
            "device": device["record"]}
    for name, path in docs.items():
        schema = json.loads((schemas / f"attest-{name}.schema.json").read_text())
        jsonschema.validate(json.loads(path.read_text()), schema,
                            cls=jsonschema.Draft202012Validator)
    schema = json.loads((schemas / "attest-key.schema.json").read_text())
    jsonschema.validate(_attest_key(device, "gen", extra=["--ak-cert", device["record"]]),
                        schema, cls=jsonschema.Draft202012Validator)
    schema = json.loads((schemas / "attest-state.schema.json").read_text())
    jsonschema.validate(device["state_doc"], schema, cls=jsonschema.Draft202012Validator)


def test_ecc_ek_credential_activates(device, work):
    """The ECC P-256 (L-2) path of our MakeCredential (ECDH + KDFe): swtpm_setup writes no
    P-256 EK certificate, so the test CA certifies the TPM's L-2 EK (from tpm2_createek)."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    env = device["env"]
    run(["tpm2_createek", "-c", work / "ecek.ctx", "-G", "ecc", "-u", work / "ecek.pub"],
        env=env)
    run(["tpm2_flushcontext", "-t"], env=env)
    area = (work / "ecek.pub").read_bytes()[2:]
    # unique = TPMS_ECC_POINT: x (TPM2B) || y (TPM2B), at the end of TPMT_PUBLIC.
    ylen = struct.unpack(">H", area[-34:-32])[0]
    assert ylen == 32
    y = area[-32:]
    xlen = struct.unpack(">H", area[-68:-66])[0]
    assert xlen == 32
    xs = area[-66:-34]
    ek_key = ec.EllipticCurvePublicNumbers(int.from_bytes(xs, "big"), int.from_bytes(y, "big"),
                                           ec.SECP256R1()).public_key()
    ca_key = serialization.load_pem_private_key((work / "ca.key").read_bytes(), None)
    ca = x509.load_pem_x509_certificate(device["ca_cert"].read_bytes())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "ecc ek")])).issuer_name(ca.subject)
        .public_key(ek_key).serial_number(7).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1)).sign(ca_key, hashes.SHA256()))
    enroll = json.loads(device["enroll"].read_text())
    enroll.update(ek_nv_index="0x01c0000a", ek_template="L-2",
                  ek_certificate=base64.b64encode(
                      cert.public_bytes(serialization.Encoding.DER)).decode(),
                  ek_public=base64.b64encode(area).decode())
    path = _write(work / "ecc-enroll.json", enroll)
    state = work / "ecc.state"
    chal = _write(work / "ecc-challenge.json", _json(_ptool(
        ["attest", "challenge", "--ek-ca", device["ca_cert"], "--state", state, path], env)))
    resp = _write(work / "ecc-response.json", _json(_ptool(["attest", "activate", chal], env)))
    record = _json(_ptool(["attest", "accept", "--state", state, resp], env))
    assert record["ek_subject"] == "CN=ecc ek"


def test_linked_pem_with_changed_auth(device, work):
    """A key exported as TSS2 PEM with a new auth and linked back: without that auth the TPM
    refuses Certify (exit 3, the TPM checks the auth); with it, the key is still the TPM's own
    generated key and verifies."""
    env = device["env"]
    pw = work / "newauth"
    pw.write_text("changed\n")
    pw.chmod(0o600)
    prefix = work / "exported"
    run_ptool(["export", "--label", "tok", "--key-label", "gen", "--userpin", USER_PIN,
               "--new-auth-file", pw, "--output-prefix", prefix], env)
    run_ptool(["link", "--label", "tok", "--key-label", "linked-noauth", f"{prefix}.pem",
               "--userpin", USER_PIN], env)
    proc = _ptool(["attest", "key", "--label", "tok", "--key-label", "linked-noauth",
                   "--nonce", NONCE, "--userpin", USER_PIN], env, check=False)
    _fails(proc, 3, "TPM2_Certify of the key (its stored auth)")
    reset_lockout(device["tpm"].tcti)
    run_ptool(["link", "--label", "tok", "--key-label", "linked", f"{prefix}.pem",
               "--userpin", USER_PIN, "--auth-file", pw], env)
    doc = _attest_key(device, "linked")
    assert _verify(device, doc).stdout.splitlines()[0] == _ssh_pubkey(device, "gen")


# ---- high-range EK certificates, endorsement auth, encrypted CA key -----------------------

def _flow(env, roots, work, name, enroll_extra=(), activate_env=None, accept_extra=()):
    """enroll -> challenge -> activate -> accept; returns (enroll doc, device record path)."""
    enroll = _write(work / f"{name}-enroll.json",
                    _json(_ptool(["attest", "enroll", *enroll_extra], env)))
    state = work / f"{name}.state"
    chal = _write(work / f"{name}-challenge.json", _json(_ptool(
        ["attest", "challenge", "--ek-ca", roots, "--state", state, "--force", enroll], env)))
    resp = _write(work / f"{name}-response.json",
                  _json(_ptool(["attest", "activate", chal], activate_env or env)))
    record = _write(work / f"{name}-device.json",
                    _json(_ptool(["attest", "accept", "--state", state, *accept_extra, resp],
                                 env)))
    return json.loads(enroll.read_text()), record


def test_high_range_p384_ek(device, work):
    """swtpm_setup's ECC P-384 certificate at 0x01c00016 (template H-3: SHA-384, AES-256,
    PolicyOR(PolicySecret, PolicyAuthorizeNV)); the key verified against that record."""
    enroll, record = _flow(device["env"], device["roots"], work, "p384",
                           enroll_extra=["--ek-index", "0x01c00016"])
    assert enroll["ek_nv_index"] == "0x01c00016" and enroll["ek_template"] == "H-3"
    area = base64.b64decode(enroll["ek_public"])
    assert struct.unpack(">HH", area[:4]) == (0x0023, 0x000C)  # ECC, nameAlg SHA-384
    dev = dict(device, record=record)
    doc = _attest_key(dev, "gen")
    assert _verify(dev, doc).stdout.splitlines()[0] == _ssh_pubkey(device, "gen")
    assert_no_tpm_leaks(device["tpm"].tcti)


def test_ek_index_errors(device):
    env = device["env"]
    _fails(_ptool(["attest", "enroll", "--ek-index", "0x01c00012"], env, check=False), 6,
           "no EK certificate at 0x01c00012")
    _fails(_ptool(["attest", "enroll", "--ek-index", "0x01c00013"], env, check=False), 2,
           "is not an EK certificate index")


@pytest.fixture(scope="module")
def hightpm(work):
    """swtpm with only high-range EK certificates: RSA 3072 (H-6) and ECC P-384 (H-3)."""
    tpm = Swtpm(ek_certs=True, ek_rsa_keysize=3072)
    env = ptool_env(tpm, work / "store-high")
    roots = work / "highroots.pem"
    roots.write_text(tpm.ek_ca_root.read_text() + tpm.ek_ca_issuer.read_text())
    yield {"tpm": tpm, "env": env, "roots": roots}
    tpm.stop()


def test_only_high_range_certificates(hightpm, work):
    env = hightpm["env"]
    enroll, _ = _flow(env, hightpm["roots"], work, "hi-default")
    assert enroll["ek_nv_index"] == "0x01c00016" and enroll["ek_template"] == "H-3"
    enroll, record = _flow(env, hightpm["roots"], work, "hi-rsa3072",
                           enroll_extra=["--ek-index", "0x01c0001c"])
    assert enroll["ek_template"] == "H-6"
    import jsonschema
    from ptool_fixtures import REPO_ROOT
    for name in ("enroll", "challenge"):
        schema = json.loads((REPO_ROOT / "docs" / "schemas" /
                             f"attest-{name}.schema.json").read_text())
        jsonschema.validate(json.loads((work / f"hi-rsa3072-{name}.json").read_text()), schema,
                            cls=jsonschema.Draft202012Validator)
    area = base64.b64decode(enroll["ek_public"])
    assert struct.unpack(">HH", area[:4]) == (0x0001, 0x000C)  # RSA, nameAlg SHA-384
    assert json.loads(record.read_text())["ek_issuer"] == "CN=swtpm-localca"
    assert_no_tpm_leaks(hightpm["tpm"].tcti)


def test_endorsement_auth(hightpm, work):
    """With an endorsement hierarchy auth set: taken from a file or the environment, a wrong
    one is exit 3, none (no terminal) a usage error naming the options."""
    env = hightpm["env"]
    authfile = work / "eh-auth"
    authfile.write_text("eh-secret\n")
    authfile.chmod(0o600)
    wrong = work / "eh-wrong"
    wrong.write_text("nope\n")
    wrong.chmod(0o600)
    run(["tpm2_changeauth", "-c", "e", "eh-secret"], env=env)
    try:
        proc = _ptool(["attest", "enroll"], env, check=False)
        _fails(proc, 2, "--endorsement-auth-file")
        proc = _ptool(["attest", "enroll", "--endorsement-auth-file", wrong], env, check=False)
        _fails(proc, 3, "TPM2_CreatePrimary(EK)")
        assert "--endorsement-auth-file" in proc.stderr
        env_auth = dict(env, TPM2_PTOOL_ENDORSEMENT_AUTH="eh-secret")
        enroll, record = _flow(env, hightpm["roots"], work, "eh",
                               enroll_extra=["--endorsement-auth-file", authfile],
                               activate_env=env_auth)
        assert enroll["ek_template"] == "H-3"
        # The AK is the same key whatever the hierarchy's auth.
        before = json.loads((work / "hi-default-enroll.json").read_text())
        assert enroll["ak_public"] == before["ak_public"]
        chal = work / "eh-challenge.json"
        proc = _ptool(["attest", "activate", "--endorsement-auth-file", wrong, chal], env,
                      check=False)
        _fails(proc, 3, "endorsement")
    finally:
        run(["tpm2_changeauth", "-c", "e", "-p", "eh-secret"], env=env)
    assert_no_tpm_leaks(hightpm["tpm"].tcti)


def test_encrypted_ca_key(device, work):
    """accept --issue-ak-cert with an encrypted CA key: passphrase from a file or the
    environment; a wrong one is exit 3 and leaves the state file for another try."""
    env = device["env"]
    plain = work / "ca.key"
    pkcs8, legacy = work / "ca-enc.key", work / "ca-legacy.key"
    run(["openssl", "pkey", "-in", plain, "-aes256", "-passout", "pass:ca pass", "-out", pkcs8])
    run(["openssl", "pkey", "-in", plain, "-traditional", "-aes256", "-passout", "pass:ca pass",
         "-out", legacy])
    assert "ENCRYPTED PRIVATE KEY" in pkcs8.read_text()
    assert "Proc-Type: 4,ENCRYPTED" in legacy.read_text()
    wrong = work / "ca-wrong"
    wrong.write_text("not it\n")
    wrong.chmod(0o600)
    enroll = device["enroll"]
    state = work / "enc.state"
    chal = _write(work / "enc-challenge.json", _json(_ptool(
        ["attest", "challenge", "--ek-ca", device["roots"], "--state", state, enroll], env)))
    resp = _write(work / "enc-response.json", _json(_ptool(["attest", "activate", chal], env)))
    base = ["attest", "accept", "--state", state, "--ca-cert", device["ca_cert"]]
    for key in (pkcs8, legacy):
        proc = _ptool([*base, "--issue-ak-cert", key, resp], env, check=False)
        _fails(proc, 2, "--ca-key-pass-file")
        proc = _ptool([*base, "--issue-ak-cert", key, "--ca-key-pass-file", wrong, resp], env,
                      check=False)
        _fails(proc, 3, "cannot decrypt the --issue-ak-cert key: wrong passphrase")
        assert state.exists()
    record = _json(_ptool([*base, "--issue-ak-cert", legacy, resp],
                          dict(env, TPM2_PTOOL_CA_KEY_PASS="ca pass")))
    assert not state.exists()
    (work / "enc-ak.der").write_bytes(base64.b64decode(record["ak_certificate"]))
    run(["openssl", "x509", "-inform", "der", "-in", work / "enc-ak.der", "-out",
         work / "enc-ak.pem"])
    run(["openssl", "verify", "-partial_chain", "-CAfile", device["ca_cert"],
         work / "enc-ak.pem"])
