"""Shell completion: the committed scripts match the binary, and real bash, zsh and fish
offer the right candidates (subcommands, options, fixed values, live values from a store)."""

import os
import shlex
import subprocess
import textwrap
from pathlib import Path

import pytest

from ptool_fixtures import PTOOL_BIN, REPO_ROOT, ptool_env, requires_file, requires_tool, run, run_ptool

COMPLETIONS = REPO_ROOT / "completions"
SCRIPT = {"bash": "tpm2-ptool.bash", "zsh": "_tpm2-ptool", "fish": "tpm2-ptool.fish"}
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"
NO_TPM = "swtpm:host=127.0.0.1,port=1"


@pytest.fixture(scope="module")
def filled(swtpm_module, tmp_path_factory):
    """A store made by our tool on swtpm: two tokens, keys with labels in one of them."""
    store = tmp_path_factory.mktemp("compl") / "store"
    env = ptool_env(swtpm_module, store, TPM2_PTOOL_SOPIN="so", TPM2_PTOOL_USERPIN="user")
    run_ptool(["init"], env)
    run_ptool(["addtoken", "--pid", "1", "--label", "laptop"], env)
    run_ptool(["addtoken", "--pid", "1", "--label", "hostkeys"], env)
    for key_label in ("ssh-ecc", "git-signing"):
        run_ptool(["addkey", "--label", "laptop", "--algorithm", "ecc256", "--key-label", key_label],
                  env)
    # The scripts run the binary by its name, as a user would; nothing else from the TPM side.
    env = {k: v for k, v in env.items() if not k.startswith("TPM2")}
    env["TPM2_PKCS11_STORE"] = str(store)
    env["TPM2_PKCS11_TCTI"] = NO_TPM  # --algorithm: no TPM answers, the full list
    env["PATH"] = str(Path(PTOOL_BIN).parent) + os.pathsep + env["PATH"]
    return env, store


@pytest.mark.parametrize("shell", sorted(SCRIPT))
def test_committed_scripts_are_generated_by_the_binary(shell):
    requires_file(PTOOL_BIN)
    generated = run([PTOOL_BIN, "completion", shell]).stdout
    committed = (COMPLETIONS / SCRIPT[shell]).read_text()
    assert generated == committed, (
        f"completions/{SCRIPT[shell]} is stale: regenerate with "
        f"'ninja -C <build> update-completions'")


# --- one driver per shell: the candidates offered for a partial command line -------------------

def _bash_words(line):
    """COMP_WORDS as bash builds them: shell words, with ':' and '=' as words of their own."""
    words = []
    for w in shlex.split(line):
        part = ""
        for ch in w:
            if ch in ":=":
                if part:
                    words.append(part)
                words.append(ch)
                part = ""
            else:
                part += ch
        if part:
            words.append(part)
    if line.endswith(" ") or line[-1] in ":=":
        words.append("")
    return words


def bash_candidates(line, env):
    requires_tool("bash")
    requires_file(BASH_COMPLETION, "bash-completion")
    words = _bash_words(line)
    script = textwrap.dedent(f"""\
        source {BASH_COMPLETION}
        source {COMPLETIONS / SCRIPT['bash']}
        COMP_LINE={shlex.quote(line)}
        COMP_POINT=${{#COMP_LINE}}
        COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})
        COMP_CWORD={len(words) - 1}
        _tpm2_ptool tpm2-ptool "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
        printf '%s\\n' "${{COMPREPLY[@]}}"
        """)
    proc = run(["bash", "--norc", "--noprofile", "-c", script], env=env)
    assert proc.stderr == ""
    # bash shows the part after the last ':' (the word break); report whole values.
    cur = shlex.split(line)[-1] if not line.endswith(" ") else ""
    head = cur[:cur.rfind(":") + 1] if ":" in cur else ""
    return {head + c for c in proc.stdout.splitlines() if c}


