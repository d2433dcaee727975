#pragma once

namespace multistore {

/// The devtools page: one self-contained HTML document (no external script,
/// style or font), which polls the JSON API.
extern const char* const devtools_page;

}  // namespace multistore
