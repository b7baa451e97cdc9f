#pragma once

#include <dirent.h>
#include <unistd.h>

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

// An owned file descriptor, closed on destruction; a negative one owns
// nothing (a failed open, whose errno is still to be read).
class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace caloria
