#pragma once

#include <functional>

#include <catch2/catch.hpp>

#include "multistore/errors.hpp"

/// The errc of the store_error that `fn` throws; fails the test when it throws none.
inline multistore::errc code_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const multistore::store_error& e) {
    return e.code();
  }
  FAIL("no store_error thrown");
  return multistore::errc::cancelled;
}
