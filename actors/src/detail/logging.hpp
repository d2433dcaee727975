#pragma once

#include <memory>

namespace spdlog {
class logger;
}

namespace multistore::detail {

/// The logger the library writes to: `given` when set, else the one
/// registered as "multistore", else a "multistore" logger on stderr at level
/// warn. Never stdout.
std::shared_ptr<spdlog::logger> library_logger(std::shared_ptr<spdlog::logger> given);

}  // namespace multistore::detail
