#include "nic-emu/bar_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>

#include "control_plane/bar_size.h"
#include "wave_abi.h"

namespace wave::nic::emu {

BarFile& BarFile::operator=(BarFile&& other) noexcept {
  if (this != &other) {
    Release();
    path_ = std::move(other.path_);
    fd_ = std::move(other.fd_);
    map_ = std::move(other.map_);
    created_ = std::exchange(other.created_, false);
  }
  return *this;
}

BarFile::~BarFile() {
  Release();
}

void BarFile::Release() {
  map_.Reset();
  fd_.reset();
  if (created_ && !path_.empty()) {
    unlink(path_.c_str());
  }
  created_ = false;
}

Status BarFile::Open(const std::string& path, uint64_t size, bool may_reuse, BarFile* out) {
  if (!ValidBarSize(size)) {
    return Status::Error("BAR size must be a power of two from 16 KiB to 16 GiB");
  }
  bool created = true;
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd && errno == EEXIST && may_reuse) {
    created = false;
    fd.reset(open(path.c_str(), O_RDWR | O_CLOEXEC));
  }
  if (!fd) {
    return Status::Errno(path, errno);
  }
  // From here on a file we created is removed again if anything fails.
  BarFile file;
  file.path_ = path;
  file.created_ = created;

  struct stat st {};
  if (fstat(fd.get(), &st) < 0) {
    return Status::Errno("fstat " + path, errno);
  }
  if (!S_ISREG(st.st_mode)) {
    file.created_ = false;
    return Status::Error(path + ": not a regular file");
  }
  uint64_t have = static_cast<uint64_t>(st.st_size);
  if (have == 0) {
    if (ftruncate(fd.get(), static_cast<off_t>(size)) < 0) {
      return Status::Errno("ftruncate " + path, errno);
    }
  } else if (have != size) {
    // Shrinking or growing a file QEMU may already map would fault the guest: refuse.
    return Status::Error(path + ": has " + std::to_string(have) + " bytes, BAR size is " +
                         std::to_string(size));
  }
  Status st_map = MappedRegion::Map(fd.get(), size, 0, &file.map_);
  if (!st_map.ok()) {
    return st_map;
  }
  file.fd_ = std::move(fd);
  *out = std::move(file);
  return Status::Ok();
}

}  // namespace wave::nic::emu
