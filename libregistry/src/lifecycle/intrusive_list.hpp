#pragma once

#include <cassert>
#include <cstddef>

namespace multistore::lifecycle {

/// The links an element carries for one `intrusive_list` it can be in.
template <class T>
struct list_hook {
  T* prev = nullptr;
  T* next = nullptr;
};

/// A doubly linked list threaded through the `Hook` member of its elements:
/// O(1) insert at either end and unlink, no allocation. Elements must stay
/// put while listed (the machine keeps them in node-based maps), and an
/// element is in at most one list per hook.
///
///     struct entry { list_hook<entry> lru; };
///     intrusive_list<entry, &entry::lru> lru;
///     lru.push_back(e);
///     for (entry* x = lru.front(); x != nullptr; x = lru.next(*x)) ...
///     lru.unlink(e);
template <class T, list_hook<T> T::*Hook>
class intrusive_list {
 public:
  T* front() const noexcept { return head_; }
  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept { return size_; }
  /// The element after `x`, or null at the end; read it before unlinking `x`.
  static T* next(const T& x) noexcept { return (x.*Hook).next; }

  void push_front(T& x) noexcept { link(x, nullptr, head_); }
  void push_back(T& x) noexcept { link(x, tail_, nullptr); }

  void unlink(T& x) noexcept {
    assert(size_ > 0);
    auto& h = x.*Hook;
    (h.prev != nullptr ? (h.prev->*Hook).next : head_) = h.next;
    (h.next != nullptr ? (h.next->*Hook).prev : tail_) = h.prev;
    h.prev = h.next = nullptr;
    --size_;
  }

 private:
  /// Links `x` between `prev` and `next`, neighbours in the list (null at its ends).
  void link(T& x, T* prev, T* next) noexcept {
    auto& h = x.*Hook;
    h.prev = prev;
    h.next = next;
    (prev != nullptr ? (prev->*Hook).next : head_) = &x;
    (next != nullptr ? (next->*Hook).prev : tail_) = &x;
    ++size_;
  }

  T* head_ = nullptr;
  T* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace multistore::lifecycle
