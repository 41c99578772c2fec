// Starting a plugin's process and waiting for it without node:child_process, whose loading (Node's stream and net
// modules), stream objects per pipe and fork() of the whole Node process cost a pod's call about 13 ms per plugin;
// and leaving the process at the end of a call without Node's teardown.
//
// The plugin is started by posix_spawn (glibc's shares the parent's memory until the exec, CLONE_VFORK: no copy of
// Node's page tables) in a session of its own, so a kill of its process group reaches whatever it started, with
// every signal at its default and none blocked (Node ignores SIGPIPE, which exec would otherwise hand on). Its
// stdin, stdout and stderr are pipes. The wait runs on libuv's thread pool, so the event loop keeps serving the
// call's other work (Kubernetes requests) meanwhile.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <node_api.h>
#include "process.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

// Asks a run not to use pidfd_open, as on a kernel before 5.3 (RHEL 8's 4.18): the tests take both ways.
#define RUN_NO_PIDFD 1

// How often the wait looks for the plugin's exit without a pidfd while its pipes are open, at most.
#define POLL_NO_PIDFD_NS 10000000L
// How long it waits for a killed plugin to be gone before leaving it (a process in uninterruptible sleep).
#define REAP_AFTER_KILL_MS 1000

struct buffer {
  char *data;
  size_t len, cap;
};

struct run {
  napi_async_work work;
  napi_deferred deferred;
  pid_t pid;
  int in_fd, out_fd, err_fd, pid_fd, stop_fd;
  // The call's input, written while the outputs are read.
  char *input;
  size_t input_len, input_done;
  int64_t deadline_ns;
  int64_t grace_ns;
  size_t max_output;
  struct buffer out, err;
  // What happened; status is waitpid's when reaped.
  bool reaped, timed_out, overflow, finished;
  int status;
  int failure;
  const char *failed_call;
};

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// Milliseconds as given from JavaScript, bounded to a day (Infinity and NaN included).
static int64_t ms_to_ns(double ms) {
  if (!(ms > 0)) return 0;
  return ms < 86400e3 ? (int64_t)(ms * 1e6) : (int64_t)86400e3 * 1000000;
}

// The names of what pipe2, posix_spawn (execve's errors included) and eventfd may fail with. Not strerrorname_np:
// glibc 2.32's, and an installed copy runs with the host's glibc (RHEL 8 has 2.28).
static const char *errno_name(int err) {
  switch (err) {
    case E2BIG: return "E2BIG";
    case EACCES: return "EACCES";
    case EAGAIN: return "EAGAIN";
    case EFAULT: return "EFAULT";
    case EINVAL: return "EINVAL";
    case EIO: return "EIO";
    case EISDIR: return "EISDIR";
    case ELIBBAD: return "ELIBBAD";
    case ELOOP: return "ELOOP";
    case EMFILE: return "EMFILE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENFILE: return "ENFILE";
    case ENOENT: return "ENOENT";
    case ENOEXEC: return "ENOEXEC";
    case ENOMEM: return "ENOMEM";
    case ENOTDIR: return "ENOTDIR";
    case EPERM: return "EPERM";
    case ETXTBSY: return "ETXTBSY";
    default: return "ERRNO";
  }
}

// Throws an Error such as Node's spawn throws: code ENOENT, message "spawn <path> ENOENT", errno, syscall, path.
static napi_value throw_spawn_error(napi_env env, const char *path, const char *syscall, int err) {
  const char *name = errno_name(err);
  size_t len = strlen(path) + strlen(name) + 16;
  char *msg = malloc(len);
  if (msg == NULL) {
    napi_throw_error(env, name, "spawn: out of memory");
    return NULL;
  }
  snprintf(msg, len, "spawn %s %s", path, name);
  napi_value code, text, error, errnum, call, where;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  free(msg);
  napi_create_error(env, code, text, &error);
  napi_create_int32(env, -err, &errnum);
  napi_set_named_property(env, error, "errno", errnum);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &call);
  napi_set_named_property(env, error, "syscall", call);
  napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &where);
  napi_set_named_property(env, error, "path", where);
  napi_throw(env, error);
  return NULL;
}

