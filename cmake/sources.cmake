# Included by CMakeLists.txt and fuzz/CMakeLists.txt: which of engine/ and kernels/ a build compiles.
#
# The CUDA path is a set of files, not #ifdefs (engine/runtime/without_cuda.cpp says why): the runtime's cuda_*
# sources, the ops' *_cuda.cu kernels and their *_cudnn.cpp / *_cublas.cpp library calls. A build with the path
# compiles those; one without compiles the two without_cuda.cpp files in their place, whose every CUDA entry point
# throws one error saying the build has no CUDA path.
#
# In the simulator flavour (LOOM_CUDA=SIM) the same files are compiled, the .cu ones as C++ with the simulator's
# kernel language force-included (loom_simulated_cuda_sources).
#
# loom_sources(<variable> <cuda_path>): the sources under <root>/engine and <root>/kernels for a build with
# (<cuda_path> true) or without the CUDA path, minus engine/io/file_text.cpp (a library of its own).
function(loom_sources variable cuda_path root)
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${root}/engine/*.cpp ${root}/engine/*.cu)
  file(GLOB kernels CONFIGURE_DEPENDS ${root}/kernels/*.cpp ${root}/kernels/*.cu)
  list(APPEND sources ${kernels})
  list(FILTER sources EXCLUDE REGEX "/engine/io/file_text\\.cpp$")
  set(cuda_only "/engine/runtime/cuda_[^/]*$|/kernels/[^/]*(_cuda\\.cu|_cudnn\\.cpp|_cublas\\.cpp)$")
  if(cuda_path)
    list(FILTER sources EXCLUDE REGEX "/without_cuda\\.cpp$")
  else()
    list(FILTER sources EXCLUDE REGEX "${cuda_only}")
  endif()
  set(${variable} ${sources} PARENT_SCOPE)
endfunction()

# loom_simulated_cuda_sources(<target> <source>...): compiles the .cu files among <source>, sources of <target>, as C++
# for the CUDA simulator, with simulator/kernel_language.h force-included (it stands in for what nvcc gives a kernel:
# __global__, threadIdx, __syncthreads and the rest).
function(loom_simulated_cuda_sources target)
  set(cu ${ARGN})
  list(FILTER cu INCLUDE REGEX "\\.cu$")
  if(cu)
    set_source_files_properties(${cu} TARGET_DIRECTORY ${target} PROPERTIES LANGUAGE CXX COMPILE_OPTIONS
                                "-include;${PROJECT_SOURCE_DIR}/simulator/kernel_language.h")
  endif()
endfunction()
