"""The man pages render without groff warnings and document every subcommand and option that
--help lists, each under its own command."""

import os
import re

import pytest

from ptool_fixtures import REPO_ROOT, base_env, requires_tool, run, run_ptool

MAN = REPO_ROOT / "man"
PAGES = ["tpm2-ptool.1", "tpm2-ptool-pkcs11.7"]


def _render(page):
    requires_tool("groff")
    env = dict(base_env(), LC_ALL="C.UTF-8", MANWIDTH="200")
    return run(["groff", "-man", "-Tutf8", "-P", "-cbou", "-rLL=200n", MAN / page],
               env=env).stdout


@pytest.mark.parametrize("page", PAGES)
def test_renders_without_warnings(page):
    requires_tool("groff")
    proc = run(["groff", "-man", "-ww", "-z", MAN / page], env=base_env(), check=False)
    assert (proc.returncode, proc.stderr) == (0, "")


def _subcommands(env):
    out = run_ptool(["--help"], env).stdout
    cmds = []
    in_list = False
    for line in out.splitlines():
        if line.startswith("Subcommands:"):
            in_list = True
            continue
        if in_list:
            m = re.match(r"  (\S+)", line)
            if not m:
                break
            cmds.append(m.group(1))
    return cmds


def _options(help_text):
    """Option names in a CLI11 --help text's Options section ("  -y,--yes", "  --label TEXT")."""
    names = set()
    section = help_text.split("\nOptions:\n", 1)[1].split("\n\n", 1)[0]
    for line in section.splitlines():
        m = re.match(r"  (-[\w-]+(?:,-[\w-]+)*)", line)
        if m:
            names.update(m.group(1).split(","))
    return names - {"-h", "--help"}


def _sections(text):
    """Subsection name -> its text, for the COMMANDS section (headings indented by 3)."""
    body = text.split("\nCOMMANDS\n", 1)[1].split("\nPIN INPUT\n", 1)[0]
    parts = re.split(r"^   (\S+)\n", body, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return dict(base_env(), HOME=str(tmp_path_factory.mktemp("home")))


def test_every_subcommand_and_option_is_documented(env):
    text = _render("tpm2-ptool.1")
    sections = _sections(text)
    cmds = _subcommands(env)
    assert "init" in cmds and "ssh-pubkey" in cmds and "doctor" in cmds
    missing = []
    for cmd in cmds:
        if cmd not in sections:
            missing.append(cmd)
            continue
        for opt in _options(run_ptool([cmd, "--help"], env).stdout):
            if not re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", sections[cmd]):
                missing.append(f"{cmd} {opt}")
    assert not missing, "not in man/tpm2-ptool.1: " + ", ".join(missing)
    undocumented_globals = [o for o in _options(run_ptool(["--help"], env).stdout)
                            if o not in text.split("\nCOMMANDS\n", 1)[0]]
    assert not undocumented_globals
    # Sections a reader expects, and upstream differences worth knowing.
    for heading in ("ENVIRONMENT", "FILES", "EXIT STATUS", "PIN INPUT", "EXAMPLES"):
        assert f"\n{heading}\n" in text
    for code in range(7):
        assert re.search(rf"^\s+{code}\s", text, re.M), f"exit status {code}"
    for var in ("TPM2_PTOOL_USERPIN", "TPM2_PTOOL_SOPIN", "TPM2_PTOOL_PRIMARY_AUTH",
                "TPM2_PTOOL_HIERARCHY_AUTH", "TPM2_PKCS11_STORE", "TPM2_PKCS11_TCTI",
                "TPM2TOOLS_TCTI", "NO_COLOR"):
        assert var in text
    assert "one-element list" in sections["listobjects"]


def test_module_page_covers_openssh_use():
    text = _render("tpm2-ptool-pkcs11.7")
    for needle in ("PKCS11Provider", "ssh-add -s", "ssh-keygen -D", "TPM2_PTOOL_LOG",
                   "IdentityAgent none"):
        assert needle in text


def test_every_subcommand_help_has_an_example(env):
    for cmd in _subcommands(env):
        out = run_ptool([cmd, "--help"], env).stdout
        assert re.search(r"^Example: .*?tpm2-ptool ", out, re.M | re.S), f"{cmd} --help has no example"


def test_version_names_the_libraries(env):
    out = run_ptool(["--version"], env).stdout
    assert re.match(r"tpm2-ptool \d+\.\d+\.\d+\n", out)
    assert re.search(r"tpm2-tss \d+\.\d+\.\d+", out)
    assert re.search(r"SQLite 3\.\d+\.\d+", out)
    assert re.search(r"OpenSSL 3\.\d+\.\d+", out)
