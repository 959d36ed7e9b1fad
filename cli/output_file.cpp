// SPDX-License-Identifier: BSD-2-Clause
#include "cli/output_file.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/c_handles.hpp"
#include "core/error.hpp"

namespace ptool::cli {

namespace fs = std::filesystem;

void
check_output_free(const fs::path& path, bool force)
{
  std::error_code ec;
  if (!force && fs::symlink_status(path, ec).type() != fs::file_type::not_found) {
    throw_usage("output file " + path.string() + " already exists",
                "remove it, choose another --output-prefix, or pass --force");
  }
}

namespace {

void
write_file_mode(const fs::path& path, std::span<const uint8_t> data, bool force, mode_t mode)
{
  fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::string tmpl = (dir / ("." + path.filename().string() + ".XXXXXX")).string();
  Fd fd(::mkstemp(tmpl.data())); // mkstemp creates the file 0600
  if (!fd) {
    throw Error(ExitCode::k_general,
                "cannot create a file in " + dir.string() + ": " + std::strerror(errno));
  }
  auto fail = [&](const std::string& what) {
    int err = errno;
    ::unlink(tmpl.c_str());
    throw Error(ExitCode::k_general, what + " " + path.string() + ": " + std::strerror(err));
  };
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      fail("cannot write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd.get(), mode) != 0 || ::fsync(fd.get()) != 0) {
    fail("cannot write");
  }
  fd.close();
  int rc = force ? ::rename(tmpl.c_str(), path.c_str())
                 : ::renameat2(AT_FDCWD, tmpl.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
  if (rc != 0 && !force && errno == EINVAL) {
    // File systems without RENAME_NOREPLACE: link() also refuses to replace.
    rc = ::link(tmpl.c_str(), path.c_str());
    if (rc == 0) {
      ::unlink(tmpl.c_str());
    }
  }
  if (rc != 0) {
    if (errno == EEXIST) {
      ::unlink(tmpl.c_str());
      throw_usage("output file " + path.string() + " already exists", "pass --force to replace it");
    }
    fail("cannot create");
  }
}

} // namespace

void
write_private_file(const fs::path& path, std::span<const uint8_t> data, bool force)
{
  write_file_mode(path, data, force, 0600);
}

void
write_public_file(const fs::path& path, std::string_view text, bool force)
{
  write_file_mode(path, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()),
                  force, 0644);
}

} // namespace ptool::cli
