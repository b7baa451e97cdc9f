# Run by CPack (CPACK_PRE_BUILD_SCRIPTS, cmake/packaging.cmake) once it has installed
# the build into its staging folder, before it makes the .deb: adds what only the
# system package holds, so that `cmake --install --prefix DIR` never writes outside
# DIR. The file list is docs/operations.md's table.
#   /lib/systemd/system/          the exporter's unit; the backup and restore-test
#                                 services and timers (deploy/systemd/)
#   /etc/default/                 caloria-exporter, caloria-backup (conffiles)
#   /usr/share/doc/caloria-exporter/copyright, changelog.gz
#   /usr/share/man/man1/          caloria-backup.1, caloria-restore-test.1 (from their
#                                 --help), and every page gzipped (gzip -9n)
# Reads CPACK_TEMPORARY_INSTALL_DIRECTORY (the staging root), CPACK_CALORIA_SOURCE_DIR,
# CPACK_PACKAGE_VERSION, CPACK_CALORIA_REVISION, CPACK_DEBIAN_PACKAGE_MAINTAINER.
cmake_minimum_required(VERSION 3.19)  # file(CHMOD)

set(root "${CPACK_TEMPORARY_INSTALL_DIRECTORY}")
set(src "${CPACK_CALORIA_SOURCE_DIR}")
set(version "${CPACK_PACKAGE_VERSION}")
if(NOT IS_DIRECTORY "${root}/usr/bin" OR NOT IS_DIRECTORY "${src}")
  message(FATAL_ERROR "stage.cmake: no staged /usr/bin in '${root}' or no source in '${src}'")
