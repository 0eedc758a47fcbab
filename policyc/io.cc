// Whole-file reads and atomic writes for policyc. Reads are binary-exact
// (bundles are bytes); a directory or unreadable file is an error, not an
// empty input.
#include "policyc/io.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace gavel::policyc {

namespace {

bool ReadStream(std::FILE* f, std::string* out) {
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out->append(buf, n);
  return !std::ferror(f);
}

}  // namespace

std::string DisplayName(const std::string& path) { return path == "-" ? "<stdin>" : path; }

bool ReadInput(const std::string& path, std::string* out, std::string* err) {
  out->clear();
  if (path == "-") {
    if (!ReadStream(stdin, out)) {
      *err = "<stdin>: read error: " + std::string(std::strerror(errno));
      return false;
    }
    return true;
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    *err = path + ": " + std::strerror(errno);
    return false;
  }
  // fopen succeeds on a directory and fread then fails with EISDIR; say so plainly.
  if (S_ISDIR(st.st_mode)) {
    *err = path + ": is a directory";
    return false;
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    *err = path + ": " + std::strerror(errno);
    return false;
  }
  const bool ok = ReadStream(f, out);
  const int saved = errno;
  std::fclose(f);
  if (!ok) {
    *err = path + ": read error: " + std::strerror(saved);
    return false;
  }
  return true;
}

bool WriteFileReplacing(const std::string& path, const std::string& data, std::string* err) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    *err = path + ": cannot write: " + std::strerror(errno);
    return false;
  }
  const bool wrote = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  const int saved = errno;
  if (std::fclose(f) != 0 || !wrote) {
    *err = path + ": write error: " + std::strerror(wrote ? errno : saved);
    std::remove(tmp.c_str());
    return false;
  }
  // Keep the permissions of a file we replace (fmt -w on a policy).
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) ::chmod(tmp.c_str(), st.st_mode & 07777);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    *err = path + ": cannot replace: " + std::strerror(errno);
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace gavel::policyc
