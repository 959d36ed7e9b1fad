"""Labels printed as comments are sanitized: one authorized_keys line per key, no escapes.

A key label with a newline used to become a second authorized key; an escape sequence reached
the terminal.  Every control character and every byte outside well-formed UTF-8 is printed as
'?' (documented in tpm2-ptool(1)), in ssh-pubkey (text and JSON lines), --fingerprint,
--authorized-keys-options output and ssh-config's block.
"""

import json
import re
import shlex

import pytest

from ptool_fixtures import ptool_env, run_ptool

EVIL_KEY = "x\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl attacker"
ESCAPE = "\x1b]0;owned\x07\x1b[2J\r\x9bend\x7f"
TOKEN = "t\n'; rm -rf ~; '\x1b[31m"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")


@pytest.fixture(scope="module")
def token(swtpm_module, tmp_path_factory):
    store = tmp_path_factory.mktemp("sanitize") / "store"
    env = ptool_env(swtpm_module, store)
    run_ptool(["init"], env)
    run_ptool(["addtoken", "--pid", "1", "--label", TOKEN, "--sopin", "so", "--userpin", "u"], env)
    for label in (EVIL_KEY, ESCAPE, "plain"):
        run_ptool(["addkey", "--label", TOKEN, "--algorithm", "ecc256", "--key-label", label,
                   "--userpin", "u"], env)
    return env


def _clean(text):
    assert not CONTROL.search(text), repr(text)


def test_ssh_pubkey_one_line_per_key(token):
    out = run_ptool(["ssh-pubkey", "--label", TOKEN], token).stdout
    _clean(out)
    lines = out.splitlines()
    assert len(lines) == 3, lines
    assert lines[0].endswith(" x?ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5"
                             "C9okWi0dh2l9GKJl attacker")
    assert lines[1].endswith(" ?]0;owned??[2J??end?")
    assert lines[2].endswith(" plain")
    assert all(l.startswith("ecdsa-sha2-nistp256 ") for l in lines)


def test_authorized_keys_options_and_fingerprints(token):
    out = run_ptool(["ssh-pubkey", "--label", TOKEN, "--authorized-keys-options",
                     "no-agent-forwarding"], token).stdout
    _clean(out)
    assert [l.split(" ", 1)[0] for l in out.splitlines()] == ["no-agent-forwarding"] * 3
    out = run_ptool(["ssh-pubkey", "--label", TOKEN, "--fingerprint"], token).stdout
    _clean(out)
    lines = out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("256 SHA256:") and lines[0].endswith(" attacker (ECDSA)")
    assert " ?]0;owned??[2J??end? (ECDSA)" in lines[1]


def test_json_lines_to_paste_are_sanitized_label_is_data(token):
    keys = json.loads(run_ptool(["ssh-pubkey", "--label", TOKEN, "--output", "json"],
                                token).stdout)
    assert [k["label"] for k in keys] == [EVIL_KEY, ESCAPE, "plain"]  # the data, JSON-escaped
    for k in keys:
        _clean(k["public_key_line"])
        _clean(k["comment"])
    assert keys[0]["comment"].startswith("x?ssh-ed25519 ")


def test_ssh_config_block(token):
    out = run_ptool(["ssh-config", "--host", "h", "--label", TOKEN], token).stdout
    _clean(out)
    command = [l for l in out.splitlines() if "tpm2-ptool ssh-pubkey" in l][0]
    words = shlex.split(command.split("#", 1)[1].split(">")[0])
    # A label with control characters cannot be pasted as it is, and a sanitized one would name
    # another token: the command is elided rather than printed wrong.
    assert words == ["tpm2-ptool", "ssh-pubkey", "..."]
    assert "rm -rf" not in out
