# SPDX-License-Identifier: BSD-2-Clause
# CPACK_PRE_BUILD_SCRIPTS for the .deb: runs on the staged install tree before it is packed.
# Refuses trees the .deb must not contain, gzips the man pages (Debian policy) and adds
# /usr/share/doc/tpm2-ptool: copyright, changelog, README and the p11-kit example.
if(NOT CPACK_GENERATOR STREQUAL "DEB")
  return()
endif()
set(_root ${CPACK_TEMPORARY_INSTALL_DIRECTORY}${CPACK_PACKAGING_INSTALL_PREFIX})
if(NOT EXISTS ${_root}/${CPACK_PTOOL_BIN_DIR}/tpm2-ptool)
  message(FATAL_ERROR "tpm2-ptool .deb: nothing staged at ${_root}/${CPACK_PTOOL_BIN_DIR}")
endif()
if(NOT CPACK_PACKAGING_INSTALL_PREFIX STREQUAL "/usr")
  message(FATAL_ERROR "tpm2-ptool .deb: configure with -DCMAKE_INSTALL_PREFIX=/usr")
endif()
# A plain /usr/bin/tpm2_ptool would collide with libtpm2-pkcs11-tools; postinst uses
# update-alternatives instead. An enabled p11-kit module is the admin's choice, not ours.
file(GLOB_RECURSE _compat LIST_DIRECTORIES false RELATIVE ${_root} ${_root}/*tpm2_ptool*)
file(GLOB_RECURSE _enabled LIST_DIRECTORIES false ${_root}/share/p11-kit/modules/*)
if(_compat OR _enabled)
  message(FATAL_ERROR "tpm2-ptool .deb: configure with -DPTOOL_INSTALL_COMPAT_LINK=OFF and "
                      "-DPTOOL_INSTALL_P11KIT_MODULE=OFF (staged: ${_compat} ${_enabled})")
endif()

find_program(_gzip gzip REQUIRED)
file(GLOB_RECURSE _pages LIST_DIRECTORIES false ${_root}/${CPACK_PTOOL_MAN_DIR}/*)
foreach(page IN LISTS _pages)
  if(NOT page MATCHES "\\.gz$")
    # -n: no name or timestamp in the header, so the same page gives the same bytes.
    execute_process(COMMAND ${_gzip} -9nf ${page} COMMAND_ERROR_IS_FATAL ANY)
  endif()
endforeach()

set(_doc ${_root}/${CPACK_PTOOL_DOC_DIR})
set(_src ${CPACK_PTOOL_SOURCE_DIR})
file(MAKE_DIRECTORY ${_doc})
file(COPY_FILE ${_src}/packaging/deb/copyright ${_doc}/copyright)
file(COPY_FILE ${_src}/README.md ${_doc}/README.md)
# Documentation only: copying it to /usr/share/p11-kit/modules/ makes p11-kit load the module.
file(COPY_FILE ${_src}/pkcs11/tpm2-ptool-pkcs11.module ${_doc}/tpm2-ptool-pkcs11.module)
set(PTOOL_DEB_VERSION ${CPACK_PACKAGE_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE})
set(PTOOL_DEB_DATE ${CPACK_PTOOL_DEB_DATE})
configure_file(${_src}/packaging/deb/changelog.Debian.in ${_doc}/changelog.Debian @ONLY)
execute_process(COMMAND ${_gzip} -9nf ${_doc}/changelog.Debian COMMAND_ERROR_IS_FATAL ANY)
file(CHMOD_RECURSE ${_doc} FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                           WORLD_READ WORLD_EXECUTE)
