# Install rules beyond the programs' own install(TARGETS) lines (which sit beside each target and
# take their directory's default component, set in the root CMakeLists.txt): systemd units,
# default configuration files, man pages and documentation.
#
# Components (one Debian package each, cmake/Packaging.cmake):
#   kcpipe       kc-aggregator and the tools, the aggregator's unit, aggregator.conf, their pages
#   kcpipe-send  kc-send, the drop-folder unit, send.conf, kc-send(1), kcpipe-csv(5)
#   kcpipe-office  kc-office (office/CMakeLists.txt), the portal's unit, office.conf, kc-office(1)
#   libkcingest  libkcingest.so (+ SONAME link), kcingest.h, kcingest.pc, and kcpipe.conf(5): both
#                other packages depend on it, so the config format's page, which both units
#                name, is on every machine that has either
#
# Paths follow GNUInstallDirs. With the prefix /usr (how packages are built) configuration goes to
# /etc/kcpipe and units to the systemd system unit directory (/lib/systemd/system on Debian 12);
# with any other prefix both stay under the prefix (etc/kcpipe, lib/systemd/system), so that
# `cmake --install build --prefix DIR` never writes outside DIR.

if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(kc_default_confdir "${CMAKE_INSTALL_FULL_SYSCONFDIR}/kcpipe") # /etc/kcpipe
  pkg_get_variable(kc_systemd_unitdir systemd systemdsystemunitdir)
  if(NOT kc_systemd_unitdir)
    set(kc_systemd_unitdir "/lib/systemd/system")
  endif()
else()
  set(kc_default_confdir "${CMAKE_INSTALL_SYSCONFDIR}/kcpipe")
  set(kc_systemd_unitdir "lib/systemd/system")
endif()
set(KC_INSTALL_CONFDIR "${kc_default_confdir}" CACHE STRING
    "Where the default configuration files are installed (relative: under the prefix)")
set(KC_INSTALL_UNITDIR "${kc_systemd_unitdir}" CACHE STRING
    "Where the systemd units are installed (relative: under the prefix)")

# The component a file of the field office's side belongs to, else the centre's.
function(kc_install_component out name)
  if(name MATCHES "^(kcpipe-send|send|kc-send|kcpipe-csv)[.]")
    set(${out} kcpipe-send PARENT_SCOPE)
  elseif(name MATCHES "^(kcpipe-office|office|kc-office)[.]")
    set(${out} kcpipe-office PARENT_SCOPE)
  else()
    set(${out} kcpipe PARENT_SCOPE)
  endif()
endfunction()

# systemd units (helper ops: dist/systemd/).
file(GLOB kc_units CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/dist/systemd/*.service
     ${PROJECT_SOURCE_DIR}/dist/systemd/*.socket ${PROJECT_SOURCE_DIR}/dist/systemd/*.path
     ${PROJECT_SOURCE_DIR}/dist/systemd/*.timer)
set(KC_UNITS_kcpipe "")
set(KC_UNITS_kcpipe-send "")
set(KC_UNITS_kcpipe-office "")
foreach(f IN LISTS kc_units)
  get_filename_component(n ${f} NAME)
  kc_install_component(c ${n})
  install(FILES ${f} DESTINATION ${KC_INSTALL_UNITDIR} COMPONENT ${c})
  list(APPEND KC_UNITS_${c} ${n})
endforeach()

# Default configuration files (helper ops: dist/conf/), conffiles in the packages.
file(GLOB kc_confs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/dist/conf/*.conf)
set(KC_CONFFILES_kcpipe "")
set(KC_CONFFILES_kcpipe-send "")
set(KC_CONFFILES_kcpipe-office "")
foreach(f IN LISTS kc_confs)
  get_filename_component(n ${f} NAME)
  kc_install_component(c ${n})
  install(FILES ${f} DESTINATION ${KC_INSTALL_CONFDIR} COMPONENT ${c})
  list(APPEND KC_CONFFILES_${c} ${n})
endforeach()

# Man pages (helper man: docs/man/ renders them with scdoc into ${CMAKE_BINARY_DIR}/man/ as part of
# `all`). Whatever pages exist at install time are compressed (gzip -9n, as Debian ships them) and
# installed to share/man/manN, each with its component; nothing happens while none exist.
# kc-office's page goes with kc-office (component kcpipe-office).
foreach(c kcpipe kcpipe-send libkcingest kcpipe-office)
  install(CODE "
    file(GLOB pages \"${CMAKE_BINARY_DIR}/man/*.[1-8]\")
    foreach(p IN LISTS pages)
      get_filename_component(n \"\${p}\" NAME)
      if(n MATCHES \"^(kcpipe-send|send|kc-send|kcpipe-csv)[.]\")
        set(c kcpipe-send)
      elseif(n STREQUAL \"kcpipe.conf.5\")
        set(c libkcingest)
      elseif(n MATCHES \"^kc-office[.]\")
        set(c kcpipe-office)
      else()
        set(c kcpipe)
      endif()
      if(NOT c STREQUAL \"${c}\")
        continue()
      endif()
      string(REGEX REPLACE \"^.*[.]([1-8])$\" \"\\\\1\" sec \"\${n}\")
      file(MAKE_DIRECTORY \"${CMAKE_BINARY_DIR}/man-gz\")
      execute_process(COMMAND gzip -9nc \"\${p}\" OUTPUT_FILE \"${CMAKE_BINARY_DIR}/man-gz/\${n}.gz\"
                      RESULT_VARIABLE rc)
      if(NOT rc EQUAL 0)
        message(FATAL_ERROR \"gzip \${p} failed\")
      endif()
      file(INSTALL \"${CMAKE_BINARY_DIR}/man-gz/\${n}.gz\"
           DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_MANDIR}/man\${sec}\")
    endforeach()
  " COMPONENT ${c})
endforeach()

# Documentation (the team's working notes excepted).
file(GLOB kc_docs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
list(FILTER kc_docs EXCLUDE REGEX "/TEAM-NOTES[.]md$")
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${kc_docs} DESTINATION ${CMAKE_INSTALL_DOCDIR}
        COMPONENT kcpipe)
# the pictures the documents show (docs/OFFICE.md's screenshots)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/img DESTINATION ${CMAKE_INSTALL_DOCDIR}
        COMPONENT kcpipe FILES_MATCHING PATTERN "*.png")