def zsh_candidates(line, env, tmp_path):
    """Runs an interactive zsh in a zpty, presses Tab, and records what compadd was given."""
    requires_tool("zsh")
    hits = tmp_path / "zsh-hits"
    hits.unlink(missing_ok=True)
    driver = tmp_path / "drive.zsh"
    driver.write_text(textwrap.dedent(f"""\
        zmodload zsh/zpty
        zpty z zsh -f -i
        zpty -w z 'PS1=""; unsetopt zle_bracketed_paste; setopt no_auto_list no_beep'
        zpty -w z 'fpath=({COMPLETIONS} $fpath); autoload -Uz compinit; compinit -u -D'
        zpty -w z 'compadd() {{ if [[ ${{@[(I)-[OAD]*]}} -gt 0 ]]; then builtin compadd "$@"; return; fi; local -a h; builtin compadd -A h "$@"; print -rl -- $h >> {hits}; builtin compadd "$@"; }}'
        zpty -w z '_capture() {{ zle expand-or-complete; print -r -- "<end>" >> {hits}; }}; zle -N _capture; bindkey "^I" _capture'
        zpty -w z 'print -r -- READY-$((6*7))'
        zpty -r z out '*READY-42*' || exit 3
        zpty -w -n z {shlex.quote(line)}$'\\t'
        # Wait for the completion to finish before clearing the line.
        for i in {{1..400}}; do [[ -f {hits} && "$(<{hits})" == *'<end>'* ]] && break; sleep 0.05; done
        zpty -w -n z $'\\C-e\\C-u'
        zpty -w z 'print -r -- DONE-$((6*7))'
        zpty -r z out '*DONE-42*' || exit 4
        zpty -d z
        """))
    run(["zsh", "-f", driver], env=env, timeout=60)
    text = hits.read_text() if hits.exists() else ""
    assert "<end>" in text, "zsh did not run the completion"
    return set(text.split("\n")) - {"", "<end>"}


def fish_candidates(line, env):
    requires_tool("fish")
    script = f"source {COMPLETIONS / SCRIPT['fish']}; complete -C {shlex.quote(line)}"
    proc = run(["fish", "--no-config", "-c", script], env=env)
    assert proc.stderr == ""
    return {c.split("\t")[0] for c in proc.stdout.splitlines()}


@pytest.fixture(params=sorted(SCRIPT))
def complete(request, filled, tmp_path):
    env, _ = filled
    shell = request.param

    def offered(line, env=env):
        if shell == "bash":
            return bash_candidates(line, env)
        if shell == "zsh":
            return zsh_candidates(line, env, tmp_path)
        return fish_candidates(line, env)
    offered.shell = shell
    return offered


# --- the candidates --------------------------------------------------------------------------

def test_subcommands(complete):
    assert complete("tpm2-ptool add") == {"addcert", "addemptytoken", "addkey", "addtoken"}
    assert complete("tpm2-ptool list") == {"listobjects", "listprimaries", "listtokens"}


def test_subcommand_after_global_option(complete, filled):
    _, store = filled
    assert complete(f"tpm2-ptool --path {store} list") == {"listobjects", "listprimaries",
                                                           "listtokens"}


def test_options_of_addkey(complete):
    got = complete("tpm2-ptool addkey --")
    assert {"--label", "--algorithm", "--key-label", "--id", "--attr-always-authenticate",
            "--userpin", "--userpin-file", "--sopin", "--hierarchy-auth"} <= got
    assert "--pid" not in got and "--transient-parent" not in got
    assert complete("tpm2-ptool addkey --key-") == {"--key-label"}


def test_algorithm_values(complete):
    assert complete("tpm2-ptool addkey --label laptop --algorithm ecc") == {
        "ecc224", "ecc256", "ecc384", "ecc521"}
    assert complete("tpm2-ptool addkey --algorithm hmac:sha") == {
        "hmac:sha1", "hmac:sha256", "hmac:sha384", "hmac:sha512"}


def test_closed_value_sets_from_help(complete):
    assert complete("tpm2-ptool export --format ") == {"auto", "tpm2", "pem"}
    assert complete("tpm2-ptool init --transient-parent tpm2-tools-") == {
        "tpm2-tools-default", "tpm2-tools-ecc-default"}
    assert complete("tpm2-ptool completion ") == {"bash", "zsh", "fish"}


def test_token_labels_from_the_store(complete):
    assert complete("tpm2-ptool addkey --label ") == {"laptop", "hostkeys"}
    assert complete("tpm2-ptool ssh-pubkey --label lap") == {"laptop"}


