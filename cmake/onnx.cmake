# The ONNX project's schema, checker and protobuf classes (Debian: libonnx-dev, libprotobuf-dev), which the ONNX
# export (engine/model/onnx_export.h) writes and checks its graphs with: the imported target `onnx`.
find_package(Protobuf QUIET)
find_package(ONNX 1.12 CONFIG QUIET)  # opset 17, which the export writes
if(NOT Protobuf_FOUND OR NOT TARGET onnx)
  message(FATAL_ERROR "the ONNX library (1.12 or newer) and protobuf are missing (Debian: apt-get install "
                      "libonnx-dev libprotobuf-dev, as scripts/install-dependencies.sh does)")
endif()
