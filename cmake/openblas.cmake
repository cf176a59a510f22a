# Included by CMakeLists.txt and fuzz/CMakeLists.txt: the target loom_openblas.
#
# The CPU path's float kernels: OpenBLAS for the matrix products, OpenMP for the loops around them. It must be
# OpenBLAS's OpenMP build, so that both share one pool of threads (the pthreads build keeps a pool of its own, and
# two pools spinning on the same cores slow each other down); Debian's is libopenblas-openmp-dev, whose files sit in
# folders of their own, looked in first.
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_path(OPENBLAS_INCLUDE_DIR cblas.h
  HINTS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp ENV OPENBLAS_ROOT PATH_SUFFIXES include
  NO_DEFAULT_PATH)
find_library(OPENBLAS_LIBRARY openblas
  HINTS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp ENV OPENBLAS_ROOT PATH_SUFFIXES lib lib64
  NO_DEFAULT_PATH)
if(NOT OPENBLAS_INCLUDE_DIR OR NOT OPENBLAS_LIBRARY)
  message(FATAL_ERROR "OpenBLAS (OpenMP build) not found: install libopenblas-openmp-dev, or set OPENBLAS_ROOT to "
                      "an OpenBLAS built with USE_OPENMP=1")
endif()
# Only the library itself can say how it was built (its headers are the same for every build).
include(CheckCXXSourceRuns)
set(CMAKE_REQUIRED_INCLUDES ${OPENBLAS_INCLUDE_DIR})
set(CMAKE_REQUIRED_LIBRARIES ${OPENBLAS_LIBRARY} OpenMP::OpenMP_CXX)
check_cxx_source_runs("#include <cblas.h>
int main() { return openblas_get_parallel() == OPENBLAS_OPENMP ? 0 : 1; }" LOOM_OPENBLAS_USES_OPENMP)
unset(CMAKE_REQUIRED_INCLUDES)
unset(CMAKE_REQUIRED_LIBRARIES)
if(NOT LOOM_OPENBLAS_USES_OPENMP)
  message(FATAL_ERROR "${OPENBLAS_LIBRARY} is not OpenBLAS's OpenMP build: install libopenblas-openmp-dev, or set "
                      "OPENBLAS_ROOT to an OpenBLAS built with USE_OPENMP=1")
endif()
add_library(loom_openblas INTERFACE)
target_include_directories(loom_openblas INTERFACE ${OPENBLAS_INCLUDE_DIR})
target_link_libraries(loom_openblas INTERFACE ${OPENBLAS_LIBRARY} OpenMP::OpenMP_CXX)
