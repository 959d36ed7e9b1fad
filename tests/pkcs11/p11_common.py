"""Shared helpers for the PKCS#11 module tests (tests/pkcs11/).

Stores are provisioned with OUR tpm2-ptool (``run_ptool``) or the upstream
Python tool (``run_upstream`` through abrmd); the module under test is
``PTOOL_MODULE``.  Nothing here mocks the TPM or the store.
"""

import os
import shutil
import subprocess
from pathlib import Path

import ptool_fixtures
from ptool_fixtures import (DEFAULT_TIMEOUT, PTOOL_MODULE, UPSTREAM_MODULE, ptool_env,
                            requires_file, requires_tool, run, run_ptool, run_upstream)

USER_PIN = "userpin1"
SO_PIN = "sopin1"
KEYS = (("ecc256", "k256"), ("ecc384", "k384"), ("rsa2048", "krsa"))


def module_path():
    return requires_file(PTOOL_MODULE, "tpm2-ptool-pkcs11.so (set PTOOL_MODULE or build it)")


def provision(tcti, store, token="tok", userpin=USER_PIN, keys=KEYS, upstream=False):
    """ptool_fixtures.provision with this suite's PINs and keys."""
    return ptool_fixtures.provision(tcti, store, token=token, userpin=userpin, sopin=SO_PIN,
                                    keys=keys, upstream=upstream)


def pkcs11_tool(env, *args, check=True, token=None):
    requires_tool("pkcs11-tool")
    cmd = ["pkcs11-tool", "--module", module_path()]
    if token:
        cmd += ["--token-label", token]
    return run(cmd + list(args), env=env, check=check)


def case_program(name):
    """The built side-by-side program tests/pkcs11/c/p11case_NAME.c."""
    build = os.environ.get("PTOOL_BUILD_DIR")
    path = Path(build or "build") / "tests" / "pkcs11" / "c" / f"p11case_{name}"
    return requires_file(path, f"p11case_{name} (build the project first)")


def run_case_program(name, module, env, timeout=DEFAULT_TIMEOUT, extra_args=()):
    """Runs p11case_NAME against `module`; returns {"case.key": "value"} in print order."""
    proc = subprocess.run([str(case_program(name)), str(module), *extra_args], env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (
        f"p11case_{name} against {module} exited {proc.returncode}:\n{proc.stderr}")
    out = {}
    for line in proc.stdout.splitlines():
        key, sep, value = line.partition(" = ")
        assert sep, f"p11case_{name}: not a result line: {line!r}"
        assert key not in out, f"p11case_{name}: {key} reported twice"
        out[key] = value
    return out


def _store_copy(store, dest):
    dest.mkdir(mode=0o700)
    for f in Path(store).iterdir():
        if f.is_file():
            shutil.copy2(f, dest / f.name)
    return dest


def side_by_side(name, token, tmp_path, known=None, env_extra=None, extra_args=()):
    """Runs p11case_NAME against our module and against upstream's libtpm2_pkcs11.so, each
    on its own copy of `token`'s store (the TPM is shared), and asserts both print the same
    lines. `known` maps a key (or a key prefix ending in '.') to why upstream differs: those
    keys are left out of the comparison, and the caller asserts what ours must say.
    Returns (ours, theirs)."""
    upstream = requires_file(UPSTREAM_MODULE, "upstream libtpm2_pkcs11.so")
    known = known or {}
    results = []
    for who, module in (("ours", module_path()), ("upstream", upstream)):
        store = _store_copy(token["store"], tmp_path / f"store-{name}-{who}")
        # (Under ASan, tests/sanitizer_plugin.py turns leak checks off for upstream's run.)
        env = dict(token["env"], TPM2_PKCS11_STORE=str(store), **(env_extra or {}))
        results.append(run_case_program(name, module, env, extra_args=extra_args))
    ours, theirs = results

    def compared(d):
        return {k: v for k, v in d.items()
                if k not in known and not any(p.endswith(".") and k.startswith(p) for p in known)}

    a, b = compared(ours), compared(theirs)
    assert a == b, {k: {"ours": a.get(k), "upstream": b.get(k)}
                    for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
    return ours, theirs
