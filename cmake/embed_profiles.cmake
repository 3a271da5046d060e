# Writes ${OUT}: a C++ file holding every models/profiles/*.json as a string, sorted by name, so
# the binary needs no data files at run time.
file(GLOB profiles ${SRC}/models/profiles/*.json)
list(SORT profiles)
set(body "")
foreach(p ${profiles})
  get_filename_component(name ${p} NAME_WLE)
  file(READ ${p} text)
  string(APPEND body "        {\"${name}\", R\"tcpsimjson(${text})tcpsimjson\"},\n")
endforeach()
file(WRITE ${OUT}.tmp "// Generated from models/profiles/*.json by cmake/embed_profiles.cmake. Do not edit.\n#include \"scenario/profiles_data.hpp\"\n\nnamespace tcpsim {\n\nconst std::vector<EmbeddedProfile>& embedded_profiles() {\n    static const std::vector<EmbeddedProfile> profiles = {\n${body}    };\n    return profiles;\n}\n\n}  // namespace tcpsim\n")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
file(REMOVE ${OUT}.tmp)
