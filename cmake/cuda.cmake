# Included by CMakeLists.txt after project(): whether this build has the CUDA path, from the cache option LOOM_CUDA.
#   AUTO (default)  the CUDA path when nvcc, cuBLAS and cuDNN are all found, else the CPU path alone
#   ON              the CUDA path; configuring fails, naming what is missing, when any of them is not found
#   OFF             the CPU path alone; nothing CUDA is looked for (a machine without the toolkit builds everything)
#   SIM             the CUDA path on the CUDA simulator (simulator/README.md): the same CUDA code compiled as C++ and
#                   run on the CPU, against the simulator's CUDA runtime, cuBLAS and cuDNN; needs only the CUDA and
#                   cuDNN headers, no nvcc, no GPU library and no GPU
# Sets LOOM_CUDA_PATH (ON/OFF) and LOOM_CUDA_SIMULATOR (ON/OFF); for the real CUDA path enables the CUDA language and
# defines the target loom_cudnn, for the simulator sets LOOM_CUDA_HEADERS (the folders holding the headers).
# Prints one line saying what it found and chose.
set(LOOM_CUDA AUTO CACHE STRING
    "Build the CUDA path: AUTO (when nvcc, cuBLAS and cuDNN are found), ON (required), OFF (CPU path only) or SIM \
(on the CUDA simulator)")
set_property(CACHE LOOM_CUDA PROPERTY STRINGS AUTO ON OFF SIM)
string(TOUPPER "${LOOM_CUDA}" LOOM_CUDA_MODE)
if(NOT LOOM_CUDA_MODE MATCHES "^(AUTO|ON|OFF|SIM)$")
  message(FATAL_ERROR "LOOM_CUDA='${LOOM_CUDA}' is not one of AUTO, ON, OFF or SIM")
endif()

set(LOOM_CUDA_PATH OFF)
set(LOOM_CUDA_SIMULATOR OFF)
if(LOOM_CUDA_MODE STREQUAL "OFF")
  message(STATUS "loom: CUDA path off (LOOM_CUDA=OFF): CPU path only")
  return()
endif()

if(LOOM_CUDA_MODE STREQUAL "SIM")
  # The headers alone: beside nvcc when there is one, then in the usual places ($CUDA_HOME, $CUDNN_ROOT).
  set(LOOM_CUDA_HEADERS "")
  foreach(header cuda_runtime.h cublas_v2.h cudnn.h)
    string(MAKE_C_IDENTIFIER "LOOM_${header}_DIR" variable)
    find_path(${variable} ${header} HINTS ENV CUDA_HOME ENV CUDA_PATH ENV CUDNN_ROOT /usr/local/cuda
              PATH_SUFFIXES include)
    if(NOT ${variable})
      message(FATAL_ERROR "loom: LOOM_CUDA=SIM but ${header} was not found: the simulator compiles loom's CUDA code "
                          "against the CUDA toolkit's and cuDNN's headers (set CUDA_HOME or CUDNN_ROOT)")
    endif()
    list(APPEND LOOM_CUDA_HEADERS ${${variable}})
  endforeach()
  list(REMOVE_DUPLICATES LOOM_CUDA_HEADERS)
  set(LOOM_CUDA_PATH ON)
  set(LOOM_CUDA_SIMULATOR ON)
  # The simulator's reports name launch sites and synchronization points by __FILE__: as paths in the repository
  # (kernels/relu_cuda.cu:14), wherever the build is.
  add_compile_options(-fmacro-prefix-map=${PROJECT_SOURCE_DIR}/=)
  message(STATUS "loom: CUDA path on the CUDA simulator (LOOM_CUDA=SIM): CUDA code runs on the CPU, headers from "
                 "${LOOM_CUDA_HEADERS}")
  return()
endif()

