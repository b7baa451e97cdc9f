# The Debian package caloria-exporter_<version>_<arch>.deb, made by CPack's DEB
# generator from this build, with no second compile:
#   cpack --config build/CPackConfig.cmake -B OUTDIR    (tests/package/run does)
# docs/operations.md says why CPack and not dpkg-buildpackage, where each file goes,
# what the maintainer scripts do and which lintian tags remain.
#
# The package holds what `cmake --install` installs (CMakeLists.txt), under /usr,
# stripped, plus what only a system package has. packaging/debian/stage.cmake adds
# those to CPack's staging folder (CPACK_PRE_BUILD_SCRIPTS), so that `cmake --install
# --prefix DIR` still never writes to /etc or /lib: the systemd units (/lib/systemd/
# system), the /etc/default files (conffiles), the copyright file and the changelog,
# man pages for the two scripts, and every man page gzipped.

set(CALORIA_PACKAGE_MAINTAINER
  "Seed cc4c0027 maintainers <maintainers@users.noreply.b-seed-cc4c0027.example>"
  CACHE STRING "The Maintainer field of the Debian package (cmake/packaging.cmake)")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME caloria-exporter)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "caloria_exporter")
set(CPACK_PACKAGE_CONTACT "${CALORIA_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CALORIA_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Prometheus exporter for the health of the Caloria app's database")
# CPack writes each line with the leading space the control file needs, and a lone
# "." for the empty line.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "caloria_exporter watches a Flask + SQLAlchemy app's database: which type
the app is configured for and really uses (PostgreSQL, or a silent fallback
to SQLite), whether it answers and how fast, its users, PostgreSQL's own
health, and the age, size and integrity of the latest backup. It serves
Prometheus metrics on /metrics and JSON health pages on /health.

The package also holds caloria-backup and caloria-restore-test, the backup
and restore-test scripts the exporter watches, with their systemd timers
(not enabled), alert rules and a Grafana dashboard.")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # caloria-exporter_0.1.0_amd64.deb
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)

# Depends: the shared libraries' packages, found by dpkg-shlibdeps in the built
# binaries (needs `file`), then what the maintainer scripts and the unit run that is
# not Essential: adduser (postinst), procps (/bin/kill, the unit's ExecReload). The
# scripts' gzip, flock, getent, timeout and bash are Essential, and awk as good as
# (lintian's needlessly-depends-on-awk).
# pg_dump/psql/pg_restore and sqlite3 are Recommends: the scripts need one of them,
# depending on the app's database, and say which package to install when missing;
# the exporter needs neither. deb-systemd-helper and deb-systemd-invoke (maintainer
# scripts): the Pre-Depends dh_installsystemd adds on Debian 12.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, procps")
set(CPACK_DEBIAN_PACKAGE_PREDEPENDS "init-system-helpers (>= 1.54~)")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "postgresql-client, sqlite3")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "prometheus, prometheus-alertmanager")

# The maintainer scripts (packaging/debian/), with the modes dpkg expects (0755
# scripts, 0644 conffiles) whatever the checkout's.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/packaging/debian/postinst
  ${CMAKE_SOURCE_DIR}/packaging/debian/prerm
  ${CMAKE_SOURCE_DIR}/packaging/debian/postrm
  ${CMAKE_SOURCE_DIR}/packaging/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# The files: under /usr, the programs stripped (the build is RelWithDebInfo), every
# folder 0755 whatever the umask.
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
  OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(CPACK_PRE_BUILD_SCRIPTS ${CMAKE_SOURCE_DIR}/packaging/debian/stage.cmake)
# What stage.cmake reads (every CPACK_* variable reaches CPackConfig.cmake).
set(CPACK_CALORIA_SOURCE_DIR ${CMAKE_SOURCE_DIR})
set(CPACK_CALORIA_REVISION ${CALORIA_BUILD_REVISION})

include(CPack)
