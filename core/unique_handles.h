#pragma once

#include <dirent.h>

#include <cstdio>
#include <memory>

namespace caloria {

// Owners for the C handles the collectors open, so every path out of a
// function closes them.
struct DirCloser {
  void operator()(DIR* dir) const { closedir(dir); }
};
using UniqueDir = std::unique_ptr<DIR, DirCloser>;

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using UniqueFile = std::unique_ptr<std::FILE, FileCloser>;

}  // namespace caloria
