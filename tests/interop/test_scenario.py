"""A long provisioning scenario on one swtpm, finished by the upstream module.

Modelled on a real provisioning run: three primaries (default, an existing
persistent handle with an auth, an ESYS_TR file), four tokens (one with an
empty user PIN), PIN changes with verify after each, keys of every algorithm
the TPM supports, addcert, export, imports, objmod/objdel, rmkey, rmtoken and
destroy.  Then upstream's libtpm2_pkcs11.so lists the remaining tokens and
signs with every remaining RSA/EC key, and an exported TSS2 PEM key signs
through the tpm2 OpenSSL provider; every signature is checked with openssl.
"""

import hashlib
import sqlite3

import yaml

from ptool_fixtures import (STORE_DB_NAME, UPSTREAM_MODULE, base_env, ptool_env,
                            requires_file, requires_tool, run, run_ptool, store_query)

MESSAGE = b"provisioning scenario message\n"
PRIMARY_AUTH = "primary-auth-X"


def _dump(store):
    con = sqlite3.connect(f"file:{store / STORE_DB_NAME}?mode=ro", uri=True)
    try:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                for t in ("pobjects", "tokens", "sealobjects", "tobjects", "schema")}
    finally:
        con.close()


def _tpm2(args, tcti):
    env = base_env()
    env["TPM2TOOLS_TCTI"] = tcti
    return run(args, env=env)


def _public_pem(env, tmp, token, key_label):
    line = run_ptool(["ssh-pubkey", "--label", token, "--key-label", key_label], env).stdout
    ssh = tmp / f"{token}-{key_label}.ssh.pub"
    ssh.write_text(line)
    pem = tmp / f"{token}-{key_label}.pub.pem"
    pem.write_text(run(["ssh-keygen", "-e", "-m", "PKCS8", "-f", ssh]).stdout)
    return pem


