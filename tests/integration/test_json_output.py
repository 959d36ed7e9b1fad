"""--output json on swtpm: every command that prints parses with jq, carries the values that
were created, matches its schema in docs/schemas, and says what the YAML default says."""

import json
import re

import pytest
import yaml

from ptool_fixtures import REPO_ROOT, base_env, ptool_env, requires_tool, run, run_ptool

jsonschema = pytest.importorskip("jsonschema")

SCHEMAS = REPO_ROOT / "docs" / "schemas"
UPIN, SOPIN = "userpin", "sopin"
# Commands whose --help offers --output; each has docs/schemas/<cmd>.schema.json.
COMMANDS = {"init", "dbup", "verify", "config", "listprimaries", "listtokens", "listobjects",
            "addkey", "import", "link", "addcert", "objmod", "export", "rmkey", "ssh-pubkey",
            "ssh-config", "doctor", "ssh-keygen"}


def _schema(cmd):
    return json.loads((SCHEMAS / f"{cmd}.schema.json").read_text())


def jq(text, expr):
    """Asserts that jq -e accepts `text` and `expr` holds on it (jq exits 1 on false/null)."""
    requires_tool("jq")
    proc = run(["jq", "-e", expr], env=base_env(), input=text, check=False)
    assert proc.returncode == 0, f"jq -e {expr!r} failed ({proc.returncode}) on:\n{text}"


def as_json(env, cmd, *args, check=True):
    """Runs `cmd args --output json`; returns (stdout text, parsed) after schema validation."""
    proc = run_ptool([cmd, *args, "--output", "json"], env, check=check)
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, _schema(cmd), cls=jsonschema.Draft202012Validator)
    jq(proc.stdout, ".")
    return proc.stdout, doc


def same_as_yaml(env, cmd, *args):
    """The JSON of a read-only command is the YAML default's data."""
    text, doc = as_json(env, cmd, *args)
    from_yaml = yaml.safe_load(run_ptool([cmd, *args], env).stdout)
    assert doc == (from_yaml if from_yaml is not None else []), (text, from_yaml)
    return text, doc


def _cert(tmp_path):
    key, pem = tmp_path / "c.key", tmp_path / "c.pem"
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", key, "-out", pem, "-subj", "/CN=c", "-days", "1"], env=base_env())
    return pem


