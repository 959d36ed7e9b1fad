"""Upstream 1.9.0 writes CKA_EC_POINT without padding the TPM's coordinates, so a P-256 key
whose X starts with a zero byte (1 in 256; X or Y: 1 in 128) gets a 63-byte point that
pkcs11-tool and OpenSSL reject. Our ssh-pubkey and our module pad it back.

The row is made as upstream would write it: a software key with such an X is imported, then
its stored point is shortened the way upstream's asn1_format_ec_point_uncompressed leaves it.
"""

import sqlite3

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from p11_common import USER_PIN, module_path, provision
from ptool_fixtures import STORE_DB_NAME, requires_tool, run, run_ptool


def _key_with_leading_zero_x():
    for _ in range(20000):
        key = ec.generate_private_key(ec.SECP256R1())
        point = key.public_key().public_bytes(serialization.Encoding.X962,
                                              serialization.PublicFormat.UncompressedPoint)
        if point[1] == 0 and point[33] != 0:
            return key, point
    raise AssertionError("no P-256 key with a leading zero byte in 20000 tries")


def test_unpadded_upstream_ec_point_is_served_padded(swtpm, store, tmp_path):
    requires_tool("ssh-keygen")
    tok = provision(swtpm.tcti, store, keys=())
    env = tok["env"]
    key, point = _key_with_leading_zero_x()
    pem = tmp_path / "short.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.TraditionalOpenSSL,
                                      serialization.NoEncryption()))
    pem.chmod(0o600)
    run_ptool(["import", "--label", tok["token"], "--privkey", pem, "--key-label", "short",
               "--userpin", USER_PIN], env)

    good = (bytes([0x04, 65]) + point).hex()
    short = (bytes([0x04, 64, 0x04]) + point[2:]).hex()
    con = sqlite3.connect(store / STORE_DB_NAME)
    with con:
        changed = con.execute("UPDATE tobjects SET attrs = replace(attrs, ?, ?)",
                              (good, short)).rowcount
    con.close()
    assert changed == 2  # the private and the public row

    expected = run(["ssh-keygen", "-y", "-f", pem]).stdout.split()[:2]
    ours = run_ptool(["ssh-pubkey", "--label", tok["token"], "--key-label", "short"],
                     env).stdout.split()[:2]
    assert ours == expected
    # ssh-keygen -D builds an EC key from the module's CKA_EC_POINT: a short point fails there.
    # (pkcs11-tool --read-object is not used: OpenSC 0.23 reads freed memory on that path,
    # which the ASan pass reports.)
    listed = run(["ssh-keygen", "-D", module_path()], env=env).stdout
    assert " ".join(expected) in listed, listed
