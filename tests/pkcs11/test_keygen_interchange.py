"""Keys generated through our module are stored as tpm2-ptool addkey stores them: upstream's
module signs with them and both CLIs list them; keys upstream's module generates sign through
ours. And OpenSC's pkcs11-tool --keypairgen / --write-object / --delete-object on our module.

Every signature is checked with openssl against the public key as ssh-keygen -D reads it."""

import hashlib

import pytest
import yaml

from p11_common import USER_PIN, module_path, provision
from ptool_fixtures import (UPSTREAM_MODULE, requires_tool, run, run_ptool, run_upstream,
                            store_query)

MESSAGE = b"keys made by one module, used by the other\n"


@pytest.fixture(scope="module")
def token(abrmd_module, tmp_path_factory):
    # Through abrmd: upstream's module keeps the keys it makes loaded, which would fill a
    # bare swtpm's object slots; upstream's tpm2_ptool needs abrmd anyway.
    for tool in ("pkcs11-tool", "openssl", "ssh-keygen"):
        requires_tool(tool)
    base = tmp_path_factory.mktemp("interchange")
    store = base / "store"
    store.mkdir(mode=0o700)
    tok = provision(abrmd_module, store, keys=(("ecc256", "k256"),))
    tok["dir"] = base
    return tok


def _p11(token, module, *args, check=True):
    return run(["pkcs11-tool", "--module", str(module), "--token-label", token["token"],
                *[str(a) for a in args]], env=token["env"], check=check)


def _login(token, module, *args, check=True):
    return _p11(token, module, "--login", "--pin", USER_PIN, *args, check=check)


def _public_pem(token, label):
    """The public key of `label` as ssh-keygen -D reads it through our module, as PEM."""
    lines = run(["ssh-keygen", "-D", module_path()], env=token["env"]).stdout.splitlines()
    [line] = [x for x in lines if x.split()[2:] == [label]]
    ssh_pub = token["dir"] / f"{label}.ssh.pub"
    ssh_pub.write_text(line + "\n")
    pem = token["dir"] / f"{label}.pem"
    pem.write_text(run(["ssh-keygen", "-e", "-m", "PKCS8", "-f", ssh_pub]).stdout)
    return pem


def _sign_verify(token, module, label, key_id, mech):
    d = token["dir"]
    msg = d / "msg.bin"
    msg.write_bytes(MESSAGE)
    sig = d / f"{label}.sig"
    args = ["--sign", "-m", mech, "--id", key_id, "-i", msg, "-o", sig]
    if mech.startswith("ECDSA"):
        args += ["--signature-format", "openssl"]
    _login(token, module, *args)
    pem = _public_pem(token, label)
    run(["openssl", "dgst", "-sha256", "-verify", pem, "-signature", sig, msg])
    bad = d / "bad.bin"
    bad.write_bytes(MESSAGE + b"x")
    assert run(["openssl", "dgst", "-sha256", "-verify", pem, "-signature", sig, bad],
               check=False).returncode != 0


