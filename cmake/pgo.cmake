# Profile-guided optimisation of the simulator (issue #6), GCC's -fprofile-generate/-fprofile-use.
#
# TCPSIM_PGO=ON (the release preset) builds the simulator twice:
#   1. a training build in ${CMAKE_BINARY_DIR}/pgo/build: the same sources and flags, plus
#      -fprofile-generate, only the `tcpsim` program (an ExternalProject of this same source tree);
#   2. a training run of it (cmake/pgo_train.cmake): the benchmark's workloads at a small scale and
#      the shipped capacity and what-if scenarios. It writes the branch and call counts (.gcda) to
#      pgo/data (a change to those scenarios alone does not start it again);
#   3. this build, whose libraries and program are compiled with -fprofile-use from those counts.
# The simulation's results do not depend on it (the golden outputs are checked on this build).
# A change to any source re-runs 1 and 2 and recompiles every object of 3 (the counts changed);
# for a quick edit-compile loop configure with -DTCPSIM_PGO=OFF.
#
# -fprofile-prefix-path makes the count files' names relative to each build's top directory, so
# that the training build's objects and this build's objects find the same files.

set(TCPSIM_PGO_DATA ${CMAKE_BINARY_DIR}/pgo/data)
set(TCPSIM_PGO_STAMP ${CMAKE_BINARY_DIR}/pgo/trained.stamp)

if(TCPSIM_PGO_GENERATE)
  set(tcpsim_pgo_flags -fprofile-generate=${TCPSIM_PGO_GENERATE} -fprofile-prefix-path=${CMAKE_BINARY_DIR}
      -fprofile-update=single)
elseif(TCPSIM_PGO)
  if(TCPSIM_SANITIZE)
    message(FATAL_ERROR "TCPSIM_PGO and TCPSIM_SANITIZE do not go together")
  endif()
  include(ExternalProject)
  set(train_dir ${CMAKE_BINARY_DIR}/pgo/build)
  string(TOUPPER "${CMAKE_BUILD_TYPE}" build_type)
  # With make, the training build shares this build's job slots ($(MAKE)); otherwise it runs alone.
  if(CMAKE_GENERATOR MATCHES "Make")
    set(train_build $(MAKE) tcpsim)
  else()
    set(train_build ${CMAKE_COMMAND} --build ${train_dir} --target tcpsim)
  endif()
  ExternalProject_Add(tcpsim_pgo_build
      SOURCE_DIR ${PROJECT_SOURCE_DIR}
      BINARY_DIR ${train_dir}
      # The same compiler and flags: the counts match the code only if both builds compile it alike.
      CMAKE_CACHE_ARGS -DCMAKE_CXX_FLAGS:STRING=${CMAKE_CXX_FLAGS}
                       -DCMAKE_CXX_FLAGS_${build_type}:STRING=${CMAKE_CXX_FLAGS_${build_type}}
      CMAKE_ARGS -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE}
                 -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}
                 -DTCPSIM_WERROR=${TCPSIM_WERROR}
                 -DTCPSIM_BUILD_TESTS=OFF
                 -DTCPSIM_PGO=OFF
                 -DTCPSIM_PGO_GENERATE=${TCPSIM_PGO_DATA}
      BUILD_COMMAND ${train_build}
      BUILD_BYPRODUCTS ${train_dir}/tcpsim
      INSTALL_COMMAND ""
      BUILD_ALWAYS ON)
  add_custom_command(
      OUTPUT ${TCPSIM_PGO_STAMP}
      COMMAND ${CMAKE_COMMAND} -DTCPSIM=${train_dir}/tcpsim -DDATA=${TCPSIM_PGO_DATA} -DSRC=${PROJECT_SOURCE_DIR}
              -DSTAMP=${TCPSIM_PGO_STAMP} -P ${PROJECT_SOURCE_DIR}/cmake/pgo_train.cmake
      DEPENDS ${train_dir}/tcpsim ${PROJECT_SOURCE_DIR}/cmake/pgo_train.cmake tcpsim_pgo_build
      COMMENT "Training run of the profile-guided build")
  add_custom_target(tcpsim_pgo_profile DEPENDS ${TCPSIM_PGO_STAMP})
  # -fprofile-partial-training: code the training run never reached is optimised as usual, not
  # for size. -Wno-missing-profile: such code has no counts, which is expected.
  set(tcpsim_pgo_flags -fprofile-use=${TCPSIM_PGO_DATA} -fprofile-prefix-path=${CMAKE_BINARY_DIR}
      -fprofile-partial-training -Wno-missing-profile)
endif()

# Compile and link `target` with the profile flags of this build (none without PGO); with
# -fprofile-use, after the training run, and again whenever it ran again.
function(tcpsim_pgo target)
  if(NOT tcpsim_pgo_flags)
    return()
  endif()
  target_compile_options(${target} PRIVATE ${tcpsim_pgo_flags})
  target_link_options(${target} PRIVATE ${tcpsim_pgo_flags})
  if(TARGET tcpsim_pgo_profile)
    add_dependencies(${target} tcpsim_pgo_profile)
    get_target_property(sources ${target} SOURCES)
    set_source_files_properties(${sources} TARGET_DIRECTORY ${target} PROPERTIES OBJECT_DEPENDS ${TCPSIM_PGO_STAMP})
  endif()
endfunction()
