#include <gtest/gtest.h>

#include <ATen/core/dispatch/Dispatcher.h>

#include <stx/stx.h>

TEST(Library, VersionMatchesHeader) { EXPECT_EQ(stx::library_version(), STX_VERSION); }

TEST(Library, VersionOpGoesThroughDispatcher) {
  auto op = c10::Dispatcher::singleton().findSchemaOrThrow("stx::_version", "").typed<std::string()>();
  EXPECT_EQ(op.call(), STX_VERSION);
}

TEST(Library, CudaVersionIsConsistent) {
  auto op = c10::Dispatcher::singleton().findSchemaOrThrow("stx::_cuda_version", "").typed<int64_t()>();
  EXPECT_EQ(op.call(), stx::cuda_version());
}
