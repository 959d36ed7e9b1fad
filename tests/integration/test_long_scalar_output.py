"""Issue 12 item 6: a 30000-digit label made listobjects and listtokens crash (SIGSEGV, exit
139) because std::regex_match in the PyYAML resolver recursed once per character. The
resolver is hand-written scanners now (format/yaml_resolver.cpp); the output is what
PyYAML's yaml.safe_dump prints for the same data, byte for byte."""

import sqlite3

import yaml

from ptool_fixtures import STORE_DB_NAME, ptool_env, run_ptool

DIGITS = "1" * 30000


def test_30000_digit_labels_list_like_pyyaml(swtpm, tmp_path):
    store = tmp_path / "store"
    env = ptool_env(swtpm, store)
    run_ptool(["init"], env)
    run_ptool(["addtoken", "--pid", "1", "--label", "tok", "--sopin", "so", "--userpin", "u"],
              env)
    run_ptool(["addkey", "--label", "tok", "--algorithm", "ecc256", "--id", "k",
               "--key-label", DIGITS, "--userpin", "u"], env)
    out = run_ptool(["listobjects", "--label", "tok"], env).stdout
    expected = [{"id": i, "CKA_LABEL": DIGITS, "CKA_CLASS": cls, "CKA_ID": ["6b"],
                 "CKA_KEY_TYPE": "CKK_EC"} for i, cls in ((1, "CKO_PRIVATE_KEY"),
                                                           (2, "CKO_PUBLIC_KEY"))]
    assert out == yaml.safe_dump(expected, default_flow_style=False) + "\n"

    # A token label that long cannot be made through addtoken (32 bytes at most); a store
    # written by anything else may hold one.
    con = sqlite3.connect(store / STORE_DB_NAME)
    with con:
        con.execute("UPDATE tokens SET label=? WHERE label='tok'", ("0x" + "f" * 30000,))
    con.close()
    out = run_ptool(["listtokens", "--pid", "1"], env).stdout
    assert out == yaml.safe_dump([{"id": 1, "label": "0x" + "f" * 30000}],
                                 default_flow_style=False) + "\n"
