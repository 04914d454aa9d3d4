// The spool tests' fixtures, declared once: gtest requires every test of a suite to use the
// same fixture class, and SpoolCrash's tests live in more than one file.
#pragma once

#include "tests/integration/server_test.h"

namespace ringpost::it {

class SpoolCrash : public ServerTest {};

}  // namespace ringpost::it