@pytest.fixture(scope="module")
def token(swtpm_module, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("json")
    store = tmp / "store"
    env = ptool_env(swtpm_module, store)
    text, doc = as_json(env, "init")
    jq(text, '.action == "Created" and .id == 1')
    run_ptool(["addtoken", "--pid", "1", "--label", "tok", "--sopin", SOPIN, "--userpin", UPIN],
              env)
    keys = {}
    for alg, label in (("ecc256", "p256"), ("rsa2048", "rsa"), ("aes128", "aes")):
        text, doc = as_json(env, "addkey", "--label", "tok", "--algorithm", alg, "--key-label",
                            label, "--id", label, "--userpin", UPIN)
        hex_id = label.encode().hex()
        jq(text, f'.action == "add" and .private.CKA_ID == "{hex_id}"')
        jq(text, '.public.CKA_ID == .private.CKA_ID' if alg != "aes128" else 'has("public") | not')
        keys[label] = hex_id
    return {"env": env, "store": store, "tmp": tmp, "keys": keys, "tpm": swtpm_module}


def test_schemas_are_valid_draft_2020_12():
    files = sorted(SCHEMAS.glob("*.schema.json"))
    assert {f.name.split(".")[0] for f in files if not f.name.startswith("attest-")} == COMMANDS
    for f in files:
        schema = json.loads(f.read_text())
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        jsonschema.Draft202012Validator.check_schema(schema)


def test_every_printing_command_has_output_json(token):
    env = token["env"]
    for cmd in COMMANDS:
        help_text = run_ptool([cmd, "--help"], env).stdout
        assert re.search(r"--output (FORMAT|TEXT)", help_text), cmd
    for cmd in ("changepin", "destroy", "rmtoken", "addtoken", "objdel"):
        assert "--output" not in run_ptool([cmd, "--help"], env).stdout, cmd


def test_bad_output_value_is_a_usage_error(token):
    proc = run_ptool(["listprimaries", "--output", "xml"], token["env"], check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    proc = run_ptool(["ssh-pubkey", "--label", "tok", "--output", "yaml"], token["env"],
                     check=False)
    assert proc.returncode == 2 and proc.stdout == ""


def test_listings(token):
    env, keys = token["env"], token["keys"]
    text, doc = same_as_yaml(env, "listprimaries")
    jq(text, 'length == 1 and .[0].id == 1 and .[0].config.transient == false')
    jq(text, '.[0].config["esys-tr"] | test("^([0-9a-f]{2})+$")')
    text, _ = same_as_yaml(env, "listtokens", "--pid", "1")
    jq(text, '. == [{"id": 1, "label": "tok"}]')
    # JSON gives CKA_ID as a plain string; the YAML default keeps upstream's one-element list
    text, doc = as_json(env, "listobjects", "--label", "tok")
    from_yaml = yaml.safe_load(run_ptool(["listobjects", "--label", "tok"], env).stdout)
    assert all(len(o["CKA_ID"]) == 1 for o in from_yaml)
    assert doc == [dict(o, CKA_ID=o["CKA_ID"][0]) for o in from_yaml], (text, from_yaml)
    jq(text, 'length == 5')
    jq(text, f'[.[] | select(.CKA_CLASS == "CKO_PRIVATE_KEY") | .CKA_ID] '
             f'== ["{keys["p256"]}", "{keys["rsa"]}"]')
    jq(text, '[.[] | select(.CKA_LABEL == "p256") | .CKA_KEY_TYPE] == ["CKK_EC", "CKK_EC"]')
    jq(text, '[.[] | select(.CKA_LABEL == "aes")] | length == 1 and .[0].CKA_CLASS == '
             '"CKO_SECRET_KEY" and .[0].CKA_KEY_TYPE == "CKK_AES"')


def test_empty_listing_is_an_empty_array(swtpm, tmp_path):
    env = ptool_env(swtpm, tmp_path / "store")
    run_ptool(["init"], env)
    assert run_ptool(["listtokens", "--pid", "1"], env).stdout == ""
    text, doc = as_json(env, "listtokens", "--pid", "1")
    assert text == "[]\n" and doc == []


def test_config_and_objmod(token):
    env = token["env"]
    text, _ = same_as_yaml(env, "config", "--label", "tok")
    jq(text, '.["token-init"] == true and .["pss-sigs-good"] | type == "boolean"')
    text, doc = as_json(env, "config", "--label", "tok", "--key", "token-init")
    assert run_ptool(["config", "--label", "tok", "--key", "token-init"], env).stdout \
        == "token-init=True\n"
    jq(text, '. == {"token-init": true}')
    text, _ = as_json(env, "config", "--label", "tok", "--key", "tcti")
    jq(text, '. == {"tcti": null}')

    objs = json.loads(run_ptool(["listobjects", "--label", "tok", "--output", "json"], env).stdout)
    rsa_priv = next(o["id"] for o in objs
                    if o["CKA_LABEL"] == "rsa" and o["CKA_CLASS"] == "CKO_PRIVATE_KEY")
    text, doc = as_json(env, "objmod", "--id", str(rsa_priv))
    from_yaml = yaml.safe_load(run_ptool(["objmod", "--id", str(rsa_priv)], env).stdout)
    assert doc == {str(k): v for k, v in from_yaml.items()}
    jq(text, f'.["3"] == "{"rsa".encode().hex()}" and .["0"] == 3 and .["256"] == 0')  # label,class,type
    jq(text, f'.["258"] == "{"rsa".encode().hex()}" and (.["259"] | type == "boolean")')  # ID, SENSITIVE
    text, _ = same_as_yaml(env, "objmod", "--id", str(rsa_priv), "--key", "CKA_ID")
    jq(text, f'. == {{"CKA_ID": "{token["keys"]["rsa"]}"}}')


def test_verify_prints_the_same_secrets(token):
    env = token["env"]
    text, doc = same_as_yaml(env, "verify", "--label", "tok", "--userpin", UPIN, "--sopin", SOPIN)
    jq(text, '.label == "tok" and (.objects | length) == 5 and .config["token-init"] == true')
    jq(text, '.wrappingkey.hex | test("^[0-9a-f]{128}$")')
    jq(text, '(.pin | keys) == ["so", "user"] and (.wrappingkey | keys) == ["auth", "hex", "soauth"]')
    # Auths for the two private keys and the AES key; public objects have none.
    jq(text, '[.objects[] | select(.auth != null)] | length == 3')


def test_export_link_rmkey_addcert(token, monkeypatch):
    env, tmp = token["env"], token["tmp"]
    monkeypatch.chdir(tmp)
    text, doc = as_json(env, "export", "--label", "tok", "--key-label", "p256", "--userpin", UPIN)
    jq(text, '(.["object-auth"] | length) == 32 and .["primary-object"] == '
             '{"auth": "", "hierarchy": "owner", "is_transient": false}')
    again = yaml.safe_load(run_ptool(["export", "--label", "tok", "--key-label", "p256",
                                      "--userpin", UPIN, "--force"], env).stdout)
    assert again == doc

    text, doc = as_json(env, "link", "--label", "tok", "--key-label", "linked", "--id", "lnk",
                        "--userpin", UPIN, "--auth", doc["object-auth"], "p256.pem")
    lnk = "lnk".encode().hex()
    jq(text, f'. == [{{"action": "link", "private": {{"CKA_ID": "{lnk}"}}, '
             f'"public": {{"CKA_ID": "{lnk}"}}}}]')

    text, doc = as_json(env, "addcert", "--label", "tok", "--key-label", "linked",
                        str(_cert(tmp)))
    jq(text, f'. == {{"action": "add", "cert": {{"CKA_ID": "{lnk}"}}}}')

    ids = [o["id"] for o in json.loads(run_ptool(["listobjects", "--label", "tok", "--output",
                                                   "json"], env).stdout)
           if o.get("CKA_ID") == lnk]
    text, doc = as_json(env, "rmkey", "--label", "tok", "--key-label", "linked")
    assert sorted(doc["objects"]) == sorted(ids) and len(ids) == 3
    jq(text, '.action == "remove" and (.objects | length) == 3')


def test_import(token, tmp_path):
    key = tmp_path / "k.pem"
    run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
         key], env=base_env())
    text, doc = as_json(token["env"], "import", "--label", "tok", "--privkey", str(key),
                        "--key-label", "imp", "--id", "imp", "--userpin", UPIN)
    jq(text, f'.action == "import" and .private.CKA_ID == "{"imp".encode().hex()}" and '
             '.public == .private')
    run_ptool(["rmkey", "--label", "tok", "--key-label", "imp"], token["env"])


