// RegisterTestBuiltins: the two built-in models the registry tests start
// from (dlib-resnet, the default, and faceres), as the server registers them.
#ifndef QUANTFACE_TESTS_UNIT_SERVER_STORE_TEST_BUILTINS_H_
#define QUANTFACE_TESTS_UNIT_SERVER_STORE_TEST_BUILTINS_H_

#include <gtest/gtest.h>

#include <string>

#include "server/registry/model_registry.h"

namespace qf::testing {

inline void RegisterTestBuiltins(server::ModelRegistry& registry) {
  for (const char* id : {"dlib-resnet", "faceres"}) {
    quantface::v1::Model builtin;
    builtin.set_name(std::string("models/") + id);
    builtin.set_architecture(id);
    builtin.set_weight_bits(32);
    ASSERT_TRUE(registry.RegisterBuiltin(builtin).ok());
  }
  ASSERT_TRUE(registry.InitDefault("models/dlib-resnet").ok());
}

}  // namespace qf::testing

#endif  // QUANTFACE_TESTS_UNIT_SERVER_STORE_TEST_BUILTINS_H_
