"""ssh-pubkey --fingerprint / --authorized-keys-options and ssh-config, checked against OpenSSH."""

import re
from pathlib import Path

import pytest

from ptool_fixtures import PTOOL_BIN, PTOOL_MODULE, base_env, ptool_env, requires_tool, run, run_ptool


@pytest.fixture(scope="module")
def token(swtpm_module, tmp_path_factory):
    store = tmp_path_factory.mktemp("sshhelp") / "store"
    env = ptool_env(swtpm_module, store, TPM2_PTOOL_SOPIN="so", TPM2_PTOOL_USERPIN="user")
    run_ptool(["init"], env)
    run_ptool(["addtoken", "--pid", "1", "--label", "laptop"], env)
    run_ptool(["addkey", "--label", "laptop", "--algorithm", "ecc256", "--key-label", "my key"], env)
    run_ptool(["addkey", "--label", "laptop", "--algorithm", "rsa2048", "--key-label", "rsa"], env)
    run_ptool(["addkey", "--label", "laptop", "--algorithm", "ecc384"], env)  # no label
    return env


def test_fingerprint_is_what_ssh_keygen_prints(token, tmp_path):
    requires_tool("ssh-keygen")
    lines = run_ptool(["ssh-pubkey", "--label", "laptop"], token).stdout.splitlines()
    fps = run_ptool(["ssh-pubkey", "--label", "laptop", "--fingerprint"], token).stdout.splitlines()
    assert len(lines) == len(fps) == 3
    for i, (line, fp) in enumerate(zip(lines, fps)):
        f = tmp_path / f"k{i}.pub"
        f.write_text(line + "\n")
        assert fp == run(["ssh-keygen", "-l", "-f", f], env=base_env()).stdout.rstrip("\n")
    assert fps[0].startswith("256 SHA256:") and fps[0].endswith(" my key (ECDSA)")
    assert fps[1].startswith("2048 SHA256:") and fps[1].endswith(" rsa (RSA)")
    # A key without --key-label: "<token>/<CKA_ID hex>" as the comment (the store keeps "").
    assert re.fullmatch(r"384 SHA256:\S{43} laptop/[0-9a-f]{32} \(ECDSA\)", fps[2])


def test_unlabeled_key_comment_names_token_and_id(token):
    lines = run_ptool(["ssh-pubkey", "--label", "laptop"], token).stdout.splitlines()
    comment = lines[2].split(" ", 2)[2]
    tok, id_hex = comment.split("/")
    assert tok == "laptop"
    # --id takes that hex, and the stored CKA_LABEL is still empty, as upstream stores it.
    assert run_ptool(["ssh-pubkey", "--label", "laptop", "--id", id_hex], token).stdout \
        == lines[2] + "\n"
    # The module serves the stored CKA_LABEL: the same key, with no comment.
    requires_tool("ssh-keygen")
    via_module = run(["ssh-keygen", "-D", PTOOL_MODULE], env=token).stdout.splitlines()
    assert via_module[2] == lines[2].rsplit(" ", 1)[0]


def test_fingerprint_of_one_key(token):
    out = run_ptool(["ssh-pubkey", "--label", "laptop", "--key-label", "rsa", "--fingerprint"],
                    token).stdout
    assert re.fullmatch(r"2048 SHA256:[A-Za-z0-9+/]{43} rsa \(RSA\)\n", out)


def test_authorized_keys_options_prefix_every_line(token, tmp_path):
    requires_tool("ssh-keygen")
    opts = 'from="10.0.0.0/8",no-agent-forwarding'
    plain = run_ptool(["ssh-pubkey", "--label", "laptop"], token).stdout.splitlines()
    got = run_ptool(["ssh-pubkey", "--label", "laptop", "--authorized-keys-options", opts],
                    token).stdout.splitlines()
    assert got == [f"{opts} {l}" for l in plain]
    # sshd's parser (as used by ssh-keygen -l on an authorized_keys file) accepts the lines.
    ak = tmp_path / "authorized_keys"
    ak.write_text("\n".join(got) + "\n")
    listed = run(["ssh-keygen", "-l", "-f", ak], env=base_env()).stdout.splitlines()
    assert len(listed) == 3