// A pipe whose ends are close-on-exec and above stdin, stdout and stderr, so that the child's dup2 onto 0-2 never
// meets one of them (a process started with one of those closed gets it back from pipe2).
static int make_pipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) return errno;
  for (int i = 0; i < 2; i++) {
    if (fds[i] > 2) continue;
    int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
    if (moved < 0) {
      int err = errno;
      close(fds[0]);
      close(fds[1]);
      return err;
    }
    close(fds[i]);
    fds[i] = moved;
  }
  return 0;
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

static void kill_group(struct run *r) {
  // The plugin leads its own process group (setsid): the group outlives it while anything it started lives.
  kill(-r->pid, SIGKILL);
}

static bool append(struct buffer *b, const char *data, size_t len) {
  if (b->len + len > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + len) cap *= 2;
    char *grown = realloc(b->data, cap);
    if (grown == NULL) return false;
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, len);
  b->len += len;
  return true;
}

// Reaps the plugin if it has exited; true when it has.
static bool try_reap(struct run *r) {
  if (r->reaped) return true;
  pid_t got;
  do got = waitpid(r->pid, &r->status, WNOHANG);
  while (got < 0 && errno == EINTR);
  if (got == r->pid || (got < 0 && errno == ECHILD)) r->reaped = true;
  return r->reaped;
}

// After a kill: waits (boundedly) for the plugin to be gone, so that no zombie is left behind.
static void reap_killed(struct run *r) {
  int64_t until = now_ns() + (int64_t)REAP_AFTER_KILL_MS * 1000000;
  while (!try_reap(r) && now_ns() < until) {
    if (r->pid_fd >= 0) {
      struct pollfd p = {.fd = r->pid_fd, .events = POLLIN};
      poll(&p, 1, 10);
    } else {
      struct timespec ts = {0, 200000};
      nanosleep(&ts, NULL);
    }
  }
}

