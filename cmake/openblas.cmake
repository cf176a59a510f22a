# Included by CMakeLists.txt and fuzz/CMakeLists.txt: the target loom_openblas.
#
# The CPU path's float kernels: OpenBLAS for the matrix products, which loom cuts into parts and runs on its own
# thread pool (engine/runtime/cpu_pool.h), one part a thread. It must be OpenBLAS's OpenMP build: that build sizes a
# product by the calling thread's OpenMP count, which loom holds at one on that thread alone (the pthreads build keeps
# a pool of its own, sized for the whole process, whose threads would spin beside loom's); Debian's is
# libopenblas-openmp-dev, whose files sit in folders of their own, looked in first.
find_package(OpenMP COMPONENTS CXX)
if(NOT OpenMP_CXX_FOUND)
  message(FATAL_ERROR "OpenMP not found for ${CMAKE_CXX_COMPILER_ID}: g++ has it; clang needs libomp-dev")
endif()
# OPENBLAS_ROOT (a CMake variable or the environment's) first, then Debian's OpenMP build, then the usual places; the
# run check below is what decides. (libopenblaso: Fedora's name for its OpenMP build.)
find_path(OPENBLAS_INCLUDE_DIR cblas.h
  HINTS ${OPENBLAS_ROOT} ENV OPENBLAS_ROOT /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp
  PATH_SUFFIXES include include/openblas)
find_library(OPENBLAS_LIBRARY NAMES openblas openblaso
  HINTS ${OPENBLAS_ROOT} ENV OPENBLAS_ROOT /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp
  PATH_SUFFIXES lib lib64)
if(NOT OPENBLAS_INCLUDE_DIR OR NOT OPENBLAS_LIBRARY)
  message(FATAL_ERROR "OpenBLAS (OpenMP build) not found: install libopenblas-openmp-dev, or pass "
                      "-DOPENBLAS_ROOT=DIR for an OpenBLAS built with USE_OPENMP=1")
endif()
# Only the library itself can say how it was built (its headers are the same for every build). The result is cached
# under a name made from the library's path, so that another library is checked afresh.
include(CheckCXXSourceRuns)
string(MAKE_C_IDENTIFIER "LOOM_OPENMP_BUILD_${OPENBLAS_LIBRARY}" LOOM_OPENBLAS_CHECK)
set(CMAKE_REQUIRED_INCLUDES ${OPENBLAS_INCLUDE_DIR})
set(CMAKE_REQUIRED_LIBRARIES ${OPENBLAS_LIBRARY} OpenMP::OpenMP_CXX)
check_cxx_source_runs("#include <cblas.h>
int main() { return openblas_get_parallel() == OPENBLAS_OPENMP ? 0 : 1; }" ${LOOM_OPENBLAS_CHECK})
unset(CMAKE_REQUIRED_INCLUDES)
unset(CMAKE_REQUIRED_LIBRARIES)
if(NOT ${LOOM_OPENBLAS_CHECK})
  message(FATAL_ERROR "${OPENBLAS_LIBRARY} did not link and run as OpenBLAS's OpenMP build (see CMakeError.log): "
                      "install libopenblas-openmp-dev, or pass -DOPENBLAS_ROOT=DIR for an OpenBLAS built with "
                      "USE_OPENMP=1")
endif()
add_library(loom_openblas INTERFACE)
target_include_directories(loom_openblas INTERFACE ${OPENBLAS_INCLUDE_DIR})
target_link_libraries(loom_openblas INTERFACE ${OPENBLAS_LIBRARY} OpenMP::OpenMP_CXX)
