// SPDX-License-Identifier: BSD-2-Clause
#include "cli/spinner.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace ptool::cli {

Spinner::Spinner(std::string what) : m_what(std::move(what))
{
  if (isatty(STDERR_FILENO)) {
    m_thread = std::thread([this]() { run(); });
  }
}

Spinner::~Spinner()
{
  if (!m_thread.joinable()) {
    return;
  }
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_stop = true;
  }
  m_wake.notify_all();
  m_thread.join();
}

void
Spinner::run()
{
  static const char k_frames[] = {'|', '/', '-', '\\'};
  auto start = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(m_mutex);
  // Fast commands finish before the first frame and print nothing at all.
  unsigned frame = 0;
  while (!m_wake.wait_for(lock, std::chrono::milliseconds(frame ? 125 : 500),
                          [this]() { return m_stop; })) {
    auto secs =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
        .count();
    std::fprintf(stderr, "\r%c %s... %llds", k_frames[frame++ % 4], m_what.c_str(),
                 static_cast<long long>(secs));
    std::fflush(stderr);
  }
  if (frame > 0) {
    std::fputs("\r\033[K", stderr); // erase the line
    std::fflush(stderr);
  }
}

bool
use_colour(int fd)
{
  const char* no_colour = std::getenv("NO_COLOR");
  const char* term = std::getenv("TERM");
  return isatty(fd) && (!no_colour || !*no_colour) && !(term && std::string(term) == "dumb");
}

} // namespace ptool::cli
