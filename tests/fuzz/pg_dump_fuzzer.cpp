// The pg_dump parser (collectors/backup/pg_dump_parser), fed whole, in
// random chunks and a byte at a time: the result must not depend on how
// the decompressor's output is cut. Half the inputs use a line head of 16 to
// 79 bytes instead of 64 KiB, so that short inputs reach the code for lines
// longer than the head.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "collectors/backup/pg_dump_parser.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using caloria::fuzz::Require;

struct Outcome {
  bool looks_like_pg_dump = false;
  bool complete = false;
  std::optional<std::int64_t> users;
  bool operator==(const Outcome& other) const = default;
};

Outcome Finish(caloria::PgDumpParser& parser) {
  parser.Finish();
  return {parser.LooksLikePgDump(), parser.Complete(), parser.UserRows()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text = caloria::fuzz::Text(data, size);
  const std::uint64_t hash = caloria::fuzz::Hash(text);
  const std::size_t head =
      (hash & 1U) != 0 ? caloria::kPgDumpLineHeadBytes : 16 + ((hash >> 1U) % 64);

  caloria::PgDumpParser whole("users", head);
  whole.Feed(text);
  const Outcome expected = Finish(whole);

  caloria::PgDumpParser chunked("users", head);
  caloria::fuzz::Random random(hash);
  const std::size_t largest = 1 + random.Next() % 64;
  for (std::string_view rest = text; !rest.empty();) {
    const std::size_t chunk = std::min<std::size_t>(rest.size(), 1 + random.Next() % largest);
    chunked.Feed(rest.substr(0, chunk));
    if (random.Next() % 8 == 0) chunked.Feed("");
    rest.remove_prefix(chunk);
  }
  Require(Finish(chunked) == expected, "random chunks gave another result than the whole text");

  caloria::PgDumpParser bytes("users", head);
  for (const char c : text) bytes.Feed(std::string_view(&c, 1));
  Require(Finish(bytes) == expected, "one byte at a time gave another result than the whole text");

  // Every counted row is a line of its own.
  const auto lines = std::count(text.begin(), text.end(), '\n') + 1;
  Require(!expected.users || (*expected.users >= 0 && *expected.users <= lines),
          "more users rows than lines");
  Require(!expected.complete || expected.looks_like_pg_dump,
          "complete without the header, which the marker line starts with");
  return 0;
}
