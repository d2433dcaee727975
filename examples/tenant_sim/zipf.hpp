#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

namespace tenant_sim {

/// Picks 0..n-1 with probability proportional to 1/(k+1)^s.
class zipf {
 public:
  zipf(int n, double s) : cdf_(static_cast<std::size_t>(n)) {
    double sum = 0;
    for (int k = 0; k < n; ++k)
      cdf_[static_cast<std::size_t>(k)] = sum += 1.0 / std::pow(k + 1, s);
    for (auto& c : cdf_)
      c /= sum;
  }
  int operator()(std::mt19937_64& rng) const {
    auto u = std::uniform_real_distribution<double>{0, 1}(rng);
    auto i = std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin();
    return static_cast<int>(std::min<std::ptrdiff_t>(i, static_cast<std::ptrdiff_t>(cdf_.size()) - 1));
  }

 private:
  std::vector<double> cdf_;
};

}  // namespace tenant_sim
