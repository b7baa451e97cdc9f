#pragma once

#include <cstdlib>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/logger.h"

namespace caloria {

// Runs `body`; returns what any exception it threw said, else nullopt. For
// threads that report a failure without a logger of their own. The
// fallback texts are short enough for std::string's inline buffer, so they
// need no memory even when memory ran out.
template <typename Body>
std::optional<std::string> CatchAll(Body&& body) noexcept {
  try {
    std::forward<Body>(body)();
    return std::nullopt;
  } catch (const std::exception& error) {
    try {
      return std::string(error.what());
    } catch (...) {
      return std::string("out of memory");
    }
  } catch (...) {
    return std::string("unknown error");
  }
}

// The top of every thread the exporter starts, and of every unit of work a
// long-lived thread repeats (a poll, a verification, a request): runs `body`
// and turns an exception, which only a bug or exhausted memory throws (errors
// from outside are Result values), into one logged error line and a false
// return. The caller reports the failure its own way (a failed verification,
// a 500 answer, stale pages that answer 503); the process never terminates.
template <typename Body>
bool RunGuarded(Logger& logger, const std::string& what, Body&& body) noexcept {
  const std::optional<std::string> error = CatchAll(std::forward<Body>(body));
  if (!error) return true;
  // Logging needs memory too; if even that fails there is nothing left to do.
  CatchAll([&] { logger.Error("internal error, carrying on", {{"in", what}, {"err", *error}}); });
  return false;
}

// The main thread's guard, for a program's main(): runs `program_main` on the
// arguments after the program's name and returns its exit status; a bug
// reaching here is reported in one line ("PROGRAM: internal error: ...") and
// exits EXIT_FAILURE, rather than by std::terminate's abort.
template <typename ProgramMain>
int GuardedMain(const char* program, int argc, char** argv, ProgramMain&& program_main) noexcept {
  int status = EXIT_FAILURE;
  if (auto error = CatchAll([&] {
        status = std::forward<ProgramMain>(program_main)(
            std::vector<std::string>(argv + 1, argv + argc));
      })) {
    CatchAll([&] { std::cerr << program << ": internal error: " << *error << "\n"; });
    return EXIT_FAILURE;
  }
  return status;
}

}  // namespace caloria
