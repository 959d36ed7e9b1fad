// SPDX-License-Identifier: BSD-2-Clause
// LD_PRELOAD probe for tests/integration/test_heap_secrets.py: when the process exits, count
// the copies of each secret (HEAPSCAN_SECRETS, separated by ':') left anywhere in its
// writable anonymous memory — the malloc heap, mmap'ed arenas and big blocks — and append
// "<secret index> <count>" lines to the file HEAPSCAN_REPORT.
//
// Freed malloc chunks keep their contents (only a few pointer words are overwritten), so a
// PIN that was copied into a std::string or a stdio buffer and freed without being wiped is
// found here. The stack is left out: the environment the secrets arrive in lives there.
// The probe itself allocates nothing and writes through raw file descriptors.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace {

// Parses "start-end perms offset dev inode path" from /proc/self/maps.
bool
parse_line(const char* line, unsigned long& start, unsigned long& end, bool& writable,
           bool& anonymous_or_heap)
{
  char* rest = nullptr;
  start = std::strtoul(line, &rest, 16);
  if (*rest != '-') {
    return false;
  }
  end = std::strtoul(rest + 1, &rest, 16);
  if (*rest != ' ') {
    return false;
  }
  writable = rest[2] == 'w';
  // Skip perms, offset, dev, inode; what remains is the (possibly empty) path.
  const char* p = rest + 1;
  for (int field = 0; field < 4 && *p != '\0'; ++field) {
    while (*p != '\0' && *p != ' ') {
      ++p;
    }
    while (*p == ' ') {
      ++p;
    }
  }
  anonymous_or_heap = *p == '\0' || *p == '\n' || std::strncmp(p, "[heap]", 6) == 0;
  return true;
}

size_t
count_in(const char* begin, const char* end, const char* needle, size_t n)
{
  size_t found = 0;
  const char* p = begin;
  while (static_cast<size_t>(end - p) >= n) {
    const void* hit = memmem(p, static_cast<size_t>(end - p), needle, n);
    if (hit == nullptr) {
      break;
    }
    ++found;
    p = static_cast<const char*>(hit) + 1;
  }
  return found;
}

void
append_number(char*& out, size_t v)
{
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) {
    *out++ = digits[--n];
  }
}

__attribute__((destructor)) void
scan_at_exit()
{
  const char* secrets = std::getenv("HEAPSCAN_SECRETS");
  const char* report = std::getenv("HEAPSCAN_REPORT");
  if (secrets == nullptr || report == nullptr) {
    return;
  }
  static char maps[1 << 20];
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return;
  }
  size_t len = 0;
  ssize_t n = 0;
  while ((n = read(fd, maps + len, sizeof(maps) - 1 - len)) > 0) {
    len += static_cast<size_t>(n);
  }
  close(fd);
  maps[len] = '\0';

  static size_t counts[16];
  const char* secret = secrets;
  for (size_t index = 0; index < 16 && *secret != '\0'; ++index) {
    const char* stop = std::strchr(secret, ':');
    size_t slen = stop ? static_cast<size_t>(stop - secret) : std::strlen(secret);
    for (const char* line = maps; *line != '\0';) {
      unsigned long start = 0;
      unsigned long end = 0;
      bool writable = false;
      bool anon = false;
      if (parse_line(line, start, end, writable, anon) && writable && anon && slen > 0) {
        counts[index] += count_in(reinterpret_cast<const char*>(start),
                                  reinterpret_cast<const char*>(end), secret, slen);
      }
      const char* nl = std::strchr(line, '\n');
      line = nl ? nl + 1 : line + std::strlen(line);
    }
    char out[64];
    char* o = out;
    append_number(o, index);
    *o++ = ' ';
    append_number(o, counts[index]);
    *o++ = '\n';
    int rfd = open(report, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (rfd >= 0) {
      ssize_t w = write(rfd, out, static_cast<size_t>(o - out));
      (void)w;
      close(rfd);
    }
    if (stop == nullptr) {
      break;
    }
    secret = stop + 1;
  }
}

} // namespace
