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

  void push_front(T& x) noexcept {
    auto& h = x.*Hook;
    h.prev = nullptr;
    h.next = head_;
    if (head_ != nullptr) (head_->*Hook).prev = &x;
    else tail_ = &x;
    head_ = &x;
    ++size_;
  }

  void push_back(T& x) noexcept {
    auto& h = x.*Hook;
    h.next = nullptr;
    h.prev = tail_;
    if (tail_ != nullptr) (tail_->*Hook).next = &x;
    else head_ = &x;
    tail_ = &x;
    ++size_;
  }

  void unlink(T& x) noexcept {
    assert(size_ > 0);
    auto& h = x.*Hook;
    if (h.prev != nullptr) (h.prev->*Hook).next = h.next;
    else head_ = h.next;
    if (h.next != nullptr) (h.next->*Hook).prev = h.prev;
    else tail_ = h.prev;
    h.prev = h.next = nullptr;
    --size_;
  }

 private:
  T* head_ = nullptr;
  T* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace multistore::lifecycle
