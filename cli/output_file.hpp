// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <filesystem>
#include <span>
#include <string_view>

namespace ptool::cli {

// Fails with a usage error when `path` exists and `force` is false: called for every output
// before any TPM work, so a refused export changes nothing.
void check_output_free(const std::filesystem::path& path, bool force);

// Writes `data` to `path` with mode 0600: first to a temporary file in the same directory,
// then renamed into place, so readers never see a half-written key. Without `force` the
// rename refuses to replace an existing file (RENAME_NOREPLACE), closing the race with the
// check above.
void write_private_file(const std::filesystem::path& path, std::span<const uint8_t> data,
                        bool force);
inline void
write_private_file(const std::filesystem::path& path, std::string_view text, bool force)
{
  write_private_file(path, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()),
                     force);
}

// The same for a public file (an OpenSSH .pub): mode 0644, as ssh-keygen writes it.
void write_public_file(const std::filesystem::path& path, std::string_view text, bool force);

} // namespace ptool::cli
