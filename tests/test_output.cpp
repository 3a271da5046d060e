// Output paths (DESIGN.md §7, sim/cli/output.hpp): a regular file is replaced atomically; a device, a
// FIFO or a socket is written straight through and stays what it was; a symlink stays a link and
// its target is replaced; a directory is refused; two outputs naming one file are a usage error.
// Everything happens in a fresh temporary folder (never the real /dev/null).

#include "cli/output.hpp"
#include "scenario/overrides.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

namespace fs = std::filesystem;
using tcpsim::OutputError;
using tcpsim::UsageError;
using tcpsim::check_distinct_outputs;
using tcpsim::write_outputs;

namespace {

struct TempDir {
    fs::path dir;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "tcpsim-output-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        dir = tmpl;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    [[nodiscard]] std::string operator/(const std::string& name) const { return (dir / name).string(); }
};

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void spit(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// The names in a folder that look like our temporaries.
std::vector<std::string> temporaries(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().find(".tmp.") != std::string::npos) out.push_back(e.path().string());
    return out;
}

struct stat lstat_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    return st;
}

// Text big enough to need several writes to a pipe (its buffer is 64 KiB).
std::string big_text() {
    std::string s;
    for (int i = 0; s.size() < 300000; ++i) s += "line " + std::to_string(i) + " of the report\n";
    return s;
}

// Reads fd (non-blocking) until a writer has come and gone, or `limit` passes; on the first bytes,
// calls on_first(). Never blocks forever, so a broken writer fails the test instead of hanging it.
template <class F>
std::string read_until_closed(int fd, F on_first, std::chrono::seconds limit = std::chrono::seconds(10)) {
    std::string got;
    const auto end = std::chrono::steady_clock::now() + limit;
    char buf[65536];
    while (std::chrono::steady_clock::now() < end) {
        pollfd p{fd, POLLIN, 0};
        ::poll(&p, 1, 50);
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            if (got.empty()) on_first();
            got.append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 && !got.empty()) {
            break;  // the writer closed it
        } else if (n == 0 || errno == EAGAIN || errno == EINTR) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));  // no writer yet
        } else {
            break;
        }
    }
    return got;
}

}  // namespace

TEST_CASE("output: a character device is written through, not replaced", "[output]") {
    TempDir t;
    const std::string dev = t / "null";
    if (::mknod(dev.c_str(), S_IFCHR | 0666, ::makedev(1, 3)) != 0) {
        WARN("mknod: " << std::strerror(errno) << ": the device checks are skipped");
        return;
    }
    const std::string file = t / "report.txt";
    write_outputs({{dev, "to the null device\n"}, {file, "the report\n"}});
    const struct stat st = lstat_of(dev);
    CHECK(S_ISCHR(st.st_mode));
    CHECK(st.st_rdev == ::makedev(1, 3));
    CHECK(slurp(file) == "the report\n");
    CHECK(temporaries(t.dir).empty());
}

TEST_CASE("output: a FIFO is written through to its reader, after the files are renamed", "[output]") {
    TempDir t;
    const std::string fifo = t / "fifo";
    const std::string file = t / "report.txt";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    spit(file, "old\n");
    const int rd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
    REQUIRE(rd >= 0);
    const std::string text = big_text();
    std::string got, file_when_fifo_written;
    std::thread reader([&] { got = read_until_closed(rd, [&] { file_when_fifo_written = slurp(file); }); });
    write_outputs({{fifo, text}, {file, "new\n"}});
    reader.join();
    ::close(rd);
    CHECK(got.size() == text.size());
    CHECK(got == text);
    CHECK(S_ISFIFO(lstat_of(fifo).st_mode));
    CHECK(file_when_fifo_written == "new\n");  // the renames come first: they can still be undone
    CHECK(temporaries(t.dir).empty());
}

