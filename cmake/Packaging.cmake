# Debian packages with CPack, one per install component (cmake/Install.cmake):
#
#   kcpipe       kc-aggregator and the tools, the aggregator's unit, /etc/kcpipe/aggregator.conf
#   kcpipe-send  kc-send and the drop-folder producer's unit, /etc/kcpipe/send.conf
#   kcpipe-office  kc-office, the field-office portal, its unit, /etc/kcpipe/office.conf
#   libkcingest  the producer library, its header and pkg-config file
#
# (kcpipe-send and kcpipe-office are what a province office installs; the centre may install
# kcpipe-office too, to serve many offices.) Build them from a Release tree configured with the
# prefix /usr (tests/package does exactly this):
#
#   cmake -S . -B build/pkg -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
#         -DBUILD_TESTING=OFF -DKC_BUILD_BENCH=OFF
#   cmake --build build/pkg -j"$(nproc)" && (cd build/pkg && cpack -G DEB)
#
# Library dependencies come from dpkg-shlibdeps; the dependency on libkcingest of the programs
# that link it is declared here (it is this project's own library, which dpkg-shlibdeps cannot
# attribute to a package). Maintainer scripts: dist/debian/<package>/ (@KC_UNITS@ replaced by the
# package's units); conffiles are generated from the configuration files the package installs.

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME kcpipe)
set(CPACK_PACKAGE_VENDOR "kcpipe")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "kcpipe maintainers <maintainers@users.noreply.r-seed-8c6bf9cf.example>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Installs with DESTDIR, so that the absolute destinations (/etc/kcpipe, /lib/systemd/system)
# land inside the package and not on the build machine.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL kcpipe kcpipe-send kcpipe-office libkcingest) # never Unspecified, tests or benchmarks
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # <name>_<version>-<release>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.invalid/kcpipe")

# dpkg-shlibdeps has to find libkcingest.so.0 (needed by kc-send, kc-office and kc-replay) in the
# build tree.
get_target_property(kc_ingest_dir kcingest BINARY_DIR)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${kc_ingest_dir})

# Which components hold a program that links libkcingest (always a shared library): they depend
# on it. Read from the programs' link lines, so that the dependency follows the build.
set(kc_programs_kcpipe kc-aggregator kc-query kc-report kc-watch kc-audit kc-log kc-replay
                       kc-keygen kc-admin)
set(kc_programs_kcpipe-send kc-send)
set(kc_programs_kcpipe-office kc-office)
foreach(c kcpipe kcpipe-send kcpipe-office)
  set(kc_links_ingest_${c} OFF)
  foreach(t IN LISTS kc_programs_${c})
    get_target_property(libs ${t} LINK_LIBRARIES)
    if("kcingest" IN_LIST libs)
      set(kc_links_ingest_${c} ON)
    endif()
  endforeach()
endforeach()