def test_provisioning_scenario(swtpm, tmp_path):
    for tool in ("tpm2_createprimary", "tpm2_evictcontrol", "openssl", "pkcs11-tool",
                 "ssh-keygen"):
        requires_tool(tool)
    requires_file(UPSTREAM_MODULE, "upstream PKCS#11 module")
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    env = ptool_env(swtpm, store)
    tcti = swtpm.tcti

    # --- three primaries
    pid1 = yaml.safe_load(run_ptool(["init"], env).stdout)["id"]
    _tpm2(["tpm2_createprimary", "-C", "o", "-p", PRIMARY_AUTH, "-c", tmp_path / "p2.ctx"], tcti)
    _tpm2(["tpm2_evictcontrol", "-C", "o", "-c", tmp_path / "p2.ctx", "0x81000010"], tcti)
    _tpm2(["tpm2_flushcontext", "-t"], tcti)  # direct swtpm: nobody flushes for us
    pid2 = yaml.safe_load(run_ptool(["init", "--primary-handle", "0x81000010",
                                     "--primary-auth", PRIMARY_AUTH], env).stdout)["id"]
    _tpm2(["tpm2_createprimary", "-C", "o", "-c", tmp_path / "p3.ctx"], tcti)
    _tpm2(["tpm2_evictcontrol", "-C", "o", "-c", tmp_path / "p3.ctx", "0x81000011",
           "-o", tmp_path / "p3.tr"], tcti)
    _tpm2(["tpm2_flushcontext", "-t"], tcti)
    pid3 = yaml.safe_load(run_ptool(["init", "--primary-handle", tmp_path / "p3.tr"],
                                    env).stdout)["id"]
    assert len({pid1, pid2, pid3}) == 3

    # --- four tokens, t2 with an empty user PIN
    pins = {"t1": ("so1", "user1"), "t2": ("so2", ""), "t3": ("so3", "user3"),
            "t4": ("so4", "user4")}
    for label, pid in (("t1", pid1), ("t2", pid1), ("t3", pid2), ("t4", pid3)):
        so, user = pins[label]
        run_ptool(["addtoken", "--pid", pid, "--label", label, "--sopin", so,
                   "--userpin", user], env)

    def verify(label):
        so, user = pins[label]
        out = yaml.safe_load(run_ptool(["verify", "--label", label, "--sopin", so,
                                        "--userpin", user], env).stdout)
        assert out["label"] == label

    run_ptool(["changepin", "--label", "t1", "--user", "user", "--old", "user1",
               "--new", "user1b"], env)
    pins["t1"] = ("so1", "user1b")
    verify("t1")
    run_ptool(["changepin", "--label", "t1", "--user", "so", "--old", "so1", "--new", "so1b"],
              env)
    pins["t1"] = ("so1b", "user1b")
    verify("t1")
    run_ptool(["initpin", "--label", "t3", "--sopin", "so3", "--userpin", "user3b"], env)
    pins["t3"] = ("so3", "user3b")
    verify("t3")
    run_ptool(["changepin", "--label", "t3", "--user", "so", "--old", "so3", "--new", "so3b"],
              env)
    pins["t3"] = ("so3b", "user3b")
    verify("t3")
    wrong = run_ptool(["verify", "--label", "t3", "--userpin", "user3"], env, check=False)
    assert wrong.returncode == 3, wrong.stderr

    # --- keys of every algorithm swtpm supports (rsa4096 skipped: slow)
    signing = []  # (token, key label, kind) of keys the module must sign with
    algorithms = ("rsa1024", "rsa2048", "rsa3072", "ecc224", "ecc256", "ecc384", "ecc521",
                  "aes128", "aes256", "hmac:sha1", "hmac:sha256", "hmac:sha384",
                  "hmac:sha512")
    added = []
    for alg in algorithms:
        proc = run_ptool(["addkey", "--label", "t1", "--algorithm", alg, "--key-label", alg,
                          "--userpin", pins["t1"][1]], env, check=False)
        if proc.returncode == 5:  # not supported by this TPM
            continue
        assert proc.returncode == 0, proc.stderr
        added.append(alg)
        # P-224 has no OpenSSH key type, so ssh-pubkey cannot give its public key.
        if alg.startswith(("rsa", "ecc")) and alg != "ecc224":
            signing.append(("t1", alg))
    assert {"rsa2048", "rsa3072", "ecc256", "ecc384", "aes128", "hmac:sha256"} <= set(added)
    for label, alg in (("t2", "ecc256"), ("t3", "rsa2048"), ("t4", "ecc256")):
        run_ptool(["addkey", "--label", label, "--algorithm", alg, "--key-label", f"{label}k",
                   "--userpin", pins[label][1]], env)
        signing.append((label, f"{label}k"))

    # --- addcert (any X.509 certificate; linked to the key by its CKA_ID)
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", tmp_path / "cert.key", "-out", tmp_path / "cert.pem",
         "-subj", "/CN=scenario", "-days", "2"])
    run_ptool(["addcert", "--label", "t1", "--key-label", "rsa2048", tmp_path / "cert.pem"], env)

    # --- imports: RSA and EC PEM, OpenSSH without and with a passphrase
    run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
         "-out", tmp_path / "imp-rsa.pem"])
    run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-out", tmp_path / "imp-ec.pem"])
    run(["ssh-keygen", "-q", "-t", "ecdsa", "-b", "256", "-N", "", "-f", tmp_path / "ssh-ec"])
    run(["ssh-keygen", "-q", "-t", "ecdsa", "-b", "256", "-N", "pw", "-f", tmp_path / "ssh-enc"])
    for name, path in (("imp-rsa", "imp-rsa.pem"), ("imp-ec", "imp-ec.pem"),
                       ("imp-ssh", "ssh-ec")):
        run_ptool(["import", "--label", "t1", "--privkey", tmp_path / path, "--key-label", name,
                   "--userpin", pins["t1"][1]], env)
        signing.append(("t1", name))
    before = _dump(store)
    wrong = run_ptool(["import", "--label", "t1", "--privkey", tmp_path / "ssh-enc", "--passin",
                       "pass:nope", "--key-label", "imp-ssh-enc", "--userpin", pins["t1"][1]],
                      env, check=False)
    assert wrong.returncode == 3 and "wrong passphrase" in wrong.stderr, wrong.stderr
    assert _dump(store) == before
    run_ptool(["import", "--label", "t1", "--privkey", tmp_path / "ssh-enc", "--passin",
               "env:SSH_KEY_PASS", "--key-label", "imp-ssh-enc", "--userpin", pins["t1"][1]],
              dict(env, SSH_KEY_PASS="pw"))
    signing.append(("t1", "imp-ssh-enc"))
    enc_pub = run_ptool(["ssh-pubkey", "--label", "t1", "--key-label", "imp-ssh-enc"],
                        env).stdout.split()[:2]
    assert enc_pub == run(["ssh-keygen", "-y", "-P", "pw", "-f",
                           tmp_path / "ssh-enc"]).stdout.split()[:2]

    # --- export in every format; public objects export as public-key PEM
    objects = yaml.safe_load(run_ptool(["listobjects", "--label", "t1"], env).stdout)
    by_label = {}
    for obj in objects:
        by_label.setdefault(obj["CKA_LABEL"], {})[obj["CKA_CLASS"]] = obj["id"]
    exported = []
    for fmt, key in (("auto", "rsa2048"), ("pem", "ecc256"), ("tpm2", "rsa3072")):
        out = yaml.safe_load(run_ptool(
            ["export", "--label", "t1", "--key-label", key, "--format", fmt,
             "--output-prefix", tmp_path / f"exp-{key}", "--userpin", pins["t1"][1]],
            env).stdout)
        if fmt == "tpm2":
            for ext in ("pub", "priv", "tr"):
                assert (tmp_path / f"exp-{key}.{ext}").stat().st_size > 0
        else:
            assert (tmp_path / f"exp-{key}.pem").read_text().startswith(
                "-----BEGIN TSS2 PRIVATE KEY-----")
            exported.append((key, out["object-auth"]))
    run_ptool(["export", "--id", str(by_label["ecc384"]["CKO_PUBLIC_KEY"]),
               "--output-prefix", tmp_path / "exp-pub384"], env)
    pub384 = (tmp_path / "exp-pub384.pem").read_text()
    assert pub384.startswith("-----BEGIN PUBLIC KEY-----")
    assert pub384 == _public_pem(env, tmp_path, "t1", "ecc384").read_text()

    # --- objmod / objdel / rmkey / rmtoken / destroy
    aes_id = by_label["aes128"]["CKO_SECRET_KEY"]
    run_ptool(["objmod", "--id", str(aes_id), "--key", "CKA_LABEL", "--value", "aes-renamed",
               "--type", "str"], env)
    shown = run_ptool(["objmod", "--id", str(aes_id), "--key", "CKA_LABEL"], env).stdout
    assert "aes-renamed".encode().hex() in shown  # objmod shows CKA_LABEL as hex
    cert_id = by_label["rsa2048"]["CKO_CERTIFICATE"]
    run_ptool(["objdel", str(cert_id)], env)
    removed = "rsa1024" if "rsa1024" in added else "ecc224"
    run_ptool(["rmkey", "--label", "t1", "--key-label", removed], env)
    signing = [s for s in signing if s != ("t1", removed)]
    run_ptool(["rmtoken", "--label", "t2"], env)
    run_ptool(["destroy", "--pid", pid3, "--yes"], env)
    signing = [s for s in signing if s[0] not in ("t2", "t4")]
    tokens = [r[0] for r in store_query(store, "SELECT label FROM tokens ORDER BY id")]
    assert tokens == ["t1", "t3"]

    # --- upstream module: lists every remaining token, signs with every RSA/EC key
    listing = run(["pkcs11-tool", "--module", UPSTREAM_MODULE, "-L"], env=env).stdout
    for label in tokens:
        assert f"token label        : {label}" in listing, listing
    msg = tmp_path / "msg.bin"
    msg.write_bytes(MESSAGE)
    ids = {}
    for label in tokens:
        for obj in yaml.safe_load(run_ptool(["listobjects", "--label", label], env).stdout):
            ids[(label, obj["CKA_LABEL"])] = obj["CKA_ID"][0]  # upstream's one-element list
    for label, key in signing:
        pem = _public_pem(env, tmp_path, label, key)
        is_ec = "ASN1 OID" in run(["openssl", "pkey", "-pubin", "-in", pem, "-text_pub",
                                   "-noout"]).stdout
        sig = tmp_path / f"{label}-{key}.sig"
        mech = ["-m", "ECDSA-SHA256", "--signature-format", "openssl"] if is_ec else \
            ["-m", "SHA256-RSA-PKCS"]
        run(["pkcs11-tool", "--module", UPSTREAM_MODULE, "--token-label", label, "--login",
             "--pin", pins[label][1], "--sign", *mech, "--id", ids[(label, key)], "-i", msg,
             "-o", sig], env=env)
        run(["openssl", "dgst", "-sha256", "-verify", pem, "-signature", sig, msg])

    # --- exported TSS2 PEM keys sign through the tpm2 OpenSSL provider
    digest = tmp_path / "digest.bin"
    digest.write_bytes(hashlib.sha256(MESSAGE).digest())
    prov_env = dict(env, TPM2OPENSSL_TCTI=tcti)
    for key, auth in exported:
        sig = tmp_path / f"prov-{key}.sig"
        run(["openssl", "pkeyutl", "-sign", "-provider", "tpm2", "-provider", "default",
             "-inkey", tmp_path / f"exp-{key}.pem", "-passin", f"pass:{auth}",
             "-pkeyopt", "digest:sha256", "-in", digest, "-out", sig], env=prov_env)
        pem = _public_pem(env, tmp_path, "t1", key)
        run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pem, "-pkeyopt",
             "digest:sha256", "-in", digest, "-sigfile", sig])
