// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace ptool::cli {

// "creating the key... 12s" with a turning bar on stderr while a slow TPM command runs (RSA
// key generation takes seconds to minutes on real TPMs). Only when stderr is a terminal;
// otherwise it does nothing, so logs and scripts see no extra output. The line is erased
// when the Spinner goes out of scope.
class Spinner
{
public:
  explicit Spinner(std::string what);
  ~Spinner();
  Spinner(const Spinner&) = delete;
  Spinner& operator=(const Spinner&) = delete;

private:
  void run();

  std::string m_what;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_stop = false;
  std::thread m_thread;
};

// True when `fd` is a terminal and NO_COLOR is unset or empty (https://no-color.org).
bool use_colour(int fd);

} // namespace ptool::cli
