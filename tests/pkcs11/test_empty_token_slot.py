"""A store with addemptytoken's uninitialized row, through pkcs11-tool with our module and
with upstream's, each on its own copy: both list the row as an uninitialized slot and one
spare slot after it; `--init-token` on the row's slot makes a new token row (the empty row
stays, as upstream leaves it), and both stores then hold the same tokens."""

import re

import yaml

from p11_clients import sides
from p11_common import provision
from ptool_fixtures import assert_no_tpm_leaks, requires_tool, run, run_ptool


def _slots(side):
    """[(slot id, "uninitialized" or the token label)] from `pkcs11-tool -L`."""
    out = run(["pkcs11-tool", "--module", side.module, "-L"], env=side.env).stdout
    slots = []
    for block in re.split(r"\n(?=Slot \d+ )", out):
        m = re.match(r"Slot \d+ \((0x[0-9a-f]+)\)", block)
        if not m:
            continue
        label = re.search(r"token label\s*:\s*(.*)", block)
        state = "uninitialized" if "uninitialized" in block else (label.group(1).strip()
                                                                 if label else "?")
        slots.append((int(m.group(1), 16), state))
    return slots


def _tokens(side):
    return [(t["id"], t["label"]) for t in
            yaml.safe_load(run_ptool(["listtokens", "--pid", "1"], side.env).stdout)]


def test_empty_token_row_and_spare_slot(swtpm_module, tmp_path):
    requires_tool("pkcs11-tool")
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    tok = provision(swtpm_module.tcti, store, keys=(("ecc256", "k256"),))
    run_ptool(["addemptytoken", "--pid", "1"], tok["env"])
    results = {}
    for who, side in sides(tok, tmp_path / "sides").items():
        before = _slots(side)
        assert before == [(1, "tok"), (2, "uninitialized"), (3, "uninitialized")], (who, before)
        proc = run(["pkcs11-tool", "--module", side.module, "--init-token", "--slot", "2",
                    "--label", "newtok", "--so-pin", "sopin9"], env=side.env)
        assert "Token successfully initialized" in proc.stdout, who
        after = _slots(side)
        assert after == [(1, "tok"), (2, "uninitialized"), (3, "newtok"),
                         (4, "uninitialized")], (who, after)
        results[who] = _tokens(side)
    assert results["ours"] == results["upstream"] == [(1, "tok"), (2, None), (3, "newtok")]
    assert_no_tpm_leaks(swtpm_module.tcti)


def test_no_spare_slot_at_the_token_limit(swtpm_module, tmp_path):
    """The spare slot is offered while the store has fewer than 255 tokens (upstream's
    MAX_TOKEN_CNT, and its store's limit_tokens trigger): rows added by SQL up to 254, then
    one more."""
    requires_tool("pkcs11-tool")
    requires_tool("sqlite3")
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    tok = provision(swtpm_module.tcti, store, keys=())
    run_ptool(["addemptytoken", "--pid", "1"], tok["env"])
    side = sides(tok, tmp_path / "sides", upstream=False)["ours"]
    db = side.store / "tpm2_pkcs11.sqlite3"

    def add_empty_rows(n):
        run(["sqlite3", db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
             f"WHERE i < {n}) INSERT INTO tokens (pid, label, config) SELECT pid, NULL, config "
             "FROM tokens, n WHERE tokens.id = 2"])

    def count(n_rows):
        rows = int(run(["sqlite3", db, "SELECT count(*) FROM tokens"]).stdout)
        assert rows == n_rows
        return _slots(side)

    add_empty_rows(252)
    slots = count(254)
    # The token, addemptytoken's first row, and the spare after the highest id.
    assert slots == [(1, "tok"), (2, "uninitialized"), (255, "uninitialized")]
    add_empty_rows(1)
    assert count(255) == [(1, "tok"), (2, "uninitialized")]
