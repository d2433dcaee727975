#include <catch2/catch.hpp>

#include "multistore/abort_signal.hpp"

TEST_CASE("a default abort_signal never aborts", "[abort]") {
  multistore::abort_signal s;
  CHECK_FALSE(s.aborted());
  bool ran = false;
  CHECK(s.on_abort([&] { ran = true; }) == 0);
  CHECK_FALSE(ran);
}

TEST_CASE("abort runs each registered callback once and marks every copy", "[abort]") {
  multistore::abort_source src;
  auto s = src.signal();
  auto copy = s;
  int a = 0, b = 0;
  s.on_abort([&] { ++a; });
  auto token = copy.on_abort([&] { ++b; });
  copy.remove(token);
  src.abort();
  src.abort();
  CHECK(s.aborted());
  CHECK(copy.aborted());
  CHECK(a == 1);
  CHECK(b == 0);
  int late = 0;
  CHECK(s.on_abort([&] { ++late; }) == 0);
  CHECK(late == 1);
}
