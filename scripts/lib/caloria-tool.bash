# shellcheck shell=bash disable=SC2034,SC2154  # quiet, log_file, outcome_logged: the sourcing script's
# What scripts/caloria-backup and scripts/caloria-restore-test share: the outcome
# line they log, their option and tool checks, finding caloria_backup_tool (the
# exporter's own code, which the scripts ask where the database is and whether a
# backup is complete) and reading its answers.
#
# Sourced, not run. The sourcing script defines PROG (its name, for messages and
# temp files), fail MESSAGE [STATUS] (logs and exits), usage_error MESSAGE, the
# array temp_files (removed at its exit), and the variables log_file (the --log
# file, or empty), quiet (0 or 1) and outcome_logged (set to 1 here).

readonly TOOL_NAME=caloria_backup_tool

# Writes one outcome line ("SUCCESS ..." or "ERROR ...") to the log file and
# standard error, in the format the exporter parses:
#   2026-11-25T02:00:04+00:00 caloria-backup SUCCESS file=... size=... users=3
# No message holds a password: the scripts never see one.
log_outcome() {
  local message=$1 line
  # One line, whatever a tool printed.
  message=${message//$'\r'/ }
  message=${message//$'\n'/ }
  message=${message//$'\t'/ }
  line="$(date -Iseconds) $PROG $message"
  outcome_logged=1
  if [[ -n $log_file ]]; then
    # A line cut short by an earlier writer (a full disk, a killed run) ends
    # without a newline: start a line of our own, or the exporter reads this
    # outcome with the cut line's time (issue 10, test_faults_backup.py).
    local sep=""
    if [[ -s $log_file && -n $(tail -c 1 -- "$log_file" 2>/dev/null || true) ]]; then
      sep=$'\n'
    fi
    if ! printf '%s%s\n' "$sep" "$line" >>"$log_file" 2>/dev/null; then
      printf '%s: warning: cannot append to the log %s\n' "$PROG" "$log_file" >&2
    fi
  fi
  if [[ $quiet -eq 0 || $message == ERROR* ]]; then
    printf '%s\n' "$line" >&2
  fi
}

warn() {
  printf '%s: warning: %s\n' "$PROG" "$1" >&2
}

need_value() {  # option, remaining argument count
  if [[ $2 -lt 2 ]]; then usage_error "$1 needs a value"; fi
}

require_tool() {  # tool, Debian package
  command -v "$1" >/dev/null 2>&1 || fail "$1 not found: install it (Debian package $2)"
}

new_temp_file() {  # variable name; creates a private temp file, removed at exit
  local path
  path=$(mktemp "${TMPDIR:-/tmp}/$PROG.XXXXXX") || fail "cannot create a temporary file"
  temp_files+=("$path")
  printf -v "$1" '%s' "$path"
}

# The first lines a tool wrote to standard error, on one line.
tool_error() {
  local text
  text=$(head -c 2000 -- "$1" 2>/dev/null | sed -e 's/^pg_dump: error: //' -e 's/^pg_dump: //' \
    -e 's/^pg_restore: error: //' -e 's/^pg_restore: //' -e 's/^psql:[^:]*:[0-9]*: ERROR: *//' \
    -e 's/^psql: error: //' -e "s/^$TOOL_NAME: //" -e 's/^Error: //' | tr -s ' \t\r\n' ' ' |
    cut -c1-400)
  text=${text% }
  printf '%s' "${text:-no message}"
}

# $CALORIA_BACKUP_TOOL, else beside the script (installed together), else
# ../build/ from it (the repository checkout), else on PATH. Sets `tool`.
tool=""
find_backup_tool() {
  local here candidate
  if [[ -n ${CALORIA_BACKUP_TOOL:-} ]]; then
    [[ -f $CALORIA_BACKUP_TOOL && -x $CALORIA_BACKUP_TOOL ]] ||
      fail "CALORIA_BACKUP_TOOL=$CALORIA_BACKUP_TOOL is not an executable file: build $TOOL_NAME (scripts/build) or correct CALORIA_BACKUP_TOOL"
    tool=$CALORIA_BACKUP_TOOL
    return
  fi
  here=$(dirname -- "${BASH_SOURCE[1]}")
  # Beside the script, its build in a checkout, or where cmake --install puts it.
  for candidate in "$here/$TOOL_NAME" "$here/../build/$TOOL_NAME" "$here/../lib/caloria/$TOOL_NAME"; do
    if [[ -f $candidate && -x $candidate ]]; then
      tool=$candidate
      return
    fi
  done
  tool=$(command -v "$TOOL_NAME" 2>/dev/null) ||
    fail "$TOOL_NAME not found beside $PROG, in ../build/, ../lib/caloria/ or on PATH: build it (scripts/build) or set CALORIA_BACKUP_TOOL"
}

tool_out="" tool_err="" tool_status=0

# Runs the tool; its output goes to $tool_out, its complaint to $tool_err,
# its exit status to $tool_status. Call new_temp_file for both files first.
run_tool() {
  tool_status=0
  "$tool" "$@" >"$tool_out" 2>"$tool_err" 9<&- || tool_status=$?
}

# The tool's one-line complaint, whole, without its name.
tool_complaint() {
  local text=""
  IFS= read -r text <"$tool_err" || true
  text=${text#"$TOOL_NAME: "}
  printf '%s' "${text:-$TOOL_NAME exited $tool_status without a message}"
}

# Reads the tool's key=value records (each ended by a NUL byte) from FILE into
# the associative array NAME; a repeated key's values are joined by newlines.
read_records() {  # file, array name
  local -n into=$2
  local record key
  into=()
  while IFS= read -r -d '' record; do
    key=${record%%=*}
    if [[ -n ${into["$key"]+set} ]]; then
      into["$key"]+=$'\n'"${record#*=}"
    else
      into["$key"]=${record#*=}
    fi
  done <"$1"
}