// Reads what `fd` has; false at its end (or a failure, which ends it too). Stdout beyond max_output stops the run.
static bool drain(struct run *r, int *fd, bool is_out) {
  char chunk[65536];
  for (;;) {
    ssize_t n = read(*fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    if (n <= 0) {
      close_fd(fd);
      return false;
    }
    struct buffer *b = is_out ? &r->out : &r->err;
    if (is_out) {
      if (b->len + (size_t)n > r->max_output) {
        r->overflow = true;
        return true;
      }
    } else if (b->len >= r->max_output) {
      // Only the start of stderr is kept; the rest is read and dropped, so the plugin never blocks on it.
      continue;
    }
    if (!append(b, chunk, (size_t)n)) {
      r->failure = ENOMEM;
      r->failed_call = "read";
      return true;
    }
    if ((size_t)n < sizeof chunk) return true;
  }
}

static void write_input(struct run *r) {
  while (r->input_done < r->input_len) {
    ssize_t n = write(r->in_fd, r->input + r->input_done, r->input_len - r->input_done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n < 0) {
      // EPIPE: the plugin exited, or closed stdin, without reading it all. That is its answer, not our failure.
      break;
    }
    r->input_done += (size_t)n;
  }
  close_fd(&r->in_fd);
}

// On the thread pool: feeds stdin, reads stdout and stderr, and waits for the plugin's exit, until the plugin has
// exited and closed its pipes, the pipes stay open past the grace after its exit (a child it left holds them), the
// deadline passes, the caller stops it or stdout grows too large. Kills its process group in the last three cases.
static void run_execute(napi_env env, void *data) {
  (void)env;
  struct run *r = data;
  int64_t exited_at = 0;
  if (r->input_len == 0) close_fd(&r->in_fd);
  for (;;) {
    if (!r->reaped && r->pid_fd < 0 && try_reap(r)) exited_at = now_ns();
    if (r->reaped && exited_at == 0) exited_at = now_ns();
    if (r->reaped && r->out_fd < 0 && r->err_fd < 0) break;
    int64_t now = now_ns();
    if (now >= r->deadline_ns) {
      r->timed_out = true;
      break;
    }
    if (r->reaped && now >= exited_at + r->grace_ns) break;
    int64_t wait_ns = r->deadline_ns - now;
    if (r->reaped && exited_at + r->grace_ns - now < wait_ns) wait_ns = exited_at + r->grace_ns - now;
    if (!r->reaped && r->pid_fd < 0) {
      // Without a pidfd the exit is looked for between polls: often while the pipes are open; soon after they
      // closed, which a process does as it exits.
      int64_t step = (r->out_fd < 0 && r->err_fd < 0) ? 200000 : POLL_NO_PIDFD_NS;
      if (step < wait_ns) wait_ns = step;
    }
    struct pollfd p[5];
    int n = 0, in_at = -1, out_at = -1, err_at = -1, pid_at = -1;
    p[n] = (struct pollfd){.fd = r->stop_fd, .events = POLLIN};
    n++;
    if (r->in_fd >= 0) { in_at = n; p[n++] = (struct pollfd){.fd = r->in_fd, .events = POLLOUT}; }
    if (r->out_fd >= 0) { out_at = n; p[n++] = (struct pollfd){.fd = r->out_fd, .events = POLLIN}; }
    if (r->err_fd >= 0) { err_at = n; p[n++] = (struct pollfd){.fd = r->err_fd, .events = POLLIN}; }
    if (!r->reaped && r->pid_fd >= 0) { pid_at = n; p[n++] = (struct pollfd){.fd = r->pid_fd, .events = POLLIN}; }
    struct timespec ts = {.tv_sec = wait_ns / 1000000000, .tv_nsec = wait_ns % 1000000000};
    int ready = ppoll(p, (nfds_t)n, &ts, NULL);
    if (ready < 0) {
      if (errno == EINTR) continue;
      r->failure = errno;
      r->failed_call = "poll";
      break;
    }
    if (ready == 0) continue;
    if (p[0].revents) {
      r->timed_out = true;
      break;
    }
    if (in_at >= 0 && p[in_at].revents) write_input(r);
    if (out_at >= 0 && p[out_at].revents) drain(r, &r->out_fd, true);
    if (err_at >= 0 && p[err_at].revents) drain(r, &r->err_fd, false);
    if (r->overflow || r->failure) break;
    if (pid_at >= 0 && p[pid_at].revents) {
      pid_t got;
      do got = waitpid(r->pid, &r->status, 0);
      while (got < 0 && errno == EINTR);
      r->reaped = true;
      exited_at = now_ns();
    }
  }
  if (r->timed_out || r->overflow || r->failure) {
    kill_group(r);
    reap_killed(r);
  }
  // Pipes a child of the plugin still holds are abandoned: its writes fail from now on.
  close_fd(&r->in_fd);
  close_fd(&r->out_fd);
  close_fd(&r->err_fd);
  close_fd(&r->pid_fd);
}

static napi_value utf8(napi_env env, struct buffer *b) {
  napi_value s;
  napi_create_string_utf8(env, b->data ? b->data : "", b->len, &s);
  return s;
}

static void run_complete(napi_env env, napi_status status, void *data) {
  struct run *r = data;
  r->finished = true;
  close_fd(&r->stop_fd);
  napi_value result;
  napi_create_object(env, &result);
  napi_value code, signal, flag;
  if (r->reaped && WIFEXITED(r->status)) napi_create_int32(env, WEXITSTATUS(r->status), &code);
  else napi_get_null(env, &code);
  napi_set_named_property(env, result, "code", code);
  napi_create_int32(env, r->reaped && WIFSIGNALED(r->status) ? WTERMSIG(r->status) : 0, &signal);
  napi_set_named_property(env, result, "signal", signal);
  napi_set_named_property(env, result, "stdout", utf8(env, &r->out));
  napi_set_named_property(env, result, "stderr", utf8(env, &r->err));
  napi_get_boolean(env, r->timed_out, &flag);
  napi_set_named_property(env, result, "timedOut", flag);
  napi_get_boolean(env, r->overflow, &flag);
  napi_set_named_property(env, result, "overflow", flag);
  napi_get_boolean(env, r->reaped, &flag);
  napi_set_named_property(env, result, "reaped", flag);
  free(r->out.data);
  free(r->err.data);
  free(r->input);
  r->out.data = r->err.data = r->input = NULL;
  napi_delete_async_work(env, r->work);
  if (status != napi_ok || r->failure) {
    napi_value error, msg;
    char text[256];
    if (r->failure) snprintf(text, sizeof text, "waiting for the plugin: %s: %s", r->failed_call, strerror(r->failure));
    else snprintf(text, sizeof text, "the wait for the plugin was cancelled");
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &error);
    napi_reject_deferred(env, r->deferred, error);
    return;
  }
  napi_resolve_deferred(env, r->deferred, result);
}

