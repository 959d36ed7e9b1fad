// SPDX-License-Identifier: BSD-2-Clause
// Which TCTIs count as "no resource manager": only there are leftovers ever flushed.
#include <gtest/gtest.h>

#include "core/tpm/stale.hpp"

namespace ptool::tpm {
namespace {

TEST(DirectTcti, SimulatorsAndRawDevicesAreDirect)
{
  for (const char* t :
       {"swtpm:host=127.0.0.1,port=2321", "swtpm", "mssim:host=localhost", "device:/dev/tpm0",
        "device:/dev/tpm12", "device", "libtss2-tcti-swtpm.so.0:port=2321",
        "libtss2-tcti-device.so:/dev/tpm0", "tss2-tcti-mssim"}) {
    EXPECT_TRUE(is_direct_tcti(std::string(t))) << t;
  }
}

TEST(DirectTcti, ResourceManagersAndUnknownsAreNot)
{
  EXPECT_FALSE(is_direct_tcti(std::nullopt)); // tctildr's probing may pick tabrmd / tpmrm0
  for (const char* t :
       {"device:/dev/tpmrm0", "tabrmd:bus_type=session", "tabrmd", "libtss2-tcti-tabrmd.so.0",
        "pcap:swtpm:port=2321", "cmd:swtpm socket", "device:/dev/tpm", "device:/dev/tpm0x",
        "device:/tmp/tpm0", "spi-helper", "/usr/lib/evil.so:x", "", "swtpmx:port=1"}) {
    EXPECT_FALSE(is_direct_tcti(std::string(t))) << t;
  }
}

} // namespace
} // namespace ptool::tpm
