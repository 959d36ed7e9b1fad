"""Upstream tpm2_ptool 1.9.0 accepts tokens after our changepin/initpin, and vice versa."""

import yaml

from ptool_fixtures import ptool_env, run_ptool, run_upstream


def test_upstream_verify_after_our_pin_changes(abrmd, store):
    env = ptool_env(abrmd, store)
    run_ptool(["init"], env)
    run_ptool(["addtoken", "--pid", "1", "--label", "tok", "--sopin", "so", "--userpin", "u"], env)
    run_ptool(["addkey", "--label", "tok", "--algorithm", "ecc256", "--userpin", "u"], env)
    run_ptool(["changepin", "--label", "tok", "--user", "so", "--old", "so", "--new", "so2"], env)
    run_ptool(["changepin", "--label", "tok", "--old", "u", "--new", "u2"], env)
    ours = yaml.safe_load(run_ptool(["verify", "--label", "tok", "--userpin", "u2",
                                     "--sopin", "so2"], env).stdout)
    theirs = yaml.safe_load(run_upstream(["verify", "--label", "tok", "--userpin", "u2",
                                          "--sopin", "so2"], env).stdout)
    assert ours == theirs
    run_ptool(["initpin", "--label", "tok", "--sopin", "so2", "--userpin", "u3"], env)
    theirs = yaml.safe_load(run_upstream(["verify", "--label", "tok", "--userpin", "u3"],
                                         env).stdout)
    assert theirs["objects"][0]["auth"] == ours["objects"][0]["auth"]


def test_our_verify_after_upstream_changepin(abrmd, store):
    env = ptool_env(abrmd, store)
    run_upstream(["init"], env)
    run_upstream(["addtoken", "--pid", "1", "--label", "tok", "--sopin", "so", "--userpin", "u"],
                 env)
    run_upstream(["changepin", "--label", "tok", "--old", "u", "--new", "u2"], env)
    ours = yaml.safe_load(run_ptool(["verify", "--label", "tok", "--userpin", "u2"], env).stdout)
    theirs = yaml.safe_load(run_upstream(["verify", "--label", "tok", "--userpin", "u2"],
                                         env).stdout)
    assert ours == theirs
