// interop_mx_serve: one interop MX (PostfixMx, EximMx or OpenSmtpdMx) started from a shell, with
// exactly the configuration the interop tests give it, for benches (bench/servers/run.sh) and
// manual poking. Prints "ready ENDPOINT DIR" once the server listens, serves until SIGTERM,
// SIGINT or EOF on stdin, then stops every process of the server and removes DIR.
// Single-threaded; the server object is destroyed on every exit path but a crash (the daemon
// then dies of PR_SET_PDEATHSIG, tests/support/child_process.h).
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "tests/interop/exim_mx.h"
#include "tests/interop/opensmtpd_mx.h"
#include "tests/interop/postfix_mx.h"

namespace {

using namespace ringpost::interop;

int usage() {
  std::fprintf(stderr,
               "usage: interop_mx_serve postfix|exim|opensmtpd DOMAIN [IP [PORT]]\n"
               "  IP, PORT: default the class's address and a free port\n");
  return 2;
}

template <class Mx>
int serve(MxOptions o) {
  if (auto why = Mx::unavailable_reason()) {
    std::fprintf(stderr, "interop_mx_serve: unavailable: %s\n", why->c_str());
    return 1;
  }
  auto mx = Mx::start(o);
  if (!mx) {
    std::fprintf(stderr, "interop_mx_serve: start failed: %s\n", mx.error().c_str());
    return 1;
  }
  // Blocked only now: the daemon inherits the signal mask across exec, and a daemon with
  // SIGTERM blocked could not be stopped by its own process-group signal.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  std::printf("ready %s %s\n", (*mx)->endpoint().c_str(), (*mx)->dir().c_str());
  std::fflush(stdout);
  // Either a signal or stdin closing (the caller died without signalling) ends the run; a
  // signalfd would do too, but a 200 ms poll of both is simpler and bounds the exit latency.
  for (;;) {
    timespec zero{0, 0};
    if (sigtimedwait(&set, nullptr, &zero) >= 0) break;
    pollfd p{STDIN_FILENO, POLLIN, 0};
    if (::poll(&p, 1, 200) > 0) {
      char buf[256];
      if (::read(STDIN_FILENO, buf, sizeof buf) <= 0) break;
    }
    if (!(*mx)->running()) {
      std::fprintf(stderr, "interop_mx_serve: the server exited: %s\n", (*mx)->describe().c_str());
      return 1;
    }
  }
  std::fprintf(stderr, "interop_mx_serve: %s delivered %d\n", (*mx)->kind().c_str(), (*mx)->delivered_count());
  (*mx)->stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 5) return usage();
  MxOptions o;
  o.domains = {argv[2]};
  if (argc >= 4) o.ip = argv[3];
  if (argc >= 5) o.port = static_cast<uint16_t>(std::atoi(argv[4]));
  std::string kind = argv[1];
  if (kind == "postfix") return serve<PostfixMx>(o);
  if (kind == "exim") return serve<EximMx>(o);
  if (kind == "opensmtpd") return serve<OpenSmtpdMx>(o);
  return usage();
}
