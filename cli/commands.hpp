// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <CLI/CLI.hpp>

#include "cli/completion.hpp"

#include "cli/common.hpp"

namespace ptool::cli {

// Each subcommand lives in its own file and registers itself here, in upstream's --help
// order. Nothing registers through static constructors.
void add_init(CLI::App& app, const GlobalOptions& g);
void add_addtoken(CLI::App& app, const GlobalOptions& g);
void add_addkey(CLI::App& app, const GlobalOptions& g);
void add_ssh_pubkey(CLI::App& app, const GlobalOptions& g);
void add_verify(CLI::App& app, const GlobalOptions& g);
void add_changepin(CLI::App& app, const GlobalOptions& g);
void add_initpin(CLI::App& app, const GlobalOptions& g);
void add_export(CLI::App& app, const GlobalOptions& g);
void add_attest(CLI::App& app, const GlobalOptions& g);
void add_import(CLI::App& app, const GlobalOptions& g);
void add_link(CLI::App& app, const GlobalOptions& g);
void add_destroy(CLI::App& app, const GlobalOptions& g);
void add_dbup(CLI::App& app, const GlobalOptions& g);
void add_rmtoken(CLI::App& app, const GlobalOptions& g);
void add_addemptytoken(CLI::App& app, const GlobalOptions& g);
void add_config(CLI::App& app, const GlobalOptions& g);
void add_listprimaries(CLI::App& app, const GlobalOptions& g);
void add_listtokens(CLI::App& app, const GlobalOptions& g);
void add_listobjects(CLI::App& app, const GlobalOptions& g);
void add_addcert(CLI::App& app, const GlobalOptions& g);
void add_objmod(CLI::App& app, const GlobalOptions& g);
void add_objdel(CLI::App& app, const GlobalOptions& g);
void add_rmkey(CLI::App& app, const GlobalOptions& g);
// UX helpers: shell completion and its hidden live-value query.
void add_completion(CLI::App& app, const GlobalOptions& g);
void add_doctor(CLI::App& app, const GlobalOptions& g);
void add_ssh_config(CLI::App& app, const GlobalOptions& g);
void add_ssh_keygen(CLI::App& app, const GlobalOptions& g);

void add_all_commands(CLI::App& app, const GlobalOptions& g);

} // namespace ptool::cli
