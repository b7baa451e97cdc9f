// The backup file name parser (collectors/backup/backup_file_name): the
// timestamp in a name from a folder anyone with write access can fill.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

#include "collectors/backup/backup_file_name.h"
#include "tests/fuzz/fuzz_check.h"

using caloria::fuzz::Require;

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // Names are read in local time: fix the zone, so a run replays.
  setenv("TZ", "UTC0", 1);
  tzset();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string name = caloria::fuzz::Text(data, size);
  const std::optional<std::time_t> time = caloria::TimestampFromFileName(name);
  Require(caloria::TimestampFromFileName(name) == time,
          "the same name read twice gave different times");
  // Years 1970 to 9999, in UTC.
  constexpr std::time_t kYear10000 = 253402300800;
  Require(!time || (*time >= 0 && *time < kYear10000), "a time outside the years 1970 to 9999");
  // A timestamp is delimited by non-digits or the ends of the name, so
  // non-digits around the name change nothing.
  Require(caloria::TimestampFromFileName("x_" + name + "_x") == time,
          "non-digits around the name changed its time");
  return 0;
}
