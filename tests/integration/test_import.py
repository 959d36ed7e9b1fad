"""tpm2-ptool import: PEM/DER/PKCS#8/OpenSSH/HMAC keys via TPM2_Import; signs via upstream."""

import pytest
import yaml

from keyops_common import USER_PIN, make_token, store_dump
from ptool_fixtures import (UPSTREAM_MODULE, assert_no_tpm_leaks, requires_file, requires_tool,
                            reset_lockout, run, run_ptool, store_query)

MSG = b"import test message\n"
CKA_EXTRACTABLE, CKA_LOCAL, CKA_KEY_TYPE = 0x162, 0x163, 0x100


@pytest.fixture(scope="module")
def token(swtpm_module, tmp_path_factory):
    base = tmp_path_factory.mktemp("import")
    env = make_token(swtpm_module, base / "store")
    return env, base / "store", swtpm_module, base


def _genkey(base, name, *args):
    requires_tool("openssl")
    path = base / name
    run(["openssl", "genpkey", *args, "-out", path], env=None)
    return path


def _import(env, path, key_label, *extra, check=True):
    return run_ptool(["import", "--label", "tok", "--privkey", path, "--key-label", key_label,
                      "--userpin", USER_PIN, *extra], env, check=check)


def _attrs_of(store, key_label):
    out = []
    for (attrs,) in store_query(store, "SELECT attrs FROM tobjects ORDER BY id"):
        a = yaml.safe_load(attrs)
        if bytes.fromhex(a.get(3, "")).decode() == key_label:
            out.append(a)
    return out


def _pkcs11_sign_verify(env, base, key_id, mech, pubkey_pem, extra_verify=()):
    requires_tool("pkcs11-tool")
    requires_file(UPSTREAM_MODULE, "upstream PKCS#11 module")
    msg, sig = base / "msg", base / "sig"
    msg.write_bytes(MSG)
    run(["pkcs11-tool", "--module", UPSTREAM_MODULE, "--token-label", "tok", "--login", "--pin",
         USER_PIN, "--sign", "-m", mech, "--signature-format", "openssl", "--id",
         key_id.encode().hex(), "-i", msg, "-o", sig], env=env)
    run(["openssl", "dgst", "-sha256", "-verify", pubkey_pem, *extra_verify, "-signature", sig,
         msg], env=env)


@pytest.mark.parametrize("kind,args,mech", [
    ("rsa", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], "SHA256-RSA-PKCS"),
    ("ec", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], "ECDSA-SHA256")])
@pytest.mark.parametrize("form", ["pem", "der", "pkcs8-enc", "traditional-enc"])
def test_openssl_formats_sign_through_upstream(token, kind, args, mech, form):
    env, store, tpm, base = token
    key = _genkey(base, f"{kind}-{form}.pem", *args)
    pub = base / f"{kind}-{form}.pub.pem"
    run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], env=None)
    src, extra = key, []
    if form == "der":
        src = base / f"{kind}.der"
        run(["openssl", "pkey", "-in", key, "-outform", "DER", "-out", src], env=None)
    elif form == "pkcs8-enc":
        src = base / f"{kind}.p8"
        run(["openssl", "pkcs8", "-topk8", "-in", key, "-passout", "pass:pw", "-out", src],
            env=None)
        extra = ["--passin", "pass:pw"]
    elif form == "traditional-enc":
        src = base / f"{kind}.trad"
        run(["openssl", "pkey", "-in", key, "-traditional", "-aes256", "-passout", "pass:pw",
             "-out", src], env=None)
        extra = ["--passin", "env:KEYPASS"]
    out = yaml.safe_load(_import(dict(env, KEYPASS="pw"), src, f"{kind}-{form}", *extra).stdout)
    assert out["action"] == "import"
    key_id = bytes.fromhex(out["private"]["CKA_ID"]).decode()
    priv, public = _attrs_of(store, f"{kind}-{form}")
    assert priv[CKA_EXTRACTABLE] is True and priv[CKA_LOCAL] is False
    _pkcs11_sign_verify(env, base, key_id, mech, pub)
    assert_no_tpm_leaks(tpm.tcti)


@pytest.mark.parametrize("keytype,bits", [("rsa", "2048"), ("ecdsa", "256"), ("ecdsa", "384")])
def test_openssh_key_same_public_key(token, keytype, bits):
    env, store, tpm, base = token
    requires_tool("ssh-keygen")
    path = base / f"id_{keytype}{bits}"
    run(["ssh-keygen", "-q", "-t", keytype, "-b", bits, "-N", "", "-f", path], env=None)
    _import(env, path, f"ossh-{keytype}{bits}")
    ours = run_ptool(["ssh-pubkey", "--label", "tok", "--key-label", f"ossh-{keytype}{bits}"],
                     env).stdout.split()[:2]
    theirs = run(["ssh-keygen", "-y", "-f", path], env=None).stdout.split()[:2]
    assert ours == theirs


@pytest.mark.parametrize("keytype,bits,cipher", [
    ("ecdsa", "256", "aes256-ctr"), ("rsa", "2048", "aes256-gcm@openssh.com"),
    ("ecdsa", "384", "chacha20-poly1305@openssh.com")])
