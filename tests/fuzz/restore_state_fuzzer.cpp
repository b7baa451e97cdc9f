// The restore-test state file's parser (collectors/restore/restore_state):
// the JSON scripts/caloria-restore-test leaves for the exporter, which anyone
// who can write its folder can replace.

#include <cstddef>
#include <cstdint>
#include <string>

#include "collectors/restore/restore_state.h"
#include "tests/fuzz/fuzz_check.h"

using caloria::fuzz::Require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text = caloria::fuzz::Text(data, size);
  const caloria::Result<caloria::RestoreState> state = caloria::ParseRestoreState(text);
  if (!state) {
    Require(state.error().find('\n') == std::string::npos, "an error of more than one line");
    Require(caloria::ParseRestoreState(text).error() == state.error(),
            "the same text refused twice with different errors");
    return 0;
  }
  // What is accepted, written back, reads back to the same state.
  const std::string written = caloria::RestoreStateJson(*state);
  const caloria::Result<caloria::RestoreState> again = caloria::ParseRestoreState(written);
  Require(again.ok(), "a state written by RestoreStateJson does not parse back");
  Require(caloria::RestoreStateJson(*again) == written, "writing the state is not stable");
  Require(state->last_run.error.find('\n') == std::string::npos, "an error of more than one line");
  Require(!state->last_success || state->last_success->success, "a last success that failed");
  return 0;
}
