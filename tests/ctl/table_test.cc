// render_table / render_fields: alignment by display width, right-aligned numbers, no trailing blanks.
#include "engine/ops/ctl/table.h"

#include <gtest/gtest.h>

namespace ringpost::ctl {
namespace {

TEST(Table, PadsColumnsToTheWidestCellAndRightAlignsNumbers) {
  const std::string out = render_table({"DOMAIN", "QUEUED", "STATE"},
                                       {{"gmail.com", "1200", "active"}, {"a.test", "7", "suspended until x"}}, {1});
  EXPECT_EQ(out,
            "DOMAIN     QUEUED  STATE\n"
            "gmail.com    1200  active\n"
            "a.test          7  suspended until x\n");
}

TEST(Table, MeasuresUtf8ByCodePointAndPadsShortRows) {
  const std::string out = render_table({"A", "B"}, {{"bücher.example", "x"}, {"z"}});
  EXPECT_EQ(out,
            "A               B\n"
            "bücher.example  x\n"
            "z\n");
  EXPECT_EQ(display_width("bücher"), 6u);
}

TEST(Table, FieldsAlignValuesAfterTheLongestKey) {
  EXPECT_EQ(render_fields({{"domain", "sink.test"}, {"in flight", "0"}, {"x", ""}}),
            "domain     sink.test\n"
            "in flight  0\n"
            "x\n");
}

}  // namespace
}  // namespace ringpost::ctl