# --- the packages -------------------------------------------------------------------------------
set(CPACK_COMPONENT_KCPIPE_DISPLAY_NAME "kcpipe")
set(CPACK_DEBIAN_KCPIPE_PACKAGE_NAME kcpipe)
set(CPACK_DEBIAN_KCPIPE_PACKAGE_SECTION net)
set(CPACK_DEBIAN_KCPIPE_DESCRIPTION
    "exact, durable collection of industrial-promotion activity reports (aggregator)
kcpipe carries the provinces' industrial-promotion (khuyen cong) activity reports to the
centre. This package holds the aggregator, kc-aggregator, which validates, de-duplicates and
commits the events into LMDB and keeps regional totals, with its systemd unit, its HTTP API and
dashboard, and the tools: kc-query, kc-report, kc-watch, kc-audit, kc-log, kc-replay,
kc-keygen and kc-admin.")
# fonts-dejavu-core: the report's PDF (kc-report, GET /v1/report) is set in DejaVu Sans, found
# through fontconfig at run time (no library link, so dpkg-shlibdeps cannot see it).
set(CPACK_DEBIAN_KCPIPE_PACKAGE_DEPENDS "adduser | passwd, fonts-dejavu-core")

set(CPACK_COMPONENT_KCPIPE-SEND_DISPLAY_NAME "kcpipe-send")
set(CPACK_DEBIAN_KCPIPE-SEND_PACKAGE_NAME kcpipe-send)
set(CPACK_DEBIAN_KCPIPE-SEND_PACKAGE_SECTION net)
set(CPACK_DEBIAN_KCPIPE-SEND_DESCRIPTION
    "field-office producer of kcpipe: send CSV activity reports to the centre
kc-send imports a CSV file of industrial-promotion activities, or watches a drop folder for
them, and delivers every event to the kcpipe aggregator through a durable local spool, exactly
once. This package holds kc-send and the systemd unit of the drop-folder producer.")
set(CPACK_DEBIAN_KCPIPE-SEND_PACKAGE_DEPENDS "adduser | passwd")

set(CPACK_COMPONENT_KCPIPE-OFFICE_DISPLAY_NAME "kcpipe-office")
set(CPACK_DEBIAN_KCPIPE-OFFICE_PACKAGE_NAME kcpipe-office)
set(CPACK_DEBIAN_KCPIPE-OFFICE_PACKAGE_SECTION net)
set(CPACK_DEBIAN_KCPIPE-OFFICE_DESCRIPTION
    "field-office portal of kcpipe: clerks send their activity reports with a browser
kc-office is the web portal of the provinces' industrial-promotion (khuyen cong) offices:
clerks sign in, upload a spreadsheet or type an activity, see every row checked before it is
sent, and follow each row until the centre's aggregator acknowledged it; it delivers through a
durable spool per office, exactly once. HTTPS with GnuTLS beyond loopback. This package holds
kc-office and its systemd unit.")
# Its libraries (libmicrohttpd, GnuTLS through it, libsodium, LMDB, jansson, libcurl-gnutls)
# come from dpkg-shlibdeps.
set(CPACK_DEBIAN_KCPIPE-OFFICE_PACKAGE_DEPENDS "adduser | passwd")

set(CPACK_COMPONENT_LIBKCINGEST_DISPLAY_NAME "libkcingest")
set(CPACK_DEBIAN_LIBKCINGEST_PACKAGE_NAME libkcingest)
set(CPACK_DEBIAN_LIBKCINGEST_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_LIBKCINGEST_DESCRIPTION
    "kcpipe producer library: spool events and deliver them to the aggregator
libkcingest writes each industrial-promotion event to a local LMDB spool before sending it
over ZeroMQ and removes it only once the aggregator acknowledged it. This package holds the
shared library, its header kcingest.h and the pkg-config file kcingest.pc.")
# shlibs control file (only the library package has a shared object), for dpkg-shlibdeps of
# programs built against libkcingest elsewhere.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")

if(kc_links_ingest_kcpipe)
  set(CPACK_COMPONENT_KCPIPE_DEPENDS libkcingest)
endif()
if(kc_links_ingest_kcpipe-send)
  set(CPACK_COMPONENT_KCPIPE-SEND_DEPENDS libkcingest)
endif()
if(kc_links_ingest_kcpipe-office)
  set(CPACK_COMPONENT_KCPIPE-OFFICE_DEPENDS libkcingest)
endif()

# Maintainer scripts and conffiles, per package with units or configuration.
foreach(c kcpipe kcpipe-send kcpipe-office)
  string(TOUPPER ${c} C)
  set(dir ${PROJECT_BINARY_DIR}/debian/${c})
  file(MAKE_DIRECTORY ${dir})
  string(JOIN " " KC_UNITS ${KC_UNITS_${c}})
  set(extra "")
  foreach(s postinst prerm postrm) # each package has all three (dist/debian/<package>/)
    configure_file(${PROJECT_SOURCE_DIR}/dist/debian/${c}/${s} ${dir}/${s} @ONLY
                   FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                                    WORLD_READ WORLD_EXECUTE)
    list(APPEND extra ${dir}/${s})
  endforeach()
  set(conffiles "")
  foreach(f IN LISTS KC_CONFFILES_${c})
    if(IS_ABSOLUTE "${KC_INSTALL_CONFDIR}")
      string(APPEND conffiles "${KC_INSTALL_CONFDIR}/${f}\n")
    else()
      string(APPEND conffiles "${CPACK_PACKAGING_INSTALL_PREFIX}/${KC_INSTALL_CONFDIR}/${f}\n")
    endif()
  endforeach()
  if(conffiles)
    file(WRITE ${dir}/conffiles "${conffiles}")
    list(APPEND extra ${dir}/conffiles)
  else()
    file(REMOVE ${dir}/conffiles)
  endif()
  set(CPACK_DEBIAN_${C}_PACKAGE_CONTROL_EXTRA ${extra})
endforeach()

# Packages are built from a tree configured with the prefix /usr: refuse any other (the library
# would not be in the multiarch directory and the configuration not in /etc).
set(CPACK_KC_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
file(WRITE ${PROJECT_BINARY_DIR}/CPackKcChecks.cmake [=[
if(CPACK_GENERATOR STREQUAL "DEB" AND NOT CPACK_KC_INSTALL_PREFIX STREQUAL "/usr")
  message(FATAL_ERROR "kcpipe: build the packages from a tree configured with "
                      "-DCMAKE_INSTALL_PREFIX=/usr (this one has ${CPACK_KC_INSTALL_PREFIX})")
endif()
]=])
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_BINARY_DIR}/CPackKcChecks.cmake)

include(CPack)
