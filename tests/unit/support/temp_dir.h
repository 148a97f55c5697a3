// A scratch directory, removed with everything in it when the object goes.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace instar::testing {

enum class TempBase {
    disk,    // $TMPDIR, else /tmp
    memory,  // /dev/shm when writable: qemu-img syncs after each metadata
             // update, which costs seconds per image on a disk
};

class TempDir {
public:
    explicit TempDir(const std::string& prefix = "instar-test", TempBase where = TempBase::disk) {
        std::string base;
        if (where == TempBase::memory && access("/dev/shm", W_OK) == 0) {
            base = "/dev/shm";
        } else {
            const char* env = getenv("TMPDIR");
            base = env && *env ? env : "/tmp";
        }
        std::string tmpl = base + "/" + prefix + "-XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        if (mkdtemp(buf.data()) != nullptr) path_ = buf.data();
    }
    ~TempDir() {
        std::error_code ec;
        if (!path_.empty()) std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    bool ok() const { return !path_.empty(); }
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

    // Deletes what a run left, keeping the named files (backing images).
    void clean_except(const std::vector<std::string>& keep) const {
        for (const auto& e : std::filesystem::directory_iterator(path_)) {
            std::string name = e.path().filename().string();
            bool kept = false;
            for (const auto& k : keep) kept = kept || k == name;
            if (!kept && name != "out" && name != "err") std::filesystem::remove_all(e.path());
        }
    }

private:
    std::string path_;
};

}  // namespace instar::testing
