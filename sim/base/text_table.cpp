#include "base/text_table.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace tcpsim {

std::string wrap(const std::string& text, std::size_t indent, std::size_t hanging) {
    std::string out, line(indent, ' ');
    bool empty = true;  // nothing on the current line yet
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find(' ', start);
        if (end == std::string::npos) end = text.size();
        const std::string word = text.substr(start, end - start);
        if (!empty && line.size() + 1 + word.size() > 100) {
            out += line + "\n";
            line = std::string(hanging, ' ');
            empty = true;
        }
        if (!empty) line += ' ';
        line += word;
        empty = false;
        start = end + 1;
    }
    return out + line + "\n";
}

std::string format_table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& body,
                         const std::set<std::size_t>& right) {
    std::vector<std::size_t> w(head.size());
    for (std::size_t c = 0; c < head.size(); ++c) {
        w[c] = head[c].size();
        for (const auto& l : body) w[c] = std::max(w[c], l[c].size());
    }
    auto row = [&](const std::vector<std::string>& l) {
        std::string s = " ";
        for (std::size_t c = 0; c < l.size(); ++c)
            s += right.count(c) ? fmt::format(" {:>{}}", l[c], w[c]) : fmt::format(" {:<{}}", l[c], w[c]);
        while (!s.empty() && s.back() == ' ') s.pop_back();
        return s + "\n";
    };
    std::string out = row(head);
    for (const auto& l : body) out += row(l);
    return out;
}

std::string csv_cell(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string o = "\"";
    for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
    return o + "\"";
}

}  // namespace tcpsim
