# Writes ${OUT}: a C++ file holding Chart.js (${JS}, Debian's libjs-chart.js) for the HTML reports,
# in pieces under the 65,536 characters a string literal may have, so the page needs no network
# and the binary no data file at run time.
file(READ ${JS} text)
string(LENGTH "${text}" n)
set(body "")
set(at 0)
while(at LESS n)
  string(SUBSTRING "${text}" ${at} 60000 piece)
  string(APPEND body "    R\"tcpsimjs(${piece})tcpsimjs\",\n")
  math(EXPR at "${at} + 60000")
endwhile()
file(WRITE ${OUT}.tmp "// Generated from ${JS} by cmake/embed_chartjs.cmake. Do not edit.\n#include <string>\n#include <string_view>\n\nnamespace tcpsim {\n\nconst std::string& chartjs_source() {\n    static constexpr std::string_view pieces[] = {\n${body}    };\n    static const std::string text = [] {\n        std::string s;\n        for (std::string_view p : pieces) s += p;\n        return s;\n    }();\n    return text;\n}\n\n}  // namespace tcpsim\n")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
file(REMOVE ${OUT}.tmp)
