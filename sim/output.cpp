#include "output.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>

namespace tcpsim {

void write_output(const std::string& path, const std::string& text) { write_outputs({{path, text}}); }

void write_outputs(const std::vector<std::pair<std::string, std::string>>& files) {
    // 1. every file to a temporary beside it; on a failure, the temporaries written so far go.
    std::vector<std::string> tmps(files.size());
    auto remove_tmps = [&] {
        for (const std::string& t : tmps)
            if (!t.empty()) std::remove(t.c_str());
    };
    for (std::size_t i = 0; i < files.size(); ++i) {
        const auto& [path, text] = files[i];
        if (path.empty() || path == "-") continue;
        const std::string tmp = fmt::format("{}.tmp.{}.{}", path, static_cast<long>(::getpid()), i);
        std::FILE* f = std::fopen(tmp.c_str(), "wb");
        if (!f) {
            const int err = errno;
            remove_tmps();
            throw OutputError(fmt::format("{}: cannot write: {}", path, std::strerror(err)));
        }
        tmps[i] = tmp;
        const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
        if (std::fclose(f) != 0 || !ok) {
            const int err = errno;
            remove_tmps();
            throw OutputError(fmt::format("{}: cannot write: {}", path, std::strerror(err)));
        }
    }
    // 2. each temporary onto its file (a rename within one directory does not fail for want of
    // space); then standard output, which cannot be taken back, last.
    for (std::size_t i = 0; i < files.size(); ++i) {
        if (tmps[i].empty()) continue;
        if (std::rename(tmps[i].c_str(), files[i].first.c_str()) != 0) {
            const int err = errno;
            remove_tmps();
            throw OutputError(fmt::format("{}: cannot write: {}", files[i].first, std::strerror(err)));
        }
        tmps[i].clear();
    }
    for (const auto& [path, text] : files) {
        if (!path.empty() && path != "-") continue;
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
    }
}

}  // namespace tcpsim
