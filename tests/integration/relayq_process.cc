#include "tests/integration/relayq_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

namespace relayq::testing {
namespace {

struct Spawned {
  pid_t pid = -1;
  int out_fd = -1;
};

// fork+exec with stdout on a pipe and stderr to `err_path`.
Spawned Spawn(const std::string& workdir, const std::vector<std::string>& args,
              const std::map<std::string, std::string>& env, const std::string& err_path) {
  int out[2];
  if (pipe(out) != 0) return {};
  std::vector<std::string> argv_s = {RELAYQ_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s;
  for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = fork();
  if (pid == 0) {
    if (chdir(workdir.c_str()) != 0) _exit(126);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(out[1], 1);
    if (err >= 0) dup2(err, 2);
    close(out[0]);
    close(out[1]);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(out[1]);
  return {pid, out[0]};
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string ReadAll(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

}  // namespace

std::unique_ptr<RelayqProcess> RelayqProcess::Start(const ProcessOptions& options) {
  std::vector<std::string> args = {"serve", "--listen", "127.0.0.1:0", "--admin-listen",
                                   "127.0.0.1:0"};
  args.insert(args.end(), options.args.begin(), options.args.end());
  Spawned s = Spawn(options.workdir, args, options.env, options.workdir + "/relayq.stderr.log");
  if (s.pid <= 0) {
    ADD_FAILURE() << "cannot start relayq";
    return nullptr;
  }
  std::unique_ptr<RelayqProcess> p(new RelayqProcess());
  p->pid_ = s.pid;
  p->stdout_fd_ = s.out_fd;
  static const std::regex kListening(
      R"(relayq: listening public=https?://127\.0\.0\.1:(\d+) admin=http://127\.0\.0\.1:(\d+))");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd pfd{p->stdout_fd_, POLLIN, 0};
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    if (poll(&pfd, 1, std::max(left, 1)) <= 0) break;
    char buf[1024];
    ssize_t n = read(p->stdout_fd_, buf, sizeof buf);
    if (n <= 0) break;  // exited before listening
    p->stdout_.append(buf, static_cast<size_t>(n));
    std::smatch m;
    if (std::regex_search(p->stdout_, m, kListening)) {
      p->public_port_ = std::stoi(m[1]);
      p->admin_port_ = std::stoi(m[2]);
      return p;
    }
  }
  std::ifstream err(options.workdir + "/relayq.stderr.log");
  std::stringstream ss;
  ss << err.rdbuf();
  ADD_FAILURE() << "relayq did not report listening; stdout: " << p->stdout_
                << "\nstderr: " << ss.str();
  p->Kill();
  return nullptr;
}

RelayqProcess::~RelayqProcess() {
  if (pid_ > 0) Kill();
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

int RelayqProcess::Wait() {
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return DecodeWaitStatus(status);
}

int RelayqProcess::Terminate() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  return Wait();
}

int RelayqProcess::TerminateWithin(std::chrono::milliseconds limit) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return DecodeWaitStatus(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Kill();
  return -2;
}

void RelayqProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  Wait();
}

CommandResult RunRelayqWithin(const std::string& workdir, const std::vector<std::string>& args,
                              const std::map<std::string, std::string>& env,
                              std::chrono::milliseconds limit) {
  std::string err_path = workdir + "/command.stderr.tmp";
  unlink(err_path.c_str());
  Spawned s = Spawn(workdir, args, env, err_path);
  CommandResult r;
  if (s.pid <= 0) return r;
  std::mutex mu;
  std::condition_variable cv;
  bool exited = false;
  bool killed = false;
  std::thread watchdog;
  if (limit.count() > 0) {
    watchdog = std::thread([&] {
      std::unique_lock lock(mu);
      if (!cv.wait_for(lock, limit, [&] { return exited; })) {
        killed = true;
        kill(s.pid, SIGKILL);
      }
    });
  }
  r.out = ReadAll(s.out_fd);
  close(s.out_fd);
  int status = 0;
  waitpid(s.pid, &status, 0);
  {
    std::lock_guard lock(mu);
    exited = true;
  }
  cv.notify_all();
  if (watchdog.joinable()) watchdog.join();
  r.exit_code = killed ? -2 : DecodeWaitStatus(status);
  std::ifstream err(err_path);
  std::stringstream ss;
  ss << err.rdbuf();
  r.err = ss.str();
  unlink(err_path.c_str());
  return r;
}

CommandResult RunRelayq(const std::string& workdir, const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env) {
  return RunRelayqWithin(workdir, args, env, std::chrono::milliseconds(0));
}

}  // namespace relayq::testing
