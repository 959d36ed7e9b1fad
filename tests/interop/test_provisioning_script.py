"""One provisioning script, written for upstream's tpm2_ptool, run unchanged twice: with
upstream's Python tool and with ours on PATH as ``tpm2_ptool``. Both runs must pass.

The script has the shape of a real one: three primaries (the default, an existing persistent
handle with an auth, an ESYS_TR file), tokens with and without a user PIN, changepin /
initpin / verify after each change, keys of every algorithm, ``export`` whose object-auth is
cut out of the YAML (``grep object-auth | cut -d' ' -f2-``) and handed to ``openssl req
-provider tpm2 … -passin pass:$auth`` to make a certificate, ``addcert``, ``import`` of PEM
and OpenSSH keys; then upstream's PKCS#11 module lists every token and signs with every
RSA/EC key through pkcs11-tool. With our tool's former quoted ``object-auth: '…'`` the
openssl step failed with "authorization HMAC check failed".
"""

import os

import pytest

from ptool_fixtures import (PTOOL_BIN, UPSTREAM_MODULE, UPSTREAM_PTOOL, ptool_env,
                            requires_file, requires_tool, run)

SCRIPT = r"""
set -Eeuo pipefail
trap 'echo "FAILED at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$WORK"
say() { echo "== $*" >&2; }

say primaries
P1=$(tpm2_ptool init | grep '^id:' | cut -d' ' -f2)
tpm2_createprimary -Q -C o -p primpass -c p2.ctx
tpm2_evictcontrol -Q -C o -c p2.ctx "$H2"
P2=$(tpm2_ptool init --primary-handle="$H2" --primary-auth=primpass | grep '^id:' | cut -d' ' -f2)
tpm2_createprimary -Q -C o -c p3.ctx
tpm2_evictcontrol -Q -C o -c p3.ctx "$H3" -o p3.tr
P3=$(tpm2_ptool init --primary-handle=p3.tr | grep '^id:' | cut -d' ' -f2)
test "$(tpm2_ptool listprimaries | grep -c '^- config:')" = 3

say tokens
tpm2_ptool addtoken --pid="$P1" --label=web --sopin=so1 --userpin=user1
tpm2_ptool addtoken --pid="$P1" --label=kiosk --sopin=so2 --userpin=
tpm2_ptool addtoken --pid="$P2" --label=db --sopin=so3 --userpin=user3
tpm2_ptool addtoken --pid="$P3" --label=vpn --sopin=so4 --userpin=user4
tpm2_ptool verify --label=web --sopin=so1 --userpin=user1 > /dev/null
tpm2_ptool verify --label=kiosk --userpin= > /dev/null

say pins
tpm2_ptool changepin --label=web --user=user --old=user1 --new=user1b
tpm2_ptool verify --label=web --userpin=user1b > /dev/null
tpm2_ptool changepin --label=web --user=so --old=so1 --new=so1b
tpm2_ptool verify --label=web --sopin=so1b > /dev/null
tpm2_ptool initpin --label=db --sopin=so3 --userpin=user3b
tpm2_ptool verify --label=db --userpin=user3b > /dev/null
if tpm2_ptool verify --label=db --userpin=user3 > /dev/null 2>&1; then exit 1; fi

say keys
for alg in rsa2048 rsa3072 ecc256 ecc384 aes128 aes256 hmac:sha256; do
  tpm2_ptool addkey --label=web --algorithm="$alg" --id="$alg" --key-label="$alg" \
    --userpin=user1b > /dev/null
done
tpm2_ptool addkey --label=kiosk --algorithm=ecc256 --id=kiosk-ec --key-label=kiosk-ec --userpin= > /dev/null
tpm2_ptool addkey --label=db --algorithm=rsa2048 --id=db-rsa --key-label=db-rsa --userpin=user3b > /dev/null
tpm2_ptool addkey --label=vpn --algorithm=ecc256 --id=vpn-ec --key-label=vpn-ec --userpin=user4 > /dev/null

say "export + openssl req with the object auth"
auth=$(tpm2_ptool export --label=web --key-label=ecc256 --userpin=user1b --output-prefix=web-ec \
       | grep object-auth | cut -d' ' -f2-)
test -n "$auth"
openssl req -provider tpm2 -provider default -new -x509 -days 2 -key web-ec.pem \
  -passin "pass:$auth" -subj /CN=web.example -out web.crt
tpm2_ptool addcert --label=web --key-label=ecc256 web.crt > /dev/null

say imports
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out imp-rsa.pem 2> /dev/null
ssh-keygen -q -t ecdsa -b 256 -N '' -f imp-ssh
tpm2_ptool import --label=web --privkey=imp-rsa.pem --algorithm=rsa --id=imp-rsa --key-label=imp-rsa \
  --userpin=user1b > /dev/null
tpm2_ptool import --label=web --privkey=imp-ssh --algorithm=ecc --id=imp-ssh --key-label=imp-ssh \
  --userpin=user1b > /dev/null
tpm2_ptool listobjects --label=web > web-objects.yaml
test "$(grep -c 'CKA_CLASS: CKO_PRIVATE_KEY' web-objects.yaml)" = 6
test "$(grep -c 'CKA_CLASS: CKO_SECRET_KEY' web-objects.yaml)" = 3
test "$(grep -c 'CKA_CLASS: CKO_CERTIFICATE' web-objects.yaml)" = 1

say "upstream module: every token, every RSA/EC key signs"
pkcs11-tool --module "$MODULE" -L > slots.txt
for t in web kiosk db vpn; do grep -q "token label        : $t *\$" slots.txt; done
printf 'provisioned\n' > msg
openssl dgst -sha256 -binary msg > msg.sha256
sign() {  # token pin key-label mechanism input; the key's CKA_ID is its label's bytes
  hexid=$(printf %s "$3" | od -An -tx1 | tr -d ' \n')
  login=(--login --pin "$2")
  [ -n "$2" ] || login=()  # an empty-user-PIN token signs without a login
  if ! pkcs11-tool --module "$MODULE" --token-label "$1" "${login[@]}" --id "$hexid" \
      --sign -m "$4" -i "$5" -o "sig-$1-$3" > "log-$1-$3" 2>&1; then
    echo "signing with $1/$3 failed:" >&2
    cat "log-$1-$3" >&2
    return 1
  fi
  test -s "sig-$1-$3"
}
for k in rsa2048 rsa3072 imp-rsa; do sign web user1b "$k" SHA256-RSA-PKCS msg; done
for k in ecc256 ecc384 imp-ssh; do sign web user1b "$k" ECDSA msg.sha256; done
sign kiosk '' kiosk-ec ECDSA msg.sha256
sign db user3b db-rsa SHA256-RSA-PKCS msg
sign vpn user4 vpn-ec ECDSA msg.sha256
say done
"""


