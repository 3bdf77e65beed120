#include "support/server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

extern char** environ;

namespace promptops::testing {

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> BuildEnv(const std::vector<std::pair<std::string, std::string>>& set,
                                  const std::vector<std::string>& unset) {
  auto removed = [&](std::string_view entry) {
    std::string_view key = entry.substr(0, entry.find('='));
    for (const auto& u : unset)
      if (key == u) return true;
    for (const auto& [k, v] : set)
      if (key == k) return true;
    return false;
  };
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    if (!removed(*e)) env.emplace_back(*e);
  }
  for (const auto& [k, v] : set) env.push_back(k + "=" + v);
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

int WaitFor(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return ExitCodeOf(status);
}

}  // namespace

std::string PromptopsBinary() {
  const char* b = std::getenv("PROMPTOPS_BINARY");
  return b ? b : "";
}

ProcessResult RunProcess(const std::vector<std::string>& argv_in, const ProcessOptions& options) {
  ProcessResult result;
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.err = "pipe failed";
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  std::vector<std::string> argv = argv_in;
  std::vector<std::string> env = BuildEnv(options.set_env, options.unset_env);
  auto cargv = CStrings(argv);
  auto cenv = CStrings(env);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    result.err = "cannot start " + argv[0] + ": " + std::strerror(rc);
    return result;
  }
  // Feed stdin and read stdout/stderr together so no pipe fills up.
  std::size_t written = 0;
  int in_fd = in_pipe[1];
  if (options.stdin_data.empty()) {
    ::close(in_fd);
    in_fd = -1;
  } else {
    ::fcntl(in_fd, F_SETFL, O_NONBLOCK);
  }
  int fds[2] = {out_pipe[0], err_pipe[0]};
  std::string* sinks[2] = {&result.out, &result.err};
  const auto deadline = Clock::now() + options.timeout;
  bool killed = false;
  ::signal(SIGPIPE, SIG_IGN);
  while (fds[0] >= 0 || fds[1] >= 0) {
    std::vector<pollfd> pfds;
    for (int fd : fds) {
      if (fd >= 0) pfds.push_back({fd, POLLIN, 0});
    }
    if (in_fd >= 0) pfds.push_back({in_fd, POLLOUT, 0});
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      if (!killed) ::kill(pid, SIGKILL);
      killed = true;
      left = 1000;
    }
    int n = ::poll(pfds.data(), pfds.size(), static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    for (const auto& p : pfds) {
      if (p.revents == 0) continue;
      if (p.fd == in_fd) {
        ssize_t w = ::write(in_fd, options.stdin_data.data() + written,
                            options.stdin_data.size() - written);
        if (w > 0) written += static_cast<std::size_t>(w);
        if (w < 0 || written == options.stdin_data.size()) {
          ::close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      for (int i = 0; i < 2; ++i) {
        if (p.fd != fds[i]) continue;
        char buf[8192];
        ssize_t r = ::read(fds[i], buf, sizeof buf);
        if (r > 0) {
          sinks[i]->append(buf, static_cast<std::size_t>(r));
        } else if (r == 0 || errno != EINTR) {
          ::close(fds[i]);
          fds[i] = -1;
        }
      }
    }
  }
  if (in_fd >= 0) ::close(in_fd);
  result.exit_code = WaitFor(pid);
  return result;
}

struct ServerProcess::Impl {
  pid_t pid = -1;
  int out_fd = -1;
  std::filesystem::path log_path;
  std::thread reader;
  std::mutex mu;
  std::condition_variable cv;
  std::optional<std::string> url;  // set when the ready line was read
  bool eof = false;
  std::optional<int> exit_code;

  void Read() {
    std::string pending;
    char buf[4096];
    for (;;) {
      ssize_t r = ::read(out_fd, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      pending.append(buf, static_cast<std::size_t>(r));
      std::size_t nl;
      while ((nl = pending.find('\n')) != std::string::npos) {
        std::string line = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        static constexpr std::string_view kReady = "promptops listening on ";
        if (line.rfind(kReady, 0) == 0) {
          std::lock_guard<std::mutex> lock(mu);
          url = line.substr(kReady.size());
          cv.notify_all();
        }
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    eof = true;
    cv.notify_all();
  }
};

ServerProcess::ServerProcess(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  url_ = *impl_->url;
}

Result<std::unique_ptr<ServerProcess>> ServerProcess::Start(Options o) {
  std::string binary = PromptopsBinary();
  if (binary.empty()) return Error::Internal("PROMPTOPS_BINARY is not set");
  std::error_code ec;
  std::filesystem::create_directories(o.data_dir, ec);
  auto impl = std::make_unique<Impl>();
  impl->log_path = o.data_dir / "server.log";

  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return Error::Internal("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, impl->log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<std::string> argv = {binary,        "serve",  "--listen",
                                   "127.0.0.1:0", "--data", o.data_dir.string()};
  argv.insert(argv.end(), o.extra_args.begin(), o.extra_args.end());
  auto set_env = o.set_env;
  if (!o.admin_key.empty()) set_env.emplace_back("PROMPTOPS_ADMIN_KEY", o.admin_key);
  std::vector<std::string> env =
      BuildEnv(set_env, {"PROMPTOPS_CONFIG", "PROMPTOPS_LISTEN", "PROMPTOPS_DATA"});
  auto cargv = CStrings(argv);
  auto cenv = CStrings(env);
  int rc = ::posix_spawn(&impl->pid, binary.c_str(), &actions, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  if (rc != 0) {
    ::close(out_pipe[0]);
    return Error::Internal("cannot start " + binary + ": " + std::strerror(rc));
  }
  impl->out_fd = out_pipe[0];
  Impl* raw = impl.get();
  impl->reader = std::thread([raw] { raw->Read(); });

  bool ready;
  {
    std::unique_lock<std::mutex> lock(impl->mu);
    ready = impl->cv.wait_for(lock, o.start_timeout, [&] {
      return impl->url.has_value() || impl->eof;
    }) && impl->url.has_value();
  }
  if (!ready) {
    ::kill(impl->pid, SIGKILL);
    int code = WaitFor(impl->pid);
    impl->reader.join();
    ::close(impl->out_fd);
    std::ifstream in(impl->log_path);
    std::stringstream log;
    log << in.rdbuf();
    return Error::Unavailable("server did not get ready (exit code " + std::to_string(code) +
                              "); log:\n" + log.str());
  }
  return std::unique_ptr<ServerProcess>(new ServerProcess(std::move(impl)));
}

int ServerProcess::Kill(int signal) {
  if (impl_->exit_code) return *impl_->exit_code;
  ::kill(impl_->pid, signal);
  impl_->exit_code = WaitFor(impl_->pid);
  impl_->reader.join();
  ::close(impl_->out_fd);
  return *impl_->exit_code;
}

ServerProcess::~ServerProcess() { Stop(); }

std::string ServerProcess::Log() const {
  std::ifstream in(impl_->log_path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace promptops::testing
