# The ONNX project's schema, checker and protobuf classes (Debian: libonnx-dev, libprotobuf-dev), which the ONNX
# export (engine/model/onnx_export.h) writes and checks its graphs with: the imported target `onnx`.
find_package(Protobuf QUIET)
find_package(ONNX CONFIG QUIET)
if(NOT Protobuf_FOUND OR NOT TARGET onnx)
  message(FATAL_ERROR "the ONNX library and protobuf are missing (Debian: apt-get install libonnx-dev "
                      "libprotobuf-dev, as scripts/install-dependencies.sh does)")
endif()
