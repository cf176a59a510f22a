// Error types that reach users. Every message is one line that names the thing at fault and the problem.
#pragma once

#include <stdexcept>
#include <string>

namespace loom {

// A failure while running (device error, unreadable file, corrupt data). Apps exit with code 1.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A request that cannot be honoured as asked (bad flag, bad shape, missing data set). Apps exit with code 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

}  // namespace loom
