#include "cli/output.hpp"

#include "scenario/overrides.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace tcpsim {
namespace {

[[noreturn]] void fail(const std::string& path, std::string_view why) {
    throw OutputError(fmt::format("{}: cannot write: {}", path, why));
}
[[noreturn]] void fail(const std::string& path, int err) { fail(path, std::strerror(err)); }

bool is_stdout(const std::string& path) { return path.empty() || path == "-"; }

std::string folder_of(const std::string& p) {
    const std::size_t slash = p.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : p.substr(0, slash);
}

// The path a dangling symlink finally names, its chain followed by hand (stat(2) cannot: there
// is nothing at its end). `path` is named in errors.
std::string dangling_target(const std::string& path) {
    std::string cur = path;
    for (int hop = 0; hop <= 40; ++hop) {  // the kernel's limit (MAXSYMLINKS)
        struct stat st {};
        if (::lstat(cur.c_str(), &st) != 0) {
            if (errno == ENOENT) return cur;
            fail(path, errno);
        }
        if (!S_ISLNK(st.st_mode)) return cur;
        std::error_code ec;
        const std::string link = std::filesystem::read_symlink(cur, ec).string();
        if (ec) fail(path, ec.value());
        cur = !link.empty() && link[0] == '/' ? link : folder_of(cur) + "/" + link;
    }
    fail(path, ELOOP);
}

enum class Kind { Stdout, Replace, Through, Socket };

struct Target {
    Kind kind = Kind::Stdout;
    std::string file;         // Replace: the file renamed over; Through, Socket: the path opened
    bool keep_mode = false;   // Replace: a file is there, whose permission bits the new one keeps
    mode_t mode = 0;
};

Target classify(const std::string& path) {
    if (is_stdout(path)) return {};
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) fail(path, EISDIR);
        if (S_ISSOCK(st.st_mode)) return {Kind::Socket, path};
        if (!S_ISREG(st.st_mode)) return {Kind::Through, path};  // a character or block device, a FIFO
        struct stat lst {};
        if (::lstat(path.c_str(), &lst) != 0) fail(path, errno);
        std::string file = path;
        if (S_ISLNK(lst.st_mode)) {  // the regular file at the end of the chain is replaced
            char* real = ::realpath(path.c_str(), nullptr);
            if (!real) fail(path, errno);
            file = real;
            std::free(real);
        }
        return {Kind::Replace, file, true, st.st_mode & 07777};
    }
    if (errno != ENOENT) fail(path, errno);
    return {Kind::Replace, dangling_target(path)};  // nothing there yet (or a dangling link)
}

// Writes all of text to fd, through EINTR and short writes; an errno, or 0.
int write_all(int fd, std::string_view text, bool socket) {
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = socket ? ::send(fd, text.data() + done, text.size() - done, MSG_NOSIGNAL)
                                 : ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        if (n == 0) return EIO;
        done += static_cast<std::size_t>(n);
    }
    return 0;
}

int connect_unix(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) fail(path, ENAMETOOLONG);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail(path, errno);
    int rc = 0;
    do rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        const int err = errno;
        ::close(fd);
        fail(path, err);
    }
    return fd;
}

// A device or FIFO opened as it is: no O_CREAT (it must be there), no O_TRUNC.
int open_through(const std::string& path) {
    int fd = -1;
    do fd = ::open(path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) fail(path, errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
        ::close(fd);  // it changed since it was looked at: written through, it would be clobbered
        fail(path, "it changed into a regular file or folder while being opened");
    }
    return fd;
}

// The outputs of one write_outputs on their way: what is left of them goes if it throws.
struct Pending {
    std::vector<std::string> tmps;
    std::vector<int> fds;
    explicit Pending(std::size_t n) : tmps(n), fds(n, -1) {}
    Pending(const Pending&) = delete;
    Pending& operator=(const Pending&) = delete;
    ~Pending() {
        for (const std::string& t : tmps)
            if (!t.empty()) std::remove(t.c_str());
        for (const int fd : fds)
            if (fd >= 0) ::close(fd);
    }
};

void write_temporary(const std::string& path, const Target& t, const std::string& text, std::string& tmp,
                     std::size_t i) {
    const std::string name = fmt::format("{}.tmp.{}.{}", t.file, static_cast<long>(::getpid()), i);
    const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) fail(path, errno);
    tmp = name;
    int err = t.keep_mode && ::fchmod(fd, t.mode) != 0 ? errno : 0;
    if (err == 0) err = write_all(fd, text, false);
    if (::close(fd) != 0 && err == 0) err = errno;
    if (err != 0) fail(path, err);
}

}  // namespace

