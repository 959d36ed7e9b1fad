"""Shared helpers for the PKCS#11 module tests (tests/pkcs11/).

Stores are provisioned with OUR tpm2-ptool (``run_ptool``) or the upstream
Python tool (``run_upstream`` through abrmd); the module under test is
``PTOOL_MODULE``.  Nothing here mocks the TPM or the store.
"""

import yaml

from ptool_fixtures import (PTOOL_MODULE, ptool_env, requires_file, requires_tool, run,
                            run_ptool, run_upstream)

USER_PIN = "userpin1"
SO_PIN = "sopin1"
KEYS = (("ecc256", "k256"), ("ecc384", "k384"), ("rsa2048", "krsa"))


def module_path():
    return requires_file(PTOOL_MODULE, "tpm2-ptool-pkcs11.so (set PTOOL_MODULE or build it)")


def provision(tcti, store, token="tok", userpin=USER_PIN, keys=KEYS, upstream=False):
    """init + addtoken + addkey for each (algorithm, key label); returns env and ids."""
    env = ptool_env(tcti, store)
    runner = run_upstream if upstream else run_ptool
    init = yaml.safe_load(runner(["init"], env).stdout)
    pid = str(init["id"])
    runner(["addtoken", "--pid", pid, "--label", token, "--sopin", SO_PIN,
            "--userpin", userpin], env)
    ids = {}
    for algorithm, label in keys:
        out = yaml.safe_load(runner(["addkey", "--label", token, "--algorithm", algorithm,
                                     "--key-label", label, "--userpin", userpin], env).stdout)
        ids[label] = out["private"]["CKA_ID"]
    return {"env": env, "store": store, "token": token, "ids": ids, "pid": pid}


def pkcs11_tool(env, *args, check=True, token=None):
    requires_tool("pkcs11-tool")
    cmd = ["pkcs11-tool", "--module", module_path()]
    if token:
        cmd += ["--token-label", token]
    return run(cmd + list(args), env=env, check=check)
