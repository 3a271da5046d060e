# `--compare` must fail for the right reasons: a stored kernel result with one figure altered
# (the JSON member at the path MEMBER, a list, set to the JSON text VALUE) is reported as DIFFERS
# with exit code 1, the row matching ROW_REGEX. Runs ${TCPSIM} experiment ${EXPERIMENT} --compare
# on the altered copy ${OUT} (the experiment's name and digest are the result's own).
file(READ ${RESULT} text)
string(JSON text SET "${text}" ${MEMBER} "${VALUE}")
file(WRITE ${OUT} "${text}")
execute_process(COMMAND ${TCPSIM} experiment ${EXPERIMENT} --profile linux --compare ${OUT}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 1)
  message(FATAL_ERROR "exit code ${rc}, expected 1 (DIFFERS)\nstdout: ${out}\nstderr: ${err}")
endif()
if(NOT out MATCHES "${ROW_REGEX}")
  message(FATAL_ERROR "no row matching '${ROW_REGEX}':\n${out}\n${err}")
endif()
# Only that figure differs.
string(REGEX MATCHALL "DIFFERS" differs "${out}")
list(LENGTH differs n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "${n} figures differ, expected 1:\n${out}")
endif()
