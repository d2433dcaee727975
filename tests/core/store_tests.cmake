# The store engine's tests (issue 3), relative to tests/core/.