def test_mutating_commands_yaml_and_json_agree(token):
    """addkey with the same --id prints the same data in both formats (the YAML quoting of
    upstream's report kept)."""
    env = token["env"]
    args = ["addkey", "--label", "tok", "--algorithm", "ecc256", "--id", "1234", "--userpin", UPIN]
    yaml_out = run_ptool(args + ["--key-label", "y"], env).stdout
    assert yaml_out == "action: add\nprivate:\n  CKA_ID: '31323334'\npublic:\n  CKA_ID: '31323334'\n"
    text, doc = as_json(env, *args[:1], *args[1:], "--key-label", "j")
    assert doc == yaml.safe_load(yaml_out)
    text, doc = as_json(env, "rmkey", "--label", "tok", "--id", "31323334")
    jq(text, '(.objects | length) == 4')  # both keys share the CKA_ID


def test_dbup(token):
    env = token["env"]
    assert run_ptool(["dbup"], env).stdout == "new: 8\nold: 8\n\n"
    text, _ = as_json(env, "dbup")
    jq(text, '. == {"new": 8, "old": 8}')


def test_ssh_pubkey(token):
    requires_tool("ssh-keygen")
    env, keys = token["env"], token["keys"]
    text, doc = as_json(env, "ssh-pubkey", "--label", "tok")
    lines = run_ptool(["ssh-pubkey", "--label", "tok"], env).stdout.splitlines()
    fps = run_ptool(["ssh-pubkey", "--label", "tok", "--fingerprint"], env).stdout.splitlines()
    assert [k["public_key_line"] for k in doc] == lines
    assert [f'{k["bits"]} {k["fingerprint"]} {k["comment"]}' for k in doc] \
        == [l.rsplit(" ", 1)[0] for l in fps]
    jq(text, f'[.[] | [.label, .id, .key_type, .bits]] == [["p256", "{keys["p256"]}", '
             f'"ecdsa-sha2-nistp256", 256], ["rsa", "{keys["rsa"]}", "ssh-rsa", 2048]]')
    jq(text, 'all(.[]; .comment == .label and (.fingerprint | startswith("SHA256:")))')
    text, _ = as_json(env, "ssh-pubkey", "--label", "tok", "--key-label", "rsa",
                      "--authorized-keys-options", "no-pty")
    jq(text, 'length == 1 and (.[0].public_key_line | startswith("no-pty ssh-rsa "))')
    args = ["ssh-pubkey", "--label", "tok", "--key-label", "nope"]
    missing = run_ptool(args + ["--output", "json"], env, check=False)
    text_missing = run_ptool(args, env, check=False)
    assert (missing.returncode, missing.stdout) == (6, "")
    assert missing.stderr == text_missing.stderr and missing.stderr.startswith("tpm2-ptool: error:")