void write_output(const std::string& path, const std::string& text) { write_outputs({{path, text}}); }

void write_outputs(const std::vector<std::pair<std::string, std::string>>& files) {
    // 1. every path looked at; every regular file to a temporary beside the file it replaces;
    // every device, FIFO and socket opened. A failure removes what was made so far.
    std::vector<Target> targets;
    for (const auto& [path, text] : files) targets.push_back(classify(path));
    Pending p(files.size());
    for (std::size_t i = 0; i < files.size(); ++i)
        if (targets[i].kind == Kind::Replace) write_temporary(files[i].first, targets[i], files[i].second, p.tmps[i], i);
    for (std::size_t i = 0; i < files.size(); ++i) {
        if (targets[i].kind == Kind::Through) p.fds[i] = open_through(targets[i].file);
        if (targets[i].kind == Kind::Socket) p.fds[i] = connect_unix(targets[i].file);
    }
    // 2. each temporary onto its file (a rename within one folder does not fail for want of space).
    for (std::size_t i = 0; i < files.size(); ++i) {
        if (p.tmps[i].empty()) continue;
        if (std::rename(p.tmps[i].c_str(), targets[i].file.c_str()) != 0) fail(files[i].first, errno);
        p.tmps[i].clear();
    }
    // 3. what cannot be taken back: devices, FIFOs and sockets, then standard output.
    for (std::size_t i = 0; i < files.size(); ++i) {
        if (p.fds[i] < 0) continue;
        int err = write_all(p.fds[i], files[i].second, targets[i].kind == Kind::Socket);
        if (::close(p.fds[i]) != 0 && err == 0 && errno != EINTR) err = errno;
        p.fds[i] = -1;
        if (err != 0) fail(files[i].first, err);
    }
    for (const auto& [path, text] : files) {
        if (!is_stdout(path)) continue;
        if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0)
            fail("standard output", errno);
    }
}

namespace {

// What names one file: "stdout", "inode DEV:INO" for a file that exists, else "path ABSOLUTE";
// empty for the null device, which any number of outputs may name.
std::string identity(const std::string& path) {
    if (is_stdout(path)) return "stdout";
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
        struct stat null {};
        if (S_ISCHR(st.st_mode) && ::stat("/dev/null", &null) == 0 && S_ISCHR(null.st_mode) && st.st_rdev == null.st_rdev)
            return "";
        return fmt::format("inode {}:{}", st.st_dev, st.st_ino);
    }
    std::string where = path;
    try {
        where = dangling_target(path);
    } catch (const OutputError&) {
        // The write will say what is wrong with it; here it is compared as spelled.
    }
    std::error_code ec;
    std::filesystem::path p = std::filesystem::absolute(where, ec);
    if (ec) p = where;
    const std::filesystem::path canon = std::filesystem::weakly_canonical(p, ec);
    return "path " + (ec ? p.lexically_normal() : canon).string();
}

std::string clash(const std::string& opt1, const std::string& path1, const std::string& opt2, const std::string& path2) {
    if (path1.empty() || path2.empty())
        return fmt::format("{} names standard output, where {} writes when not given (see --help)",
                           path1.empty() ? opt2 : opt1, path1.empty() ? opt1 : opt2);
    if (path1 == "-" && path2 == "-") return fmt::format("{} and {} both name - (standard output) (see --help)", opt1, opt2);
    if (path1 == path2) return fmt::format("{} and {} both name {} (see --help)", opt1, opt2, path1);
    return fmt::format("{} {} and {} {} both name the same file (see --help)", opt1, path1, opt2, path2);
}

}  // namespace

void check_distinct_outputs(const std::vector<std::pair<std::string, std::string>>& named) {
    std::vector<std::string> keys;
    for (std::size_t i = 0; i < named.size(); ++i) {
        keys.push_back(identity(named[i].second));
        if (keys[i].empty()) continue;
        for (std::size_t j = 0; j < i; ++j)
            if (keys[j] == keys[i])
                throw UsageError(clash(named[j].first, named[j].second, named[i].first, named[i].second));
    }
}

}  // namespace tcpsim
