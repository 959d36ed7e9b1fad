// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "core/c_handles.hpp"
#include "core/error.hpp"

namespace ptool::store {

// Upstream's <db>.lock: an exclusive flock held around "read the schema version, then create
// or upgrade", unlinked afterwards, exactly as the Python tool and the C library do it, so
// none of the three ever sees a half-made or half-upgraded store. Best effort: when the lock
// file cannot be created (read-only directory) nothing is locked.
class LockFile
{
public:
  explicit LockFile(std::string path) : m_path(std::move(path))
  {
    // The holder unlinks the file before it unlocks (as upstream does), so a waiter can get
    // the lock of a file that is no longer at the path while a newcomer locks a new one: hold
    // it only when the path still names the locked file, else start again.
    for (int attempt = 0; attempt < 1000; ++attempt) {
      open_file();
      if (!m_fd) {
        return; // best effort (read-only directory)
      }
      flock(m_fd.get(), LOCK_EX);
      struct stat held
      {};
      struct stat named
      {};
      if (fstat(m_fd.get(), &held) == 0 && lstat(m_path.c_str(), &named) == 0
          && held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
        return;
      }
      m_fd.close(); // releases the flock
    }
  }
  ~LockFile()
  {
    if (m_fd) {
      unlink(m_path.c_str());
      flock(m_fd.get(), LOCK_UN);
    }
  }
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;

private:
  void open_file()
  {
    // Never through a symbolic link: in a directory others can write, one would make us
    // create (or truncate nothing, but create) a file wherever it points.
    m_fd = Fd(::open(m_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600));
    struct stat st
    {};
    if (!m_fd && errno == ELOOP) {
      throw Error(ExitCode::k_general, m_path + " is a symbolic link; refusing to follow it",
                  "remove it ('rm " + m_path + "'): the lock file is an empty regular file");
    }
    if (m_fd && (fstat(m_fd.get(), &st) != 0 || !S_ISREG(st.st_mode))) {
      throw Error(ExitCode::k_general, m_path + " is not a regular file",
                  "remove it: the lock file is an empty regular file");
    }
  }

  std::string m_path;
  Fd m_fd;
};

} // namespace ptool::store