@pytest.fixture(scope="module")
def setup(abrmd_module):
    for tool in ("tpm2_createprimary", "tpm2_evictcontrol", "openssl", "pkcs11-tool",
                 "ssh-keygen", "bash"):
        requires_tool(tool)
    requires_file(UPSTREAM_PTOOL, "upstream tpm2_ptool")
    requires_file(UPSTREAM_MODULE, "upstream PKCS#11 module")
    requires_file(PTOOL_BIN, "tpm2-ptool binary")
    return abrmd_module


@pytest.mark.parametrize("tool,handles", [("upstream", ("0x81000030", "0x81000031")),
                                          ("ours", ("0x81000040", "0x81000041"))])
def test_same_script_passes_with_both_tools(setup, tmp_path, tool, handles):
    work = tmp_path / "work"
    work.mkdir()
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    env = ptool_env(setup, store, home=tmp_path / "home", WORK=work, MODULE=UPSTREAM_MODULE,
                    H2=handles[0], H3=handles[1], TPM2OPENSSL_TCTI=setup.tcti)
    if tool == "ours":
        bindir = tmp_path / "bin"
        bindir.mkdir()
        os.symlink(PTOOL_BIN, bindir / "tpm2_ptool")
        env["PATH"] = f"{bindir}:{env['PATH']}"
    try:
        proc = run(["bash", "-c", SCRIPT], env=env, check=False, timeout=600)
        assert proc.returncode == 0, f"{tool}: rc={proc.returncode}\n{proc.stderr[-4000:]}"
        assert "== done" in proc.stderr
    finally:
        for h in handles:
            run(["tpm2_evictcontrol", "-C", "o", "-c", h], env=env, check=False)