@pytest.mark.parametrize("args", [
    ["--authorized-keys-options", "a\nb"],
    ["--authorized-keys-options", ""],
    ["--authorized-keys-options", "restrict", "--fingerprint"],
])
def test_bad_ssh_pubkey_options_are_usage_errors(token, args):
    proc = run_ptool(["ssh-pubkey", "--label", "laptop", *args], token, check=False)
    assert (proc.returncode, proc.stdout) == (2, "")


def _ssh_g(config, host, tmp_path):
    requires_tool("ssh")
    f = tmp_path / "ssh_config"
    f.write_text(config)
    out = run(["ssh", "-G", "-F", f, host], env=base_env()).stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def test_ssh_config_block(token, tmp_path):
    out = run_ptool(["ssh-config", "--host", "build.example.org"], token).stdout
    lines = out.splitlines()
    assert lines[0] == "Host build.example.org"
    assert re.fullmatch(r"    PKCS11Provider /\S+/pkcs11/tpm2-ptool-pkcs11\.so", lines[1])
    assert lines[2:] == ["    IdentityAgent none"]
    resolved = _ssh_g(out, "build.example.org", tmp_path)
    assert resolved["pkcs11provider"] == lines[1].split()[1]
    assert resolved["identityagent"] == "none"


def test_ssh_config_for_one_token(token, tmp_path):
    out = run_ptool(["ssh-config", "--host", "git", "--label", "laptop"], token).stdout
    ids = [l.split()[-1] for l in run_ptool(["ssh-pubkey", "--label", "laptop"], token)
           .stdout.splitlines()]
    unlabeled = ids[2].split("/")[1]
    # One IdentityFile per key (ssh reads only the first key of a file), each written by the
    # ssh-pubkey command in the comment above it.
    assert ("    IdentityFile ~/.ssh/tpm2-ptool-laptop-my_key.pub\n"
            "    IdentityFile ~/.ssh/tpm2-ptool-laptop-rsa.pub\n"
            f"    IdentityFile ~/.ssh/tpm2-ptool-laptop-{unlabeled}.pub\n"
            "    IdentitiesOnly yes\n") in out
    assert ("tpm2-ptool ssh-pubkey --label 'laptop' --key-label 'my key' > "
            "~/.ssh/tpm2-ptool-laptop-my_key.pub") in out
    assert (f"tpm2-ptool ssh-pubkey --label 'laptop' --id {unlabeled} > "
            f"~/.ssh/tpm2-ptool-laptop-{unlabeled}.pub") in out
    resolved = _ssh_g(out, "git", tmp_path)
    assert resolved["identitiesonly"] == "yes"
    one = run_ptool(["ssh-config", "--host", "git", "--label", "laptop", "--key-label", "rsa"],
                    token).stdout
    assert [l for l in one.splitlines() if "IdentityFile" in l] == \
        ["    IdentityFile ~/.ssh/tpm2-ptool-laptop-rsa.pub"]


def test_installed_binary_names_its_installed_module(tmp_path):
    """ssh-config prints where the module is installed next to the binary (any prefix)."""
    requires_tool("cmake")
    build = Path(PTOOL_BIN).resolve().parent.parent  # <build>/cli/tpm2-ptool
    prefix = tmp_path / "prefix"
    run(["cmake", "--install", build, "--prefix", prefix], env=base_env())
    binary = prefix / "bin" / "tpm2-ptool"
    out = run([binary, "ssh-config", "--host", "h"], env=base_env()).stdout
    module = out.splitlines()[1].split()[1]
    assert module.startswith(str(prefix) + "/") and module.endswith("/pkcs11/tpm2-ptool-pkcs11.so")
    assert (prefix / module[len(str(prefix)) + 1:]).is_file()
    assert (prefix / "share" / "man" / "man1" / "tpm2-ptool.1").is_file()


@pytest.mark.parametrize("args, code", [
    (["--host", "a\nHost *"], 2),
    (["--host", "x", "--module", "relative.so"], 2),
    (["--host", "x", "--label", "nope"], 6),
    (["--host", "x", "--label", "laptop", "--key-label", "nope"], 6),
    (["--host", "x", "--key-label", "rsa"], 2),
])
def test_ssh_config_errors(token, args, code):
    proc = run_ptool(["ssh-config", *args], token, check=False)
    assert proc.returncode == code