TEST_CASE("output: a Unix socket is connected to and written through", "[output]") {
    TempDir t;
    const std::string path = t / "sock";
    const int ls = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    REQUIRE(ls >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof addr.sun_path);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    REQUIRE(::bind(ls, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(ls, 1) == 0);
    const std::string text = big_text();
    std::string got;
    std::thread reader([&] {
        pollfd p{ls, POLLIN, 0};
        if (::poll(&p, 1, 10000) != 1) return;  // nobody came: got stays empty
        const int c = ::accept4(ls, nullptr, nullptr, SOCK_NONBLOCK);
        if (c < 0) return;
        got = read_until_closed(c, [] {});
        ::close(c);
    });
    write_outputs({{path, text}});
    reader.join();
    ::close(ls);
    CHECK(got == text);
    CHECK(S_ISSOCK(lstat_of(path).st_mode));
    CHECK(temporaries(t.dir).empty());
}

TEST_CASE("output: a symlink stays a link; the file it finally names is replaced in its own folder", "[output]") {
    TempDir t;
    fs::create_directory(t.dir / "a");
    fs::create_directory(t.dir / "b");
    spit(t / "b/target.txt", "old\n");
    REQUIRE(::chmod((t / "b/target.txt").c_str(), 0640) == 0);
    fs::create_symlink("../b/target.txt", t.dir / "a/link");  // relative, in another folder
    fs::create_symlink("link", t.dir / "a/link2");            // a chain: link2 -> link -> target
    write_outputs({{t / "a/link2", "new\n"}});
    CHECK(fs::is_symlink(t.dir / "a/link2"));
    CHECK(fs::read_symlink(t.dir / "a/link2") == "link");
    CHECK(fs::is_symlink(t.dir / "a/link"));
    CHECK(fs::read_symlink(t.dir / "a/link") == "../b/target.txt");
    CHECK(slurp(t / "b/target.txt") == "new\n");
    CHECK((lstat_of(t / "b/target.txt").st_mode & 07777) == 0640);  // the replaced file's permissions
    CHECK(temporaries(t.dir / "a").empty());
    CHECK(temporaries(t.dir / "b").empty());
}

TEST_CASE("output: a dangling symlink's target is created, and the link kept", "[output]") {
    TempDir t;
    fs::create_directory(t.dir / "b");
    fs::create_symlink("b/new.txt", t.dir / "link");
    write_outputs({{t / "link", "made\n"}});
    CHECK(fs::is_symlink(t.dir / "link"));
    CHECK(fs::read_symlink(t.dir / "link") == "b/new.txt");
    CHECK(slurp(t / "b/new.txt") == "made\n");
    CHECK(temporaries(t.dir).empty());
    CHECK(temporaries(t.dir / "b").empty());
}

TEST_CASE("output: a directory, or a symlink to one, is refused and left alone", "[output]") {
    TempDir t;
    fs::create_directory(t.dir / "d");
    fs::create_directory_symlink("d", t.dir / "dlink");
    const std::string file = t / "report.txt";
    for (const std::string& bad : {t / "d", t / "dlink"}) {
        CAPTURE(bad);
        try {
            write_outputs({{file, "x\n"}, {bad, "y\n"}});
            FAIL("no error");
        } catch (const OutputError& e) {
            CHECK(std::string(e.what()) == bad + ": cannot write: Is a directory");
        }
        CHECK(!fs::exists(file));  // all or none
        CHECK(fs::is_empty(t.dir / "d"));
    }
    CHECK(fs::is_symlink(t.dir / "dlink"));
    CHECK(temporaries(t.dir).empty());
}

TEST_CASE("output: a device that cannot be opened leaves the regular files untouched", "[output]") {
    TempDir t;
    const std::string fifo = t / "fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    const std::string dev = t / "nodev";
    if (::mknod(dev.c_str(), S_IFCHR | 0666, ::makedev(4095, 4095)) != 0) {  // no driver: ENXIO/ENODEV
        WARN("mknod: " << std::strerror(errno) << ": the check is skipped");
        return;
    }
    const std::string file = t / "report.txt";
    spit(file, "old\n");
    CHECK_THROWS_WITH(write_outputs({{file, "new\n"}, {dev, "x"}}), Catch::Contains(dev + ": cannot write: "));
    CHECK(slurp(file) == "old\n");
    CHECK(S_ISCHR(lstat_of(dev).st_mode));
    CHECK(temporaries(t.dir).empty());
}

TEST_CASE("output: two outputs naming one file are a usage error", "[output]") {
    TempDir t;
    const std::string x = t / "x";
    const std::string dot = (t.dir / "." / "x").string();
    SECTION("new paths, also spelled differently and through a dangling link") {
        CHECK_THROWS_WITH(check_distinct_outputs({{"-o", x}, {"--json", x}}), "-o and --json both name " + x + " (see --help)");
        CHECK_THROWS_WITH(check_distinct_outputs({{"-o", x}, {"--csv", dot}}),
                          "-o " + x + " and --csv " + dot + " both name the same file (see --help)");
        fs::create_symlink("x", t.dir / "link");
        CHECK_THROWS_AS(check_distinct_outputs({{"-o", t / "link"}, {"--json", x}}), UsageError);
        CHECK(!fs::exists(x));
    }
    SECTION("existing files: a symlink, a hard link, another spelling") {
        spit(x, "keep\n");
        fs::create_symlink("x", t.dir / "link");
        fs::create_hard_link(x, t.dir / "hard");
        CHECK_THROWS_AS(check_distinct_outputs({{"-o", t / "link"}, {"--json", x}}), UsageError);
        CHECK_THROWS_AS(check_distinct_outputs({{"--json", t / "hard"}, {"--csv", x}}), UsageError);
        CHECK_THROWS_AS(check_distinct_outputs({{"-o", dot}, {"--csv", t / "link"}}), UsageError);
        CHECK(slurp(x) == "keep\n");
    }
    SECTION("standard output twice, named or by default") {
        CHECK_THROWS_WITH(check_distinct_outputs({{"-o", "-"}, {"--json", "-"}}),
                          "-o and --json both name - (standard output) (see --help)");
        CHECK_THROWS_WITH(check_distinct_outputs({{"-o", ""}, {"--csv", "-"}}),
                          "--csv names standard output, where -o writes when not given (see --help)");
    }
    SECTION("distinct outputs, and the null device twice, are fine") {
        CHECK_NOTHROW(check_distinct_outputs({{"-o", ""}, {"--json", x}, {"--csv", t / "y"}}));
        CHECK_NOTHROW(check_distinct_outputs({{"-o", "-"}, {"--json", x}}));
        const std::string dev = t / "null";
        if (::mknod(dev.c_str(), S_IFCHR | 0666, ::makedev(1, 3)) != 0) {
            WARN("mknod: " << std::strerror(errno) << ": the null-device check is skipped");
        } else {
            CHECK_NOTHROW(check_distinct_outputs({{"-o", dev}, {"--json", dev}}));
        }
    }
}
