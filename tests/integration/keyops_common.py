"""Shared setup for the verify/changepin/initpin/export/import/link tests."""

import hashlib

import yaml

from ptool_fixtures import provision, run_ptool, store_query

SO_PIN = "sopin"
USER_PIN = "userpin"


def make_token(tpm, store, label="tok", userpin=USER_PIN, init_args=()):
    """init + addtoken on ``tpm`` (ptool_fixtures.provision); returns the environment."""
    return provision(tpm, store, token=label, userpin=userpin, sopin=SO_PIN,
                     init_args=init_args)["env"]


def add_key(env, algorithm, key_label, label="tok", pin=USER_PIN):
    out = yaml.safe_load(run_ptool(["addkey", "--label", label, "--algorithm", algorithm,
                                    "--key-label", key_label, "--userpin", pin], env).stdout)
    return bytes.fromhex(out["private"]["CKA_ID"]).decode()


def store_dump(store):
    """Every row of every table, to prove a failed command changed nothing."""
    tables = ["pobjects", "tokens", "sealobjects", "tobjects", "schema"]
    return {t: store_query(store, f"SELECT * FROM {t} ORDER BY id") for t in tables}


def object_ids(store, cls):
    """tobjects ids whose CKA_CLASS is ``cls``."""
    rows = store_query(store, "SELECT id, attrs FROM tobjects ORDER BY id")
    return [rid for rid, attrs in rows if yaml.safe_load(attrs)[0] == cls]


def file_digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()