endif()
set(doc "${root}/usr/share/doc/caloria-exporter")
set(man1 "${root}/usr/share/man/man1")
set(data_mode OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
set(dir_mode OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ
  WORLD_EXECUTE)

# A file written here: 0644, in folders 0755 whatever the umask.
function(stage_text path text)
  get_filename_component(dir "${path}" DIRECTORY)
  file(MAKE_DIRECTORY "${dir}")
  file(WRITE "${path}" "${text}")
  file(CHMOD "${path}" PERMISSIONS ${data_mode})
endfunction()
function(stage_file from to)
  file(READ "${from}" text)
  stage_text("${to}" "${text}")
endfunction()
function(gzip_file path)  # gzip -9n: no name, no time stamp; the .gz replaces the file
  execute_process(COMMAND gzip -9nf "${path}" RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "stage.cmake: gzip -9n ${path} failed: ${status}")
  endif()
  file(CHMOD "${path}.gz" PERMISSIONS ${data_mode})
endfunction()

# ---- the programs ------------------------------------------------------------------
# CPack has stripped them (CPACK_STRIP_FILES); drop the compiler's .comment and the
# .note section too, as dh_strip does (the build id, .note.gnu.build-id, stays).
foreach(program "${root}/usr/bin/caloria_exporter" "${root}/usr/lib/caloria/caloria_backup_tool")
  execute_process(COMMAND strip --remove-section=.comment --remove-section=.note "${program}"
    RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "stage.cmake: strip ${program} failed: ${status}")
  endif()
endforeach()

# ---- systemd units ----------------------------------------------------------------
set(units "${root}/lib/systemd/system")
foreach(unit caloria-exporter.service caloria-backup.service caloria-backup.timer
    caloria-restore-test.timer)
  stage_file("${src}/deploy/systemd/${unit}" "${units}/${unit}")
endforeach()
# deploy/systemd/caloria-restore-test.service is written for a copy of the script in
# /usr/local/bin (docs/restore.md's steps from a checkout); the package's is in
# /usr/bin, and its docs in docs/ of the package's doc folder.
file(READ "${src}/deploy/systemd/caloria-restore-test.service" text)
string(REPLACE "/usr/local/bin/caloria-restore-test" "/usr/bin/caloria-restore-test" text "${text}")
string(REPLACE "file:/usr/share/doc/caloria-exporter/restore.md"
  "file:/usr/share/doc/caloria-exporter/docs/restore.md" text "${text}")
if(text MATCHES "/usr/local/")
  message(FATAL_ERROR "stage.cmake: caloria-restore-test.service still names /usr/local/")
endif()
stage_text("${units}/caloria-restore-test.service" "${text}")

# ---- /etc/default (conffiles; postinst sets their owner and mode) -----------------
stage_file("${src}/deploy/default/caloria-exporter" "${root}/etc/default/caloria-exporter")
stage_file("${src}/deploy/systemd/caloria-backup.default" "${root}/etc/default/caloria-backup")

# ---- copyright, changelog, lintian overrides ---------------------------------------
stage_file("${src}/packaging/debian/copyright" "${doc}/copyright")
# A native package's changelog, in Debian's format: one entry for this version. Its
# date is now, or $SOURCE_DATE_EPOCH for a reproducible build.
string(TIMESTAMP date "%a, %d %b %Y %H:%M:%S +0000" UTC)
stage_text("${doc}/changelog"
"caloria-exporter (${version}) unstable; urgency=medium

  * caloria_exporter ${version}, revision ${CPACK_CALORIA_REVISION}, packaged by
    CPack from the project's own build (cmake/packaging.cmake). The changes
    are the project's git history.

 -- ${CPACK_DEBIAN_PACKAGE_MAINTAINER}  ${date}
")
gzip_file("${doc}/changelog")
if(EXISTS "${src}/packaging/debian/lintian-overrides")
  stage_file("${src}/packaging/debian/lintian-overrides"
    "${root}/usr/share/lintian/overrides/caloria-exporter")
endif()

# ---- man pages ---------------------------------------------------------------------
# The scripts' --help as a man page: NAME and SYNOPSIS for man and whatis, then the
# help text as it prints, with roff's special characters escaped.
function(script_man_page script summary)
  execute_process(COMMAND bash "${src}/scripts/${script}" --help
    OUTPUT_VARIABLE help RESULT_VARIABLE status)
  if(NOT status EQUAL 0 OR help STREQUAL "")
    message(FATAL_ERROR "stage.cmake: ${script} --help failed: ${status}")
  endif()
  string(REPLACE "\\" "\\e" help "${help}")
  string(REPLACE "-" "\\-" help "${help}")
  string(REPLACE "'" "\\(aq" help "${help}")
  string(REPLACE "`" "\\(ga" help "${help}")
  string(REGEX REPLACE "(^|\n)([.])" "\\1\\\\&\\2" help "${help}")
  string(REPLACE "-" "\\-" name "${script}")
  stage_text("${man1}/${script}.1"
".\\\" Made from ${script} --help by packaging/debian/stage.cmake; do not edit.
.TH ${script} 1 \"\" \"caloria-exporter ${version}\" \"User Commands\"
.SH NAME
${name} \\- ${summary}
.SH SYNOPSIS
.B ${name}
[\\fIOPTIONS\\fR]
.SH DESCRIPTION
.nf
${help}.fi
.SH SEE ALSO
.BR caloria_exporter (1);
/usr/share/doc/caloria\\-exporter/docs/backup.md and restore.md
")
endfunction()
script_man_page(caloria-backup "back up the Caloria app's database for caloria_exporter")
script_man_page(caloria-restore-test "prove that the latest Caloria backup restores")
file(GLOB pages "${man1}/*.1")
foreach(page IN LISTS pages)
  gzip_file("${page}")
endforeach()

# Every folder added here 0755 (file(MAKE_DIRECTORY) follows the umask).
foreach(dir "${root}/lib" "${root}/lib/systemd" "${units}" "${root}/etc" "${root}/etc/default"
    "${root}/usr/share/lintian" "${root}/usr/share/lintian/overrides")
  if(IS_DIRECTORY "${dir}")
    file(CHMOD "${dir}" PERMISSIONS ${dir_mode})
  endif()
endforeach()