# Why the CUDA path cannot be built, or nothing when it can: ON stops here, AUTO goes on without it.
macro(loom_cuda_missing reason)
  if(LOOM_CUDA_MODE STREQUAL "ON")
    message(FATAL_ERROR "loom: LOOM_CUDA=ON but ${reason}: install it, or configure with -DLOOM_CUDA=OFF "
                        "(CPU path only) or AUTO")
  endif()
  message(STATUS "loom: CUDA path off: ${reason} (LOOM_CUDA=AUTO): CPU path only")
  return()
endmacro()

# Turing (75) through Hopper (90) as machine code, plus compute_90 PTX that the driver JIT-compiles for newer GPUs.
# Override with -DCMAKE_CUDA_ARCHITECTURES=90 (one GPU, faster build) or any list CMake accepts.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES "75-real;80-real;86-real;89-real;90")
endif()
if(NOT DEFINED CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
  set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
endif()
include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  loom_cuda_missing("no nvcc found")
endif()
# The toolkit beside that nvcc, so that its cuBLAS and headers are the ones found.
get_filename_component(LOOM_NVCC_BIN "${CMAKE_CUDA_COMPILER}" DIRECTORY)
get_filename_component(CUDAToolkit_ROOT "${LOOM_NVCC_BIN}" DIRECTORY)
find_package(CUDAToolkit QUIET)
if(NOT CUDAToolkit_FOUND)
  loom_cuda_missing("no CUDA toolkit found beside ${CMAKE_CUDA_COMPILER}")
endif()
if(NOT TARGET CUDA::cublas OR NOT TARGET CUDA::cublasLt)
  loom_cuda_missing("cuBLAS not found in the CUDA toolkit at ${CUDAToolkit_ROOT}")
endif()
# CMake ships no module for cuDNN: look for it beside the CUDA toolkit, then in the usual system places.
find_path(CUDNN_INCLUDE_DIR cudnn.h
  HINTS ${CUDAToolkit_INCLUDE_DIRS} ENV CUDNN_ROOT PATH_SUFFIXES include)
find_library(CUDNN_LIBRARY cudnn
  HINTS ${CUDAToolkit_LIBRARY_DIR} ENV CUDNN_ROOT PATH_SUFFIXES lib64 lib)
if(NOT CUDNN_INCLUDE_DIR OR NOT CUDNN_LIBRARY)
  loom_cuda_missing("cuDNN not found (cudnn.h and libcudnn.so; install cuDNN 9 or set CUDNN_ROOT)")
endif()
set(LOOM_CUDNN_MAJOR "?")
if(EXISTS "${CUDNN_INCLUDE_DIR}/cudnn_version.h")
  file(STRINGS "${CUDNN_INCLUDE_DIR}/cudnn_version.h" LOOM_CUDNN_MAJOR_LINE REGEX "^#define CUDNN_MAJOR ")
  string(REGEX REPLACE "^#define CUDNN_MAJOR +([0-9]+).*" "\\1" LOOM_CUDNN_MAJOR "${LOOM_CUDNN_MAJOR_LINE}")
endif()

enable_language(CUDA)
set(LOOM_CUDA_PATH ON)
# The CUDA runtime is linked statically, so binaries built on one machine run on another with only the driver,
# cuBLAS and cuDNN present.
set(CMAKE_CUDA_RUNTIME_LIBRARY Static)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
add_library(loom_cudnn INTERFACE)
target_include_directories(loom_cudnn INTERFACE ${CUDNN_INCLUDE_DIR})
target_link_libraries(loom_cudnn INTERFACE ${CUDNN_LIBRARY})
message(STATUS "loom: CUDA path on (nvcc ${CUDAToolkit_VERSION_MAJOR}.${CUDAToolkit_VERSION_MINOR} at "
               "${CMAKE_CUDA_COMPILER}, cuBLAS, cuDNN ${LOOM_CUDNN_MAJOR} at ${CUDNN_LIBRARY}) (LOOM_CUDA=${LOOM_CUDA_MODE})")