def test_key_from_our_module_works_with_upstream_and_both_clis(token):
    ours = module_path()
    _login(token, ours, "--keypairgen", "--key-type", "EC:prime256v1", "--label", "gen-ec",
           "--id", "0a0b")
    _login(token, ours, "--keypairgen", "--key-type", "rsa:2048", "--label", "gen-rsa",
           "--id", "0c0d")
    # Stored exactly as tpm2-ptool addkey stored k256 (a P-256 key too): the same attributes
    # with the same values, but for what names the key and the key itself.
    rows = [yaml.safe_load(a) for (a,) in store_query(token["store"], "SELECT attrs FROM tobjects")]
    own = {0x3, 0x102, 0x181, 0x8f000001, 0x8f000002, 0x8f000003}  # label id point blobs auth

    def objects(label):
        found = [r for r in rows if r.get(0x3) == label.encode().hex()]
        return sorted(({k: v for k, v in r.items() if k not in own} for r in found),
                      key=lambda r: r[0])

    assert len(objects("gen-ec")) == 2
    assert objects("gen-ec") == objects("k256")
    _sign_verify(token, UPSTREAM_MODULE, "gen-ec", "0a0b", "ECDSA-SHA256")
    _sign_verify(token, UPSTREAM_MODULE, "gen-rsa", "0c0d", "SHA256-RSA-PKCS")

    listed = yaml.safe_load(run_ptool(["listobjects", "--label", "tok"], token["env"]).stdout)
    labels = sorted(str(o["CKA_LABEL"]) for o in listed)
    assert labels == ["gen-ec", "gen-ec", "gen-rsa", "gen-rsa", "k256", "k256"]
    theirs = yaml.safe_load(run_upstream(["listobjects", "--label", "tok"], token["env"]).stdout)
    assert sorted(str(o["CKA_LABEL"]) for o in theirs) == labels
    keys = run_ptool(["ssh-pubkey", "--label", "tok"], token["env"]).stdout.splitlines()
    assert sorted(line.split()[0] for line in keys) == [
        "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", "ssh-rsa"]
    assert any(line.endswith(" gen-rsa") for line in keys)


def test_key_from_upstream_module_signs_through_ours(token):
    _login(token, UPSTREAM_MODULE, "--keypairgen", "--key-type", "EC:secp384r1", "--label",
           "up-ec", "--id", "0e0f")
    _sign_verify(token, module_path(), "up-ec", "0e0f", "ECDSA-SHA256")


def test_pkcs11_tool_keygen_write_and_delete_objects(token):
    ours = module_path()
    d = token["dir"]
    _login(token, ours, "--keypairgen", "--key-type", "rsa:3072", "--label", "t-rsa3072",
           "--id", "1111")
    _login(token, ours, "--keypairgen", "--key-type", "EC:secp384r1", "--label", "t-ec384",
           "--id", "2222")
    out = _login(token, ours, "--list-objects", "--id", "1111").stdout
    assert "RSA 3072 bits" in out
    out = _login(token, ours, "--list-objects", "--id", "2222").stdout
    assert "EC_POINT 384 bits" in out
    _sign_verify(token, ours, "t-rsa3072", "1111", "SHA256-RSA-PKCS")

    # A certificate and an RSA public key from files.
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", d / "c.key", "-subj", "/CN=interchange", "-days", "1",
         "-outform", "DER", "-out", d / "cert.der"])
    run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024",
         "-out", d / "p.key"])
    run(["openssl", "pkey", "-in", d / "p.key", "-pubout", "-outform", "DER",
         "-out", d / "pub.der"])
    _login(token, ours, "--write-object", d / "cert.der", "--type", "cert", "--label", "c1",
           "--id", "3333")
    _login(token, ours, "--write-object", d / "pub.der", "--type", "pubkey", "--label", "p1",
           "--id", "4444")
    out = _login(token, ours, "--list-objects").stdout
    assert "Certificate Object" in out and "label:      c1" in out
    assert "label:      p1" in out
    # The certificate reads back byte for byte.
    _p11(token, ours, "--read-object", "--type", "cert", "--id", "3333", "-o", d / "back.der")
    assert (d / "back.der").read_bytes() == (d / "cert.der").read_bytes()
    # Our CLI sees what the module wrote.
    listed = yaml.safe_load(run_ptool(["listobjects", "--label", "tok"], token["env"]).stdout)
    assert {"c1", "p1", "t-rsa3072", "t-ec384"} <= {str(o["CKA_LABEL"]) for o in listed}

    _login(token, ours, "--delete-object", "--type", "cert", "--id", "3333")
    _login(token, ours, "--delete-object", "--type", "pubkey", "--id", "4444")
    _login(token, ours, "--delete-object", "--type", "privkey", "--id", "1111")
    out = _login(token, ours, "--list-objects").stdout
    assert "label:      c1" not in out and "label:      p1" not in out
    assert "Private Key Object; RSA 3072" not in out
    # The public half of the deleted key is still there: C_DestroyObject removes one object.
    assert "t-rsa3072" in out
