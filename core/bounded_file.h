#pragma once

#include <cstddef>
#include <string>

#include "core/result.h"

namespace caloria {

// Reads a small file someone outside the process names (an env file, a URL
// file, a web-config file) without trusting it: the file is opened
// non-blocking and must be a regular file (a FIFO would block the poll for
// ever, a device might never end, a directory reads as empty), and at most
// max_bytes + 1 bytes are read, one more than the caller accepts so that it
// can tell "exactly at the bound" from "larger".
// The Error is a fragment for the caller's sentence, without the path:
// "cannot be opened (No such file or directory)", "is not a regular file" or
// "cannot be read (Input/output error)".
Result<std::string> ReadBoundedFile(const std::string& path, std::size_t max_bytes);

}  // namespace caloria