def test_encrypted_openssh_key_imports_and_signs(token, keytype, bits, cipher):
    """ssh-keygen's passphrase-protected keys (bcrypt_pbkdf): same public key, and it signs."""
    env, store, tpm, base = token
    requires_tool("ssh-keygen")
    label = f"enc-{keytype}{bits}"
    path = base / f"id_{label}"
    run(["ssh-keygen", "-q", "-t", keytype, "-b", bits, "-N", "secret phrase", "-Z", cipher,
         "-f", path], env=None)
    pw = base / f"{label}.pass"
    pw.write_text("secret phrase\n")
    pw.chmod(0o600)
    out = yaml.safe_load(_import(env, path, label, "--passin", f"file:{pw}").stdout)
    key_id = bytes.fromhex(out["private"]["CKA_ID"]).decode()
    ours = run_ptool(["ssh-pubkey", "--label", "tok", "--key-label", label], env).stdout.split()
    theirs = run(["ssh-keygen", "-y", "-P", "secret phrase", "-f", path], env=None).stdout.split()
    assert ours[:2] == theirs[:2]
    pub = base / f"{label}.pub.pem"
    pub.write_text(run(["ssh-keygen", "-e", "-m", "PKCS8", "-f", f"{path}.pub"],
                       env=None).stdout)
    mech = "SHA256-RSA-PKCS" if keytype == "rsa" else "ECDSA-SHA256"
    _pkcs11_sign_verify(env, base, key_id, mech, pub)
    assert_no_tpm_leaks(tpm.tcti)


@pytest.mark.parametrize("passin,rc,text", [
    (["--passin", "pass:wrong"], 3, "wrong passphrase"),
    ([], 3, "is encrypted"),
    (["--passin", "pass:"], 3, "wrong passphrase")])
def test_encrypted_openssh_bad_passphrase_changes_nothing(token, passin, rc, text):
    env, store, tpm, base = token
    requires_tool("ssh-keygen")
    path = base / "id_enc_bad"
    if not path.exists():
        run(["ssh-keygen", "-q", "-t", "ecdsa", "-N", "right", "-f", path], env=None)
    dump = store_dump(store)
    proc = _import(env, path, "enc-bad", *passin, check=False)
    assert proc.returncode == rc, proc.stderr
    assert text in proc.stderr and len(proc.stderr.strip().splitlines()) <= 2, proc.stderr
    assert "right" not in proc.stderr
    assert store_dump(store) == dump


def test_unsupported_openssh_cipher_is_refused_clearly(token):
    env, store, tpm, base = token
    requires_tool("ssh-keygen")
    path = base / "id_3des"
    run(["ssh-keygen", "-q", "-t", "ecdsa", "-N", "pw", "-Z", "3des-cbc", "-a", "1", "-f", path],
        env=None)
    dump = store_dump(store)
    proc = _import(env, path, "enc-3des", "--passin", "pass:pw", check=False)
    assert proc.returncode == 5 and "3des-cbc" in proc.stderr and "ssh-keygen -p" in proc.stderr
    assert store_dump(store) == dump


def test_bad_inputs_change_nothing(token):
    env, store, tpm, base = token
    key = _genkey(base, "bad-ec.pem", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
    enc = base / "bad.p8"
    run(["openssl", "pkcs8", "-topk8", "-in", key, "-passout", "pass:right", "-out", enc], env=None)
    junk = base / "junk.pem"
    junk.write_text("not a key\n")
    ed = _genkey(base, "ed.pem", "-algorithm", "ED25519")
    dump = store_dump(store)
    cases = [(["--privkey", enc, "--passin", "pass:wrong"], 3),
             (["--privkey", enc], 3),
             (["--privkey", junk], 2),
             (["--privkey", base / "missing.pem"], 2),
             (["--privkey", ed], 5),
             (["--privkey", key, "--algorithm", "rsa"], 2),
             (["--privkey", key, "--passin", "bogus"], 2)]
    for args, rc in cases:
        proc = run_ptool(["import", "--label", "tok", "--userpin", USER_PIN, *args], env,
                         check=False)
        assert proc.returncode == rc, (args, proc.stderr)
    proc = run_ptool(["import", "--label", "nope", "--privkey", key, "--userpin", USER_PIN], env,
                     check=False)
    assert proc.returncode == 6
    proc = run_ptool(["import", "--label", "tok", "--privkey", key, "--userpin", "wrong"], env,
                     check=False)
    assert proc.returncode == 3
    reset_lockout(tpm)
    assert store_dump(store) == dump


@pytest.mark.parametrize("alg,key_type", [("hmac", 0x10), ("hmac:sha256", 0x2B)])
def test_hmac_import(token, alg, key_type):
    env, store, tpm, base = token
    secret = base / f"hmac-{alg.replace(':', '-')}.key"
    secret.write_bytes(bytes(range(32)))
    _import(env, secret, f"h-{alg}", "--algorithm", alg)
    [obj] = _attrs_of(store, f"h-{alg}")
    assert obj[0] == 4 and obj[CKA_KEY_TYPE] == key_type and obj[0x161] == 32
