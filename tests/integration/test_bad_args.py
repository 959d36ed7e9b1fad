"""Bad arguments to every subcommand: exit 2 (or the documented code), one clear line, no change.

The subcommands and their options are read from ``tpm2-ptool --help`` and
``tpm2-ptool <cmd> --help`` when the test runs, so a new subcommand is covered
without editing this file.  For each subcommand the table below is applied
where it fits the options the help lists:

* no arguments (when it has a REQUIRED option or positional),
* an unknown option ``--bogus``,
* ``abc`` for every numeric option (INT, HANDLE, object ``--id`` / ``id``),
* ``bogus`` for every option with a fixed choice list and ``rsa999`` for ``--algorithm``,
* a 32-byte and a non-UTF-8 (``0xff 0xfe``) ``--label`` / ``--key-label``,
* a 10 000-character value for every secret option (PINs, auths).

Each case must exit 2 (usage) -- or 6 (not found) where a label is only looked
up -- print exactly one ``tpm2-ptool: error:`` line (plus an optional ``hint:``
line and the one warning about secrets on the command line), never a
traceback or a CLI11 exit code, and leave the database byte-for-byte as it was.
"""

import hashlib
import os
import re
import shutil
import subprocess

import pytest

from ptool_fixtures import add_token
from ptool_fixtures import PTOOL_BIN, ptool_env, run_ptool

DB = "tpm2_pkcs11.sqlite3"
LONG_PIN = "P" * 10000
OPTION_RE = re.compile(r"^  (?:-\w,)?(--[\w-]+)(?:,--[\w-]+)*(?: (\S+))?(?: (REQUIRED))?")
POSITIONAL_RE = re.compile(r"^  ([a-z][\w-]*) (\S+)(?: (REQUIRED))?")
# Plausible values for required arguments, so that the bad one is what fails.
FILLERS = {"--label": "tok", "--pid": "1", "--algorithm": "ecc256", "--id": "1",
           "--key-label": "k", "cert": "/nonexistent/cert.pem", "id": "1"}


def _help(args):
    if not os.access(PTOOL_BIN, os.X_OK):
        return ""
    return subprocess.run([PTOOL_BIN, *args, "--help"], capture_output=True, text=True).stdout


def _subcommands():
    text = _help([])
    if "Subcommands:" not in text:
        return []
    names = []
    for line in text.split("Subcommands:", 1)[1].splitlines():
        m = re.match(r"^  ([a-z][\w-]*)\s", line)
        if m:
            names.append(m.group(1))
    return names


class Spec:
    """What `<cmd> --help` says: options (name -> (type, required, help)) and positionals."""

    def __init__(self, name):
        self.name = name
        self.options, self.positionals = {}, {}
        section, last = None, None
        for line in _help([name]).splitlines():
            if line.startswith(("Options:", "Positionals:")):
                section = line[:-1]
                continue
            if not line.startswith("  "):
                section = None if line and not line.startswith(" ") else section
                continue
            if section == "Options":
                m = OPTION_RE.match(line)
                if m and m.group(1) != "--help":
                    last = self.options[m.group(1)] = [m.group(2) or "", bool(m.group(3)), line]
                elif last is not None:
                    last[2] += " " + line.strip()
            elif section == "Positionals":
                m = POSITIONAL_RE.match(line)
                if m:
                    last = self.positionals[m.group(1)] = [m.group(2), bool(m.group(3)), line]

    def required(self):
        args = []
        for opt, (_, req, _) in self.options.items():
            if req:
                args += [opt, FILLERS.get(opt, "x")]
        for pos, (_, req, _) in self.positionals.items():
            if req:
                args.append(FILLERS.get(pos, "x"))
        return args

    def with_option(self, opt, value):
        """The required arguments with `opt` set to `value` (replacing its filler)."""
        args = self.required()
        if opt in args:
            args[args.index(opt) + 1] = value
        else:
            args += [opt, value]
        return args

    def with_positional(self, pos, value):
        args = [a for a in self.required()]
        filler = FILLERS.get(pos, "x")
        args[len(args) - 1 - args[::-1].index(filler)] = value
        return args

    def numeric(self):
        for opt, (typ, _, text) in self.options.items():
            if typ in ("INT", "UINT") or "HANDLE" in typ or (
                    opt in ("--id", "--pid") and re.search(r"id of the|object id", text)):
                yield opt
        for pos, (_, _, text) in self.positionals.items():
            if re.search(r"id of the|object id", text):
                yield pos

    def choices(self):
        for opt, (typ, _, _) in self.options.items():
            if ":{" in typ:
                yield opt

    def secrets(self):
        for opt, (_, _, text) in self.options.items():
            if "visible to other users" in text:
                yield opt


