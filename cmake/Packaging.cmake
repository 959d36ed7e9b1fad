# SPDX-License-Identifier: BSD-2-Clause
# `cpack -G DEB` (scripts/package): a Debian package of the usual install tree plus what Debian
# wants around it. Configure with -DCMAKE_INSTALL_PREFIX=/usr -DPTOOL_INSTALL_COMPAT_LINK=OFF:
# the .deb offers tpm2_ptool through update-alternatives instead, because Debian's
# libtpm2-pkcs11-tools owns a real /usr/bin/tpm2_ptool and dpkg refuses a second owner.
set(CPACK_PACKAGE_NAME tpm2-ptool)
set(CPACK_PACKAGE_VENDOR "tpm2-ptool contributors")
set(CPACK_PACKAGE_CONTACT
    "tpm2-ptool maintainers <maintainers@users.noreply.r-seed-4e8f1c02.example>"
    CACHE STRING "Maintainer field of the .deb")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "manage tpm2-pkcs11 stores; PKCS#11 module for TPM keys")
set(CPACK_PACKAGE_DESCRIPTION
    "tpm2-ptool is a drop-in replacement, written in C++, for the Python tpm2_ptool of\n"
    "tpm2-pkcs11: it creates primaries, tokens and TPM-generated keys in the same SQLite\n"
    "store, talking to the TPM through tpm2-tss ESAPI. The package also contains\n"
    "tpm2-ptool-pkcs11.so, a PKCS#11 module over that store for ssh, ssh-agent and\n"
    "other PKCS#11 clients.")
string(JOIN "" CPACK_PACKAGE_DESCRIPTION ${CPACK_PACKAGE_DESCRIPTION})
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# dpkg-shlibdeps (dpkg-dev) turns the libraries the binary and module link into Depends.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "swtpm, openssh-client, p11-kit")
set(_ptool_deb ${CMAKE_CURRENT_LIST_DIR}/../packaging/deb)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${_ptool_deb}/postinst ${_ptool_deb}/prerm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# Debian-only files (copyright, changelog, the p11-kit example) are added to the staged tree
# by a pre-build script, so plain `cmake --install` never gets them.
string(TIMESTAMP CPACK_PTOOL_DEB_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
set(CPACK_PTOOL_SOURCE_DIR ${PROJECT_SOURCE_DIR})
set(CPACK_PTOOL_DOC_DIR ${CMAKE_INSTALL_DOCDIR})
set(CPACK_PTOOL_MAN_DIR ${CMAKE_INSTALL_MANDIR})
set(CPACK_PTOOL_BIN_DIR ${CMAKE_INSTALL_BINDIR})
set(CPACK_PRE_BUILD_SCRIPTS ${CMAKE_CURRENT_LIST_DIR}/DebStage.cmake)

set(CPACK_GENERATOR DEB)
set(CPACK_SOURCE_GENERATOR "")
include(CPack)
