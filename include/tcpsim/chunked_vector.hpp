// A growable array whose elements never move: fixed-size chunks of 2^ChunkBits elements, found
// by a shift and a mask. References stay valid while it grows (like std::deque), indexing costs
// two loads (std::deque's iterator arithmetic cost 4.6% of the churn benchmark), and growth never
// copies elements, so peak memory is the memory in use plus one chunk (a vector's doubling
// touches twice the memory for a moment).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace tcpsim {

template <class T, unsigned ChunkBits>
class ChunkedVector {
public:
    static constexpr std::size_t kChunk = std::size_t{1} << ChunkBits;

    ChunkedVector() = default;
    ChunkedVector(ChunkedVector&& o) noexcept : chunks_(std::move(o.chunks_)), size_(std::exchange(o.size_, 0)) {
        o.chunks_.clear();
    }
    ChunkedVector& operator=(ChunkedVector&& o) noexcept {
        if (this != &o) {
            clear();
            chunks_ = std::move(o.chunks_);
            o.chunks_.clear();
            size_ = std::exchange(o.size_, 0);
        }
        return *this;
    }
    ChunkedVector(const ChunkedVector&) = delete;
    ChunkedVector& operator=(const ChunkedVector&) = delete;
    ~ChunkedVector() { clear(); }

    [[nodiscard]] std::size_t size() const { return size_; }
    [[nodiscard]] bool empty() const { return size_ == 0; }
    T& operator[](std::size_t i) { return *std::launder(reinterpret_cast<T*>(slot(i))); }
    const T& operator[](std::size_t i) const {
        return *std::launder(reinterpret_cast<const T*>(chunks_[i >> ChunkBits][i & (kChunk - 1)].bytes));
    }

    template <class... Args>
    T& emplace_back(Args&&... args) {
        if ((size_ & (kChunk - 1)) == 0 && size_ / kChunk == chunks_.size())
            chunks_.push_back(std::make_unique<Storage[]>(kChunk));
        T* p = new (slot(size_)) T(std::forward<Args>(args)...);
        ++size_;
        return *p;
    }
    void push_back(T&& v) { emplace_back(std::move(v)); }
    // Appends the element make() returns, built in place (no temporary, no move).
    template <class Make>
    T& emplace_back_with(Make&& make) {
        if ((size_ & (kChunk - 1)) == 0 && size_ / kChunk == chunks_.size())
            chunks_.push_back(std::make_unique<Storage[]>(kChunk));
        T* p = ::new (slot(size_)) T(make());
        ++size_;
        return *p;
    }

    void clear() {
        for (std::size_t i = 0; i < size_; ++i) (*this)[i].~T();
        size_ = 0;
        chunks_.clear();
    }
    // Bytes of element storage held (whole chunks).
    [[nodiscard]] std::size_t capacity_bytes() const { return chunks_.size() * kChunk * sizeof(T); }

private:
    struct alignas(T) Storage {
        unsigned char bytes[sizeof(T)];
    };
    void* slot(std::size_t i) { return chunks_[i >> ChunkBits][i & (kChunk - 1)].bytes; }

    std::vector<std::unique_ptr<Storage[]>> chunks_;
    std::size_t size_ = 0;
};

}  // namespace tcpsim
