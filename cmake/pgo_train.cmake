# The training run of the profile-guided build (cmake/pgo.cmake): runs the instrumented ${TCPSIM}
# on the benchmark's workloads (at 2% of their size) and on every shipped capacity and what-if
# scenario (between them: the OS profiles, NAT, load balancers, proxies, keep-alive pools), which
# writes fresh counts to ${DATA}; then touches ${STAMP}. Counts of an earlier run are removed first
# (they would add up with the new ones, and may describe code that changed since).
file(REMOVE_RECURSE ${DATA})
file(MAKE_DIRECTORY ${DATA})

execute_process(COMMAND ${TCPSIM} bench --scale 0.02 --no-fork
                OUTPUT_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "PGO training: `tcpsim bench` failed (${rc})")
endif()

file(GLOB scenarios ${SRC}/scenarios/capacity/*.json ${SRC}/scenarios/what-if/*.json)
list(SORT scenarios)
foreach(s IN LISTS scenarios)
  execute_process(COMMAND ${TCPSIM} run ${s} OUTPUT_QUIET RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "PGO training: `tcpsim run ${s}` failed (${rc})")
  endif()
endforeach()

file(TOUCH ${STAMP})