def _cases():
    cases = []
    for name in _subcommands():
        spec = Spec(name)
        any_required = any(r for _, r, _ in spec.options.values()) or any(
            r for _, r, _ in spec.positionals.values())
        if any_required:
            cases.append((name, "no-args", [], {2}))
        cases.append((name, "bogus-option", spec.required() + ["--bogus"], {2}))
        for opt in spec.numeric():
            args = (spec.with_option(opt, "abc") if opt.startswith("--")
                    else spec.with_positional(opt, "abc"))
            cases.append((name, f"{opt}=abc", args, {2}))
        for opt in spec.choices():
            cases.append((name, f"{opt}=bogus", spec.with_option(opt, "bogus"), {2}))
        if "--algorithm" in spec.options:
            cases.append((name, "--algorithm=rsa999", spec.with_option("--algorithm", "rsa999"),
                          {2}))
        creates_label = name in ("addtoken",)
        if "--label" in spec.options:
            codes = {2} if creates_label else {2, 6}
            cases.append((name, "--label=32-bytes", spec.with_option("--label", "L" * 32), codes))
            cases.append((name, "--label=non-utf8", spec.with_option("--label", b"\xff\xfe"),
                          codes))
        if "--key-label" in spec.options:
            codes = {2} if name == "addkey" else {2, 6}
            cases.append((name, "--key-label=non-utf8",
                          spec.with_option("--key-label", b"\xff\xfe"), codes))
        for opt in spec.secrets():
            cases.append((name, f"{opt}=10000-chars", spec.with_option(opt, LONG_PIN), {2}))
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def provisioned(swtpm_module, tmp_path_factory):
    base = tmp_path_factory.mktemp("badargs")
    store = base / "store"
    env = ptool_env(swtpm_module, store)
    run_ptool(["init"], env)
    add_token(env)
    run_ptool(["addkey", "--label", "tok", "--algorithm", "ecc256", "--key-label", "k",
               "--userpin", "user"], env)
    shutil.copy(store / DB, base / "pristine.sqlite3")
    return env, store, base


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_help_lists_the_commands():
    names = _subcommands()
    assert {"init", "addtoken", "addkey", "ssh-pubkey"} <= set(names), names
    assert {c[0] for c in CASES} == set(names)
    assert len(CASES) >= 3 * len(names)


@pytest.mark.parametrize("name,case,args,codes", CASES,
                         ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_bad_argument(provisioned, tmp_path, name, case, args, codes):
    env, store, base = provisioned
    before = _digest(store / DB)
    argv = [os.fsencode(PTOOL_BIN), name.encode()]
    argv += [a if isinstance(a, bytes) else a.encode() for a in args]
    proc = subprocess.run(argv, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=60)
    after = _digest(store / DB)
    if after != before:  # keep later cases meaningful, then fail this one
        shutil.copy(base / "pristine.sqlite3", store / DB)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode in codes, f"rc={proc.returncode}\n{err}"
    lines = [ln for ln in err.splitlines() if not ln.startswith("tpm2-ptool: warning: secrets")]
    assert len(lines) in (1, 2), err
    assert lines[0].startswith("tpm2-ptool: error: "), err
    assert len(lines) == 1 or lines[1].startswith("hint: "), err
    assert "Traceback" not in err and LONG_PIN[:64] not in err
    assert proc.stdout == b"" or proc.returncode == 0
    assert after == before, "the store changed"
    assert not (store / (DB + "-journal")).exists()
