// A child process for integration tests (a server, smtp-sink, a follower): spawned from an argv
// with stdout+stderr captured to a file, waited on with deadlines, stopped with SIGTERM then
// SIGKILL, and always reaped. The implementation is tests/support's ChildProcess, shared with
// the interop and DNS harnesses; this name is the one the integration tests use.
#pragma once

#include "tests/support/child_process.h"

namespace ringpost::it {

using Process = test_support::ChildProcess;

}  // namespace ringpost::it
