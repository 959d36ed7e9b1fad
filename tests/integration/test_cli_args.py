"""Command-line rules beyond upstream's parser: typo suggestions, `help [CMD]`, the help hint
naming the command, secrets given by abbreviated option names, export's --output.

(Upstream's own rules are checked row by row in tests/interop/test_fidelity_args.py.)
"""

import subprocess
import time

import pytest
import yaml

from ptool_fixtures import PTOOL_BIN, base_env, cmdline_until_wiped, ptool_env, run_ptool


@pytest.fixture
def env(tmp_path):
    e = base_env()
    e.update({"HOME": str(tmp_path), "TPM2_PKCS11_STORE": str(tmp_path / "no-store"),
              "TPM2_PKCS11_TCTI": "mssim:host=127.0.0.1,port=9"})
    return e


def ptool(args, env):
    return run_ptool(args, env, check=False)


def test_unknown_command_suggests_the_nearest(env):
    p = ptool(["adkey", "--label", "x"], env)
    assert p.returncode == 2
    assert "unknown command 'adkey' (did you mean 'addkey'?)" in p.stderr
    assert "subcommand is required" not in p.stderr
    # No abbreviation of commands, but a prefix lists what it could have meant.
    p = ptool(["listp"], env)
    assert p.returncode == 2 and "did you mean 'listprimaries'?" in p.stderr


def test_unknown_option_suggests_the_nearest_and_the_commands_help(env):
    p = ptool(["addkey", "--lable", "x", "--algorithm", "ecc256"], env)
    assert p.returncode == 2
    assert "unrecognized option '--lable' for 'addkey' (did you mean '--label'?)" in p.stderr
    assert "hint: see 'tpm2-ptool addkey --help'" in p.stderr
    assert "is required" not in p.stderr
    # CLI11's own checks (after the argparse rules) point at the command's help too.
    p = ptool(["addkey", "--algorithm", "ecc256"], env)
    assert p.returncode == 2 and "--label is required" in p.stderr
    assert "hint: see 'tpm2-ptool addkey --help'" in p.stderr


def test_ambiguous_prefix_names_the_candidates(env):
    p = ptool(["addcert", "--label", "t", "--key", "x", "c.pem"], env)
    assert p.returncode == 2
    assert "ambiguous option: --key could match --key-label, --key-id" in p.stderr


def test_help_command(env):
    top = ptool(["--help"], env)
    assert ptool(["help"], env).stdout == top.stdout and top.returncode == 0
    for cmd in ("addkey", "init", "ssh-pubkey"):
        want = ptool([cmd, "--help"], env)
        got = ptool(["help", cmd], env)
        assert got.returncode == want.returncode == 0
        assert got.stdout == want.stdout and f"{cmd}" in got.stdout
    p = ptool(["help", "adkey"], env)
    assert p.returncode == 2 and "did you mean 'addkey'?" in p.stderr


def test_no_command_prints_help_and_succeeds(env):
    p = ptool([], env)
    assert p.returncode == 0 and p.stdout == ptool(["--help"], env).stdout


def test_export_output_is_ours_only_with_a_format(env):
    # Upstream reads `--output x` as its --output-prefix (a unique prefix); ours keeps
    # `--output json|yaml` for the report format. Neither may be a usage error.
    for args in (["--output", "json"], ["--output", "mykey"], ["--out", "mykey"],
                 ["--output=yaml"]):
        p = ptool(["export", "--id", "1", *args], env)
        assert p.returncode == 6, (args, p.stderr)  # parsed; then: no store
    p = ptool(["export", "--id", "1", "--output"], env)
    assert p.returncode == 2


def test_abbreviated_secret_options_are_wiped_from_cmdline(swtpm, store):
    tenv = ptool_env(swtpm, store)
    run_ptool(["init"], tenv)
    run_ptool(["addtoken", "--pid", "1", "--label", "tok", "--so=SOSECRET4711",
               "--us", "USERSECRET0815"], tenv)
    first, last = "FIRSTSECRET1234", "USERSECRET0815"
    done, final = cmdline_until_wiped(
        [PTOOL_BIN, "addkey", "--lab", "tok", "--alg", "rsa3072", "--userp", first,
         "--user=" + last], tenv, store, (first, last))
    out, err = done.stdout, done.stderr
    assert done.returncode == 0, err  # the last --userpin (by prefix) was the one used
    assert b"--user=" in final and b"--userp" in final, final  # the real cmdline, wiped
    assert first.encode() not in final and last.encode() not in final, final
    assert first not in out.decode() + err.decode()
    # The key is there, under the token the abbreviated --lab named.
    objs = yaml.safe_load(run_ptool(["listobjects", "--label", "tok"], tenv).stdout)
    assert len(objs) == 2