def test_key_labels_of_the_named_token(complete):
    assert complete("tpm2-ptool ssh-pubkey --label laptop --key-label ") == {"ssh-ecc",
                                                                             "git-signing"}
    assert complete("tpm2-ptool ssh-pubkey --label hostkeys --key-label ") == set()


def test_primary_ids(complete):
    assert complete("tpm2-ptool listtokens --pid ") == {"1"}


def test_path_on_the_line_selects_the_store(complete, filled, tmp_path):
    env, store = filled
    other = dict(env)
    other["TPM2_PKCS11_STORE"] = str(tmp_path / "nothing-here")
    assert complete("tpm2-ptool addkey --label ", env=other) == set()
    assert complete(f"tpm2-ptool --path {store} rmtoken --label ", env=other) == {"laptop",
                                                                                  "hostkeys"}


def test_live_values_never_fail_noisily(filled, tmp_path):
    env, _ = filled
    for what in (["labels"], ["pids"], ["key-labels", "x"], ["key-labels"], ["nonsense"]):
        proc = run_ptool(["--path", tmp_path / "missing", "__complete-values", *what], env)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    assert not (tmp_path / "missing").exists()  # read-only: no store created


def test_hidden_query_is_not_in_help(filled):
    env, _ = filled
    out = run_ptool(["--help"], env).stdout
    assert "__complete-values" not in out and "completion" in out


def test_ssh_keygen_options_and_algorithms(complete):
    assert complete("tpm2-ptool ssh-k") == {"ssh-keygen"}
    assert {"--label", "--key-label", "--algorithm", "--file", "--host", "--yes",
            "--userpin-file", "--sopin-file"} <= complete("tpm2-ptool ssh-keygen --")
    assert complete("tpm2-ptool ssh-keygen --algorithm rsa") == {"rsa2048", "rsa3072", "rsa4096"}


def test_algorithms_this_tpm_supports(complete, filled, swtpm_module):
    env, _ = filled
    live = dict(env, TPM2_PKCS11_TCTI=swtpm_module.tcti)
    # swtpm has no RSA-4096 (doctor: "not on this TPM: rsa4096"); asked, it is not offered.
    assert complete("tpm2-ptool addkey --label laptop --algorithm rsa", env=live) == {
        "rsa1024", "rsa2048", "rsa3072"}
    assert complete("tpm2-ptool ssh-keygen --algorithm rsa", env=live) == {"rsa2048", "rsa3072"}
    assert complete("tpm2-ptool addkey --algorithm hmac:sha", env=live) == {
        "hmac:sha1", "hmac:sha256", "hmac:sha384", "hmac:sha512"}
    # --tcti on the line names the TPM to ask (its value keeps its ':' and '=').
    assert complete(f"tpm2-ptool --tcti {swtpm_module.tcti} addkey --algorithm rsa") == {
        "rsa1024", "rsa2048", "rsa3072"}
    # No TPM answers: the whole list.
    assert complete("tpm2-ptool addkey --algorithm rsa") == {"rsa1024", "rsa2048", "rsa3072",
                                                             "rsa4096"}
    # import's --algorithm names key families, not templates: never asked.
    assert complete("tpm2-ptool import --algorithm ", env=live) == {
        "rsa", "ecc", "hmac", "hmac:sha1", "hmac:sha256", "hmac:sha384", "hmac:sha512"}


def test_algorithm_query_falls_back_quietly(filled, swtpm_module):
    env, _ = filled
    names = ["rsa2048", "rsa4096", "ecc256"]
    proc = run_ptool(["__complete-algorithms", *names], env)
    assert (proc.stdout, proc.stderr) == ("rsa2048\nrsa4096\necc256\n", "")
    proc = run_ptool(["--tcti", swtpm_module.tcti, "__complete-algorithms", *names], env)
    assert (proc.stdout, proc.stderr) == ("rsa2048\necc256\n", "")
    proc = run_ptool(["--tcti", "nosuchtcti", "__complete-algorithms", "ecc256"], env)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "ecc256\n", "")
    assert "__complete-algorithms" not in run_ptool(["--help"], env).stdout


def test_new_token_label_offers_no_existing_label(complete):
    # addtoken --label names a new token: its tag says so, whatever its help text says.
    assert complete("tpm2-ptool addtoken --pid 1 --label ") == set()
