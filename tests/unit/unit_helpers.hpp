// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

// Shared helpers of the unit tests: a private temporary directory per test and access to
// the upstream store sample in tests/data.
namespace ptool::test {

// A fresh directory under $TMPDIR (mkdtemp, mode 0700), removed with its contents.
class TempDir
{
public:
  TempDir()
  {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ptool-unit-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      throw std::runtime_error("mkdtemp failed");
    }
    m_path = tmpl;
  }
  ~TempDir()
  {
    std::error_code ec;
    std::filesystem::remove_all(m_path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return m_path; }

private:
  std::filesystem::path m_path;
};

inline std::string
read_text(const std::filesystem::path& p)
{
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read " + p.string());
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The captured stdout of the sample command whose "### $ …" line contains `command`
// (tests/data/upstream_store_sample.txt), exactly as upstream printed it.
inline std::string
upstream_sample_output(const std::string& command)
{
  const std::string text =
    read_text(std::filesystem::path(PTOOL_TEST_DATA_DIR) / "upstream_store_sample.txt");
  size_t pos = 0;
  while ((pos = text.find("### $ ", pos)) != std::string::npos) {
    size_t eol = text.find('\n', pos);
    if (text.substr(pos, eol - pos).find(command) != std::string::npos) {
      size_t end = text.find("### (end of output)", eol);
      return text.substr(eol + 1, end - eol - 1);
    }
    pos = eol;
  }
  throw std::runtime_error("no sample output for: " + command);
}

// The bytes of `s` as lowercase hex, and back: how the tests hand strings with any byte to
// the Python that computes the expected output.
inline std::string
hex(const std::string& s)
{
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

inline std::string
unhex(const std::string& h)
{
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) {
    out += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
  }
  return out;
}

} // namespace ptool::test
