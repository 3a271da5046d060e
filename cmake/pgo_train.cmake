# The training run of the profile-guided build (cmake/pgo.cmake): runs the instrumented ${TCPSIM}
# on the benchmark's workloads (at 2% of their size) and on every shipped capacity and what-if
# scenario (between them: the OS profiles, NAT, load balancers, proxies, keep-alive pools), which
# writes fresh counts to ${DATA}; then touches ${STAMP}. Counts of an earlier run are removed first
# (they would add up with the new ones, and may describe code that changed since).
file(REMOVE_RECURSE ${DATA})
file(MAKE_DIRECTORY ${DATA})

# Runs `tcpsim ARGN`; a failure stops the build.
function(train)
  execute_process(COMMAND ${TCPSIM} ${ARGN} OUTPUT_QUIET RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    string(JOIN " " what ${ARGN})
    message(FATAL_ERROR "PGO training: `tcpsim ${what}` failed (${rc})")
  endif()
endfunction()

train(bench --scale 0.02 --no-fork)
file(GLOB scenarios ${SRC}/scenarios/capacity/*.json ${SRC}/scenarios/what-if/*.json)
list(SORT scenarios)
foreach(s IN LISTS scenarios)
  train(run ${s})
endforeach()

file(TOUCH ${STAMP})