// stop(): kills the plugin's process group and ends the wait (the caller gave up); nothing once the wait ended.
static napi_value run_stop(napi_env env, napi_callback_info info) {
  struct run *r;
  napi_get_cb_info(env, info, NULL, NULL, NULL, (void **)&r);
  if (!r->finished && r->stop_fd >= 0) {
    uint64_t one = 1;
    ssize_t n = write(r->stop_fd, &one, sizeof one);
    (void)n;
  }
  return NULL;
}

// The run's memory goes with its stop function, the last thing that may touch it.
static void run_free(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static char *string_arg(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (s != NULL) napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

// startPlugin(path, env, stdin, timeoutMs, maxOutput, graceMs, flags): starts `path` (argv [path]) with `env`
// ("KEY=value" strings) and returns {pid, done, stop}; throws as Node's spawn does when it cannot be started
// (code ENOENT, EACCES, ETXTBSY...). `done` resolves to {code, signal, stdout, stderr, timedOut, overflow, reaped}.
static napi_value start_plugin(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool is_array = false, is_buffer = false;
  double timeout_ms, max_output, grace_ms;
  uint32_t flags, env_count;
  void *input;
  size_t input_len;
  if (argc < 7 || napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array || napi_is_buffer(env, argv[2], &is_buffer) != napi_ok ||
      !is_buffer || napi_get_buffer_info(env, argv[2], &input, &input_len) != napi_ok ||
      napi_get_value_double(env, argv[3], &timeout_ms) != napi_ok || napi_get_value_double(env, argv[4], &max_output) != napi_ok ||
      napi_get_value_double(env, argv[5], &grace_ms) != napi_ok || napi_get_value_uint32(env, argv[6], &flags) != napi_ok ||
      napi_get_array_length(env, argv[1], &env_count) != napi_ok) {
    napi_throw_type_error(env, NULL, "startPlugin(path, env, stdin, timeoutMs, maxOutput, graceMs, flags)");
    return NULL;
  }
  char *path = string_arg(env, argv[0]);
  char **envp = calloc(env_count + 1, sizeof *envp);
  struct run *r = calloc(1, sizeof *r);
  bool ok = path != NULL && envp != NULL && r != NULL;
  for (uint32_t i = 0; ok && i < env_count; i++) {
    napi_value item;
    ok = napi_get_element(env, argv[1], i, &item) == napi_ok && (envp[i] = string_arg(env, item)) != NULL;
  }
  napi_value out = NULL;
  int in[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1};
  int err = 0;
  const char *failed = "spawn";
  if (!ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_error(env, "ENOMEM", "startPlugin: out of memory");
    goto done;
  }
  r->in_fd = r->out_fd = r->err_fd = r->pid_fd = r->stop_fd = -1;
  // Neither an exit nor a signal: what a plugin reaped by someone else (waitpid's ECHILD) reports, code null.
  r->status = -1;
  r->input = malloc(input_len ? input_len : 1);
  if (r->input == NULL) {
    err = ENOMEM;
    failed = "malloc";
    goto fail;
  }
  memcpy(r->input, input, input_len);
  r->input_len = input_len;
  if ((err = make_pipe(in)) != 0 || (err = make_pipe(outp)) != 0 || (err = make_pipe(errp)) != 0) {
    failed = "pipe2";
    goto fail;
  }
  r->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (r->stop_fd < 0) {
    err = errno;
    failed = "eventfd";
    goto fail;
  }
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, outp[1], 1);
  posix_spawn_file_actions_adddup2(&actions, errp[1], 2);
  posix_spawnattr_init(&attr);
  sigset_t all, none;
  // Every bit: glibc's sigfillset leaves out its own two signals (32 and 33), which its posix_spawn then leaves
  // ignored in the program it starts (libuv's children have them at their default too).
  memset(&all, 0xff, sizeof all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  char *child_argv[] = {path, NULL};
  err = posix_spawn(&r->pid, path, &actions, &attr, child_argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) goto fail;
  close_fd(&in[0]);
  close_fd(&outp[1]);
  close_fd(&errp[1]);
  r->in_fd = in[1];
  r->out_fd = outp[0];
  r->err_fd = errp[0];
  in[1] = outp[0] = errp[0] = -1;
  fcntl(r->in_fd, F_SETFL, O_NONBLOCK);
  fcntl(r->out_fd, F_SETFL, O_NONBLOCK);
  fcntl(r->err_fd, F_SETFL, O_NONBLOCK);
  // The exit as a readable fd (Linux 5.3); before that, the wait looks for it between polls.
  if (!(flags & RUN_NO_PIDFD)) r->pid_fd = (int)syscall(SYS_pidfd_open, r->pid, 0);
  r->deadline_ns = now_ns() + ms_to_ns(timeout_ms);
  r->grace_ns = ms_to_ns(grace_ms);
  r->max_output = (size_t)max_output;

  napi_value promise, name, stop, pid;
  napi_create_promise(env, &r->deferred, &promise);
  napi_create_string_utf8(env, "multus:plugin-wait", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, run_execute, run_complete, r, &r->work);
  napi_create_function(env, "stop", NAPI_AUTO_LENGTH, run_stop, r, &stop);
  napi_add_finalizer(env, stop, r, run_free, NULL, NULL);
  napi_create_int32(env, r->pid, &pid);
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "pid", pid);
  napi_set_named_property(env, out, "done", promise);
  napi_set_named_property(env, out, "stop", stop);
  napi_queue_async_work(env, r->work);
  // Freed with the stop function from now on.
  r = NULL;
  goto done;

fail:
  close_fd(&in[0]);
  close_fd(&in[1]);
  close_fd(&outp[0]);
  close_fd(&outp[1]);
  close_fd(&errp[0]);
  close_fd(&errp[1]);
  close_fd(&r->stop_fd);
  free(r->input);
  throw_spawn_error(env, path, failed, err);

done:
  free(path);
  if (envp != NULL)
    for (uint32_t i = 0; i < env_count; i++) free(envp[i]);
  free(envp);
  free(r);
  return out;
}

// exitNow(code): ends the process at once with `code` (_exit), skipping Node's teardown (about 1.3 ms), for a call
// whose output is all written: stdout and the log are written synchronously, and the event loop has run dry.
static napi_value exit_now(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t code = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc >= 1) napi_get_value_int32(env, argv[0], &code);
  _exit(code);
}

void register_process(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"startPlugin", NULL, start_plugin, NULL, NULL, NULL, napi_default, NULL},
    {"exitNow", NULL, exit_now, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
