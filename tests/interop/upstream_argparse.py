#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Runs upstream tpm2_ptool 1.9.0's own argument parser on many argument vectors at once.

Run with Debian's /usr/bin/python3 (its argparse is the one upstream's tool uses). Reads a JSON
list of argument vectors on stdin (or the string "describe": then it prints each subcommand's
declared options and positionals) and prints a JSON list of results, one per vector:
{"status": exit status argparse gave (0 when parsing succeeded), "which": the subcommand,
 "args": the parsed namespace (values as strings), "stdout": what was printed, "stderr": ...}.

The parser is upstream's: commandlet.init() builds it from upstream's generate_options(); it is
caught when init() calls parse_args(), then each vector is parsed with it and the namespace is
recorded instead of the command running. No TPM and no store are touched.
"""
import contextlib
import io
import json
import os
import sys
import tempfile


class _Built(Exception):
    pass


def build_parser(commandlet):
    """The ArgumentParser upstream's commandlet.init() builds, caught at its parse_args()."""
    import argparse
    built = []
    real_parse_args = argparse.ArgumentParser.parse_args

    def capture(self, *args, **kwargs):
        built.append(self)
        raise _Built()

    argparse.ArgumentParser.parse_args = capture
    try:
        commandlet.init("A tool for manipulating the tpm2-pkcs11 database")
    except _Built:
        pass
    finally:
        argparse.ArgumentParser.parse_args = real_parse_args
    return built[0]


def describe(commandlet):
    """Upstream's declared options per subcommand, read from the parser it builds."""
    import argparse
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    out = {}
    for name, cmd in commandlet.get().items():
        p = subparsers.add_parser(name)
        g = p.add_argument_group(name + " options")
        cmd.generate_options(g)
        g.add_argument("--path")
        options, positionals = [], []
        for a in p._actions:
            if isinstance(a, argparse._HelpAction):
                continue
            entry = {"nargs": a.nargs, "required": a.required,
                     "choices": list(a.choices) if a.choices else None,
                     "int": a.type is int, "flag": a.nargs == 0}
            if a.option_strings:
                for n in a.option_strings:
                    options.append(dict(entry, name=n))
            else:
                positionals.append(dict(entry, name=a.dest))
        out[name] = {"options": options, "positionals": positionals}
    return out


def main():
    vectors = json.load(sys.stdin)
    with tempfile.TemporaryDirectory() as store:
        # The --path default is computed while the parser is built: keep it off $HOME.
        os.environ["TPM2_PKCS11_STORE"] = store
        from tpm2_pkcs11 import tpm2_ptool  # noqa: F401  (registers the commandlets)
        from tpm2_pkcs11.command import commandlet

        if vectors == "describe":
            json.dump(describe(commandlet), sys.stdout)
            return
        sys.argv = ["tpm2_ptool"]
        parser = build_parser(commandlet)
        results = []
        for argv in vectors:
            out, err = io.StringIO(), io.StringIO()
            status, which, args = 0, None, {}
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    # What commandlet.init() does with the namespace, minus running it.
                    d = vars(parser.parse_args(list(argv)))
                    if "which" in d:
                        which, args = d["which"], d
                    else:
                        parser.print_usage()
                except SystemExit as e:
                    status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            results.append({
                "status": status,
                "which": which,
                "args": {k: (v if v is None or isinstance(v, (bool, list)) else str(v))
                         for k, v in args.items() if k not in ("path", "which")},
                "stdout": out.getvalue(),
                "stderr": err.getvalue(),
            })
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