def test_ssh_config(token):
    env = token["env"]
    text, _ = as_json(env, "ssh-config", "--host", "h.example", "--module", "/m.so")
    jq(text, '. == {"host": "h.example", "pkcs11_provider": "/m.so", "identity_agent": "none", '
             '"token_label": null, "identity_file": null, "identity_files": [], '
             '"identities_only": false}')
    text, _ = as_json(env, "ssh-config", "--host", "h", "--label", "tok", "--module", "/m.so")
    plain = run_ptool(["ssh-config", "--host", "h", "--label", "tok", "--module", "/m.so"],
                      env).stdout
    # One IdentityFile per SSH key (p256 and rsa; the AES key is none).
    files = ["~/.ssh/tpm2-ptool-tok-p256.pub", "~/.ssh/tpm2-ptool-tok-rsa.pub"]
    jq(text, '.token_label == "tok" and .identities_only == true and '
             f'.identity_file == "{files[0]}" and .identity_files == {json.dumps(files)}')
    assert [l.split()[1] for l in plain.splitlines() if "IdentityFile" in l] == files


def test_doctor(token):
    env, tpm = token["env"], token["tpm"]
    text, doc = as_json(env, "doctor", check=False)
    plain = run_ptool(["doctor"], env, check=False)
    assert [d["message"] for d in doc] == [l[6:] for l in plain.stdout.splitlines()
                                           if not l.startswith("      hint: ")]
    jq(text, f'[.[] | select(.check == "tcti")][0] | .status == "ok" and '
             f'(.message | contains("{tpm.tcti}"))')
    jq(text, '[.[] | select(.check == "rows")][0].message | test("2 tokens|1 tokens")')
    jq(text, 'all(.[]; .check != "other")')
    assert not [d for d in doc if d["status"] == "fail"]


def test_doctor_json_keeps_exit_status_on_failure(tmp_path):
    env = ptool_env("swtpm:host=127.0.0.1,port=1", tmp_path / "store")
    proc = run_ptool(["doctor", "--output", "json"], env, check=False)
    assert proc.returncode == 1
    assert proc.stderr == run_ptool(["doctor"], env, check=False).stderr
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, _schema("doctor"), cls=jsonschema.Draft202012Validator)
    jq(proc.stdout, '[.[] | select(.status == "fail" and .check == "tcti")] | length == 1')
    jq(proc.stdout, '[.[] | select(.status == "fail")][0].hint | type == "string"')


def test_json_string_escaping(token):
    """Control characters are \\u escaped; non-ASCII UTF-8 passes through unescaped."""
    env = token["env"]
    label = "ключ\t\"q\"\\\x01"
    run_ptool(["addkey", "--label", "tok", "--algorithm", "aes128", "--key-label", label,
               "--userpin", UPIN], env)
    proc = run_ptool(["listobjects", "--label", "tok", "--output", "json"], env)
    assert '"CKA_LABEL": "ключ\\t\\"q\\"\\\\\\u0001"' in proc.stdout
    jq(proc.stdout, f'[.[] | select(.CKA_LABEL == {json.dumps(label)})] | length == 1')
    run_ptool(["rmkey", "--label", "tok", "--key-label", label], env)
