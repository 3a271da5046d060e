// run_all's template body (included by whatif_run.hpp).
#pragma once

#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

namespace tcpsim {

template <class R>
std::vector<R> run_all(std::size_t n, unsigned threads, const std::function<R(std::size_t)>& job,
                       const std::function<void(std::size_t)>& progress) {
    std::vector<std::optional<R>> results(n);
    std::vector<std::exception_ptr> errors(n);
    std::atomic<std::size_t> next{0};
    std::mutex mu;
    std::size_t done = 0;
    auto worker = [&] {
        for (;;) {
            const std::size_t i = next.fetch_add(1);
            if (i >= n) return;
            try {
                results[i] = job(i);
            } catch (...) {
                errors[i] = std::current_exception();
            }
            std::lock_guard<std::mutex> lock(mu);
            ++done;
            if (progress) progress(done);
        }
    };
    const unsigned t = static_cast<unsigned>(std::min<std::size_t>(threads == 0 ? 1 : threads, n));
    if (t <= 1) {
        worker();
    } else {
        std::vector<std::thread> pool;
        for (unsigned k = 0; k < t; ++k) pool.emplace_back(worker);
        for (std::thread& th : pool) th.join();
    }
    for (const std::exception_ptr& e : errors)
        if (e) std::rethrow_exception(e);
    std::vector<R> out;
    out.reserve(n);
    for (std::optional<R>& r : results) out.push_back(std::move(*r));
    return out;
}

}  // namespace tcpsim
