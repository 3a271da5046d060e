// "Did you mean ...?": the known word nearest to a typed one, for every error that names a word
// the user typed (a key, a host, a sysctl, a subcommand, a profile).
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace tcpsim {

// Levenshtein distance (insert, delete, substitute: each 1).
inline std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j)
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
        prev.swap(cur);
    }
    return prev[b.size()];
}

// The candidate nearest to `word` when it is near enough to be a typo (fewer than a third of the
// word's letters plus two edits, and not every letter), else "". Ties go to the first candidate: deterministic.
template <class Range>
std::string closest_word(std::string_view word, const Range& candidates) {
    std::string best;
    std::size_t best_d = word.size() / 3 + 2;
    for (const auto& c : candidates) {
        const std::string_view cand(c);
        // A word all of whose letters change is no typo ("c" for "a").
        if (const std::size_t d = edit_distance(word, cand); d < best_d && d < std::max(word.size(), cand.size())) {
            best_d = d;
            best = std::string(cand);
        }
    }
    return best;
}

// ": did you mean "X"?" or "".
template <class Range>
std::string did_you_mean(std::string_view word, const Range& candidates) {
    const std::string near = closest_word(word, candidates);
    return near.empty() ? std::string() : ": did you mean \"" + near + "\"?";
}

// "a, b, c"
template <class Range>
std::string comma_list(const Range& words) {
    std::string out;
    for (const auto& w : words) out += (out.empty() ? "" : ", ") + std::string(std::string_view(w));
    return out;
}

}  // namespace tcpsim
