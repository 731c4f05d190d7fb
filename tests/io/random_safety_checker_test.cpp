// tests/io/random_safety_checker_test.cpp — make-random's safety checker has the released file's layout
// (../shared/fixtures/keys/safety-checker-keys.txt: every name, dtype and shape).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "io/random_safety_checker.h"
#include "test_support.h"

using namespace difu;

TEST(RandomSafetyChecker, LayoutIsTheReleasedFilesKeySet) {
    std::ifstream keys(difu::test::fixture_path("keys/safety-checker-keys.txt"));
    ASSERT_TRUE(keys);
    std::map<std::string, std::string> want;  // name -> "DTYPE [shape]"
    for (std::string line; std::getline(keys, line);) {
        const size_t space = line.find(' ');
        if (space != std::string::npos) want[line.substr(0, space)] = line.substr(space + 1);
    }
    ASSERT_EQ(want.size(), 397u);
    std::map<std::string, std::string> got;
    for (const LazyTensor& t : random_safety_checker_layout(1)) {
        std::string shape;
        for (int64_t d : t.shape) {
            if (!shape.empty()) shape += ',';
            shape += std::to_string(d);
        }
        got[t.name] = std::string(dtype_name(t.dtype)) + " [" + shape + "]";
    }
    EXPECT_EQ(got, want);
}
