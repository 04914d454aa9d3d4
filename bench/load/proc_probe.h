// What /proc says about the server under test: its CPU time (all threads, user + system) and
// memory, and which process listens on a TCP port. Linux only; reads only.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace ringpost::load {

struct ProcSample {
  bool ok = false;
  double cpu_s = 0;     // utime + stime of every thread, from /proc/PID/stat
  uint64_t rss_kb = 0;  // VmRSS
  uint64_t hwm_kb = 0;  // VmHWM: peak RSS since the process started
};

ProcSample sample_process(pid_t pid);
// The pid holding a socket that LISTENs on 127.0.0.1/0.0.0.0/any-v6 :port, or 0.
pid_t find_listener(uint16_t port);

}  // namespace ringpost::load
