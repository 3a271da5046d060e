// Text for HTML and SVG: the characters that would end or start markup, escaped.
#pragma once

#include <string>
#include <string_view>

namespace tcpsim {

inline std::string xml_escape(std::string_view s) {
    std::string o;
    for (char c : s) {
        if (c == '&') o += "&amp;";
        else if (c == '<') o += "&lt;";
        else if (c == '>') o += "&gt;";
        else if (c == '"') o += "&quot;";
        else o += c;
    }
    return o;
}

}  // namespace tcpsim
