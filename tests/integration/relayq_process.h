// RelayqProcess: the real relayq binary, started for a whole-process test.
//
// Start() runs `relayq serve` (or any subcommand through RunRelayq) in a
// working directory of the test's, with a controlled environment, and waits
// for the "relayq: listening public=... admin=..." line on its stdout (an
// event, not a sleep) to learn the ports it bound (tests pass port 0). Its
// stderr goes to <workdir>/relayq.stderr.log for post-mortems.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace relayq::testing {

// How many times slower than natively the relayq under test runs: 1, or
// RELAYQ_TEST_SLOWDOWN in a cross build whose tests run under qemu (set by
// tests/integration/CMakeLists.txt). Whole-process tests that bound how long
// relayq takes (an answer's promptness, a deadline's enforcement) multiply
// those bounds by it; what they count and compare stays exact. Under
// emulation the bounds so loosened show that nothing waits without end, not
// that a deadline holds to the native second: the native run checks that.
#ifdef RELAYQ_TEST_SLOWDOWN
inline constexpr int kSlowdown = RELAYQ_TEST_SLOWDOWN;
#else
inline constexpr int kSlowdown = 1;
#endif

struct ProcessOptions {
  std::string workdir;
  std::vector<std::string> args;           // after the binary name
  std::map<std::string, std::string> env;  // the whole environment
};

class RelayqProcess {
 public:
  // Starts `relayq serve --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0`
  // plus options.args; returns null (with a gtest failure) when it does not
  // report listening within 20 s.
  static std::unique_ptr<RelayqProcess> Start(const ProcessOptions& options);
  ~RelayqProcess();

  int public_port() const { return public_port_; }
  int admin_port() const { return admin_port_; }
  pid_t pid() const { return pid_; }
  const std::string& stdout_text() const { return stdout_; }

  // SIGTERM, then waits; returns the exit code (or 128+signal).
  int Terminate();
  // SIGTERM, then waits at most `limit`; -2 (after a SIGKILL) if it did not
  // exit in time: a hung shutdown fails the test instead of hanging it.
  int TerminateWithin(std::chrono::milliseconds limit);
  // SIGKILL, then waits: the crash case.
  void Kill();

 private:
  int Wait();

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int public_port_ = 0;
  int admin_port_ = 0;
  std::string stdout_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the relayq binary to completion with `args` in `workdir`.
CommandResult RunRelayq(const std::string& workdir, const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env);

// As RunRelayq, but SIGKILLs the command when it has not exited within
// `limit` (exit_code -2 then): for a command that should exit at once and,
// broken, would run on (a second `serve` on one store).
CommandResult RunRelayqWithin(const std::string& workdir, const std::vector<std::string>& args,
                              const std::map<std::string, std::string>& env,
                              std::chrono::milliseconds limit);

}  // namespace relayq::testing
