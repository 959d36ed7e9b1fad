// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <memory>
#include <unistd.h>
#include <utility>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <sqlite3.h>
#include <tss2/tss2_esys.h>

namespace ptool {

// One generic deleter for C handles: unique_ptr<T, CDeleter<free_fn>> owns a C object and
// frees it exactly once with its library's free function.
template<auto Fn>
struct CDeleter
{
  template<typename T>
  void operator()(T* p) const
  {
    if (p) {
      Fn(p);
    }
  }
};

template<typename T, auto Fn>
using CHandle = std::unique_ptr<T, CDeleter<Fn>>;

using EvpPkey = CHandle<EVP_PKEY, EVP_PKEY_free>;
using EvpPkeyCtx = CHandle<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using EvpCipherCtx = CHandle<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>;
using EvpMdCtx = CHandle<EVP_MD_CTX, EVP_MD_CTX_free>;
using Bio = CHandle<BIO, BIO_free_all>;
using Bignum = CHandle<BIGNUM, BN_free>;
using OsslParamBld = CHandle<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>;
using OsslParams = CHandle<OSSL_PARAM, OSSL_PARAM_free>;
using SqliteDb = CHandle<sqlite3, sqlite3_close_v2>;
using SqliteStmt = CHandle<sqlite3_stmt, sqlite3_finalize>;

inline void
esys_free(void* p)
{
  Esys_Free(p);
}
// Output structures that ESAPI allocates for us (TPM2B_PUBLIC*, TPMS_CAPABILITY_DATA*, …).
template<typename T>
using EsysPtr = CHandle<T, esys_free>;

// Move-only owner of a file descriptor; closes it on destruction.
class Fd
{
public:
  Fd() = default;
  explicit Fd(int fd) : m_fd(fd) {}
  Fd(Fd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
  Fd& operator=(Fd&& other) noexcept
  {
    if (this != &other) {
      close();
      m_fd = std::exchange(other.m_fd, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { close(); }

  int get() const { return m_fd; }
  int release() { return std::exchange(m_fd, -1); }
  explicit operator bool() const { return m_fd >= 0; }
  void close()
  {
    if (m_fd >= 0) {
      ::close(m_fd);
      m_fd = -1;
    }
  }

private:
  int m_fd = -1;
};

} // namespace ptool
