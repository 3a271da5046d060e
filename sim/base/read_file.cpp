#include "base/read_file.hpp"

#include "base/input_error.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tcpsim {

std::string read_text_file(const std::string& path) {
    auto fail = [&](int err) -> std::string {
        throw ScenarioError(fmt::format("{}: cannot read: {}", path, std::strerror(err)));
    };
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(errno);
    struct FdGuard {
        int held;
        ~FdGuard() { ::close(held); }
    } guard{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) return fail(errno);
    if (S_ISDIR(st.st_mode)) throw ScenarioError(fmt::format("{}: is a directory, not a file", path));
    std::string text;
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail(errno);
        }
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    return text;
}

}  // namespace tcpsim
