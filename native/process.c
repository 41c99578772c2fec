// Starting a plugin's process and waiting for it without node:child_process, whose loading (Node's stream and net
// modules), stream objects per pipe and fork() of the whole Node process cost a pod's call about 13 ms per plugin;
// and leaving the process at the end of a call without Node's teardown.
//
// The plugin is started by posix_spawn (glibc's shares the parent's memory until the exec, CLONE_VFORK: no copy of
// Node's page tables) in a session of its own, so a kill of its process group reaches whatever it started, with
// every signal at its default and none blocked (Node ignores SIGPIPE, which exec would otherwise hand on). Its
// stdin, stdout and stderr are pipes. The wait runs on the event loop (libuv's handles on the pipes, on a pidfd for
// the exit and a timer for the deadline), which keeps serving the call's other work (Kubernetes requests)
// meanwhile: not on libuv's thread pool, whose first use starts 4 threads (0.5-13 ms here) that then compete with
// the plugin for the CPUs.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>
#include "args.h"
#include "process.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

// Asks a run not to use pidfd_open, as on a kernel before 5.3 (RHEL 8's 4.18): the tests take both ways.
#define RUN_NO_PIDFD 1

// How long it waits for a killed plugin to be gone before leaving it (a process in uninterruptible sleep).
#define REAP_AFTER_KILL_NS 1000000000L

struct buffer {
  char *data;
  size_t len, cap;
};

// One of the run's fds and the event-loop handle that watches it.
struct watched {
  int fd;
  bool polled;
  uv_poll_t poll;
};

enum state { RUNNING, KILLING, DONE };

struct run {
  napi_env env;
  napi_deferred deferred;
  napi_async_context context;
  uv_loop_t *loop;
  pid_t pid;
  struct watched in, out, err, pid_fd;
  // Without a pidfd the exit comes as SIGCHLD (any child's: each run then looks for its own).
  uv_signal_t child_signal;
  bool signal_started;
  // The deadline, the pipes' grace after the exit, and the wait for a killed plugin to be gone.
  uv_timer_t timer;
  // The event-loop handles not yet closed, and the stop function while JavaScript holds it: the memory goes with
  // the last of them.
  int handles;
  bool stop_held;
  // The call's input, written while the outputs are read.
  char *input;
  size_t input_len, input_done;
  int64_t deadline_ns, grace_ns, exited_at, kill_until;
  size_t max_output;
  struct buffer out_buf, err_buf;
  // What happened; status is waitpid's when reaped.
  enum state state;
  bool reaped, timed_out, overflow;
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

static void maybe_free(struct run *r) {
  if (r->handles == 0 && !r->stop_held) free(r);
}

static void handle_closed(uv_handle_t *h) {
  struct run *r = h->data;
  r->handles--;
  maybe_free(r);
}

// Stops watching `w` and closes its fd.
static void unwatch(struct run *r, struct watched *w) {
  if (w->polled) {
    uv_close((uv_handle_t *)&w->poll, handle_closed);
    w->polled = false;
  }
  if (w->fd >= 0) close(w->fd);
  w->fd = -1;
}

static void on_fd(uv_poll_t *h, int status, int events);

// Watches `w` for `events`; a failure ends the run (it is killed).
static bool watch(struct run *r, struct watched *w, int events) {
  int rc = uv_poll_init(r->loop, &w->poll, w->fd);
  if (rc == 0) {
    w->poll.data = r;
    r->handles++;
    w->polled = true;
    rc = uv_poll_start(&w->poll, events, on_fd);
  }
  if (rc != 0 && !r->failure) {
    r->failure = -rc;
    r->failed_call = "uv_poll_start";
  }
  return rc == 0;
}

// Reaps the plugin if it has exited; true when it has.
static bool try_reap(struct run *r) {
  if (r->reaped) return true;
  pid_t got;
  do got = waitpid(r->pid, &r->status, WNOHANG);
  while (got < 0 && errno == EINTR);
  if (got == r->pid || (got < 0 && errno == ECHILD)) {
    r->reaped = true;
    r->exited_at = now_ns();
    unwatch(r, &r->pid_fd);
    if (r->signal_started) {
      uv_close((uv_handle_t *)&r->child_signal, handle_closed);
      r->signal_started = false;
    }
  }
  return r->reaped;
}

static void on_timer(uv_timer_t *t);

// Sets the timer to the run's next moment: the deadline, the end of the pipes' grace after the exit, or the end of
// the wait for a killed plugin.
static void arm(struct run *r) {
  int64_t due = r->deadline_ns;
  if (r->state == KILLING) due = r->kill_until;
  else if (r->reaped && r->exited_at + r->grace_ns < due) due = r->exited_at + r->grace_ns;
  int64_t left = due - now_ns();
  // libuv counts whole milliseconds from the loop's clock: the timer may fire a little early, and is set again.
  uv_update_time(r->loop);
  uv_timer_start(&r->timer, on_timer, left > 0 ? (uint64_t)((left + 999999) / 1000000) : 0, 0);
}

static napi_value utf8(napi_env env, struct buffer *b) {
  napi_value s;
  napi_create_string_utf8(env, b->data ? b->data : "", b->len, &s);
  return s;
}

// Ends the run: closes what is left open (pipes a child of the plugin still holds are abandoned: its writes fail
// from now on) and settles the promise, from an event-loop callback (the scope runs the promise's reactions).
static void finish(struct run *r) {
  r->state = DONE;
  unwatch(r, &r->in);
  unwatch(r, &r->out);
  unwatch(r, &r->err);
  unwatch(r, &r->pid_fd);
  if (r->signal_started) {
    uv_close((uv_handle_t *)&r->child_signal, handle_closed);
    r->signal_started = false;
  }
  uv_close((uv_handle_t *)&r->timer, handle_closed);
  napi_env env = r->env;
  napi_handle_scope handles;
  napi_open_handle_scope(env, &handles);
  napi_value resource;
  napi_create_object(env, &resource);
  napi_callback_scope scope;
  napi_open_callback_scope(env, resource, r->context, &scope);
  if (r->failure) {
    napi_value error, msg;
    char text[256];
    snprintf(text, sizeof text, "waiting for the plugin: %s: %s", r->failed_call, strerror(r->failure));
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &error);
    napi_reject_deferred(env, r->deferred, error);
  } else {
    napi_value result;
    napi_create_object(env, &result);
    napi_value code, signal, flag;
    if (r->reaped && WIFEXITED(r->status)) napi_create_int32(env, WEXITSTATUS(r->status), &code);
    else napi_get_null(env, &code);
    napi_set_named_property(env, result, "code", code);
    napi_create_int32(env, r->reaped && WIFSIGNALED(r->status) ? WTERMSIG(r->status) : 0, &signal);
    napi_set_named_property(env, result, "signal", signal);
    napi_set_named_property(env, result, "stdout", utf8(env, &r->out_buf));
    napi_set_named_property(env, result, "stderr", utf8(env, &r->err_buf));
    napi_get_boolean(env, r->timed_out, &flag);
    napi_set_named_property(env, result, "timedOut", flag);
    napi_get_boolean(env, r->overflow, &flag);
    napi_set_named_property(env, result, "overflow", flag);
    napi_get_boolean(env, r->reaped, &flag);
    napi_set_named_property(env, result, "reaped", flag);
    napi_resolve_deferred(env, r->deferred, result);
  }
  free(r->out_buf.data);
  free(r->err_buf.data);
  free(r->input);
  r->out_buf.data = r->err_buf.data = r->input = NULL;
  napi_close_callback_scope(env, scope);
  napi_close_handle_scope(env, handles);
  napi_async_destroy(env, r->context);
}

static bool drain(struct run *r, struct watched *w, struct buffer *b, bool is_out);

// Kills the plugin's process group (the plugin leads it, setsid: the group outlives it while anything it started
// lives), stops reading (each pipe once more: what the plugin wrote before is its answer, and stderr may say why;
// its event may have come after stdout's overflow or after the exit),
// and gives the plugin a second to be gone, so that no zombie is left behind.
static void kill_group(struct run *r) {
  if (r->state != RUNNING) return;
  r->state = KILLING;
  kill(-r->pid, SIGKILL);
  if (r->out.fd >= 0 && !r->overflow) drain(r, &r->out, &r->out_buf, true);
  if (r->err.fd >= 0) drain(r, &r->err, &r->err_buf, false);
  unwatch(r, &r->in);
  unwatch(r, &r->out);
  unwatch(r, &r->err);
  // Already reaped: it ends on the timer at once, from the event loop.
  r->kill_until = r->reaped ? 0 : now_ns() + REAP_AFTER_KILL_NS;
  arm(r);
}

// After each event: the run ends once the plugin has exited and closed its pipes, and is killed once its stdout
// grew too large or the wait failed.
static void advance(struct run *r) {
  if (r->state != RUNNING) return;
  if (r->overflow || r->failure) kill_group(r);
  else if (r->reaped && r->out.fd < 0 && r->err.fd < 0) finish(r);
  else if (r->reaped) arm(r);
}

static void on_timer(uv_timer_t *t) {
  struct run *r = t->data;
  int64_t now = now_ns();
  if (r->state == KILLING) {
    if (try_reap(r) || now >= r->kill_until) finish(r);
    else arm(r);
  } else if (now >= r->deadline_ns) {
    r->timed_out = true;
    kill_group(r);
  } else if (r->reaped && now >= r->exited_at + r->grace_ns) {
    finish(r);
  } else {
    arm(r);
  }
}

static void on_plugin_exit(struct run *r) {
  if (r->state == DONE || !try_reap(r)) return;
  if (r->state == KILLING) finish(r);
  else advance(r);
}

static void on_child_signal(uv_signal_t *h, int signum) {
  (void)signum;
  on_plugin_exit(h->data);
}

// Reads what `w` has; false at its end (or a failure, which ends it too). Stdout beyond max_output stops the run.
static bool drain(struct run *r, struct watched *w, struct buffer *b, bool is_out) {
  char chunk[65536];
  for (;;) {
    ssize_t n = read(w->fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    if (n <= 0) {
      unwatch(r, w);
      return false;
    }
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
    ssize_t n = write(r->in.fd, r->input + r->input_done, r->input_len - r->input_done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n < 0) {
      // EPIPE: the plugin exited, or closed stdin, without reading it all. That is its answer, not our failure.
      break;
    }
    r->input_done += (size_t)n;
  }
  unwatch(r, &r->in);
}

// An event on one of the run's fds. A poll error (a pipe whose other end is gone) ends that pipe as its end would.
static void on_fd(uv_poll_t *h, int status, int events) {
  (void)events;
  struct run *r = h->data;
  if (h == &r->pid_fd.poll) {
    on_plugin_exit(r);
    return;
  }
  if (r->state != RUNNING) return;
  if (h == &r->in.poll) {
    if (status < 0) unwatch(r, &r->in);
    else write_input(r);
  } else if (h == &r->out.poll) {
    if (status < 0) unwatch(r, &r->out);
    else drain(r, &r->out, &r->out_buf, true);
  } else {
    if (status < 0) unwatch(r, &r->err);
    else drain(r, &r->err, &r->err_buf, false);
  }
  advance(r);
}

// stop(): kills the plugin's process group and ends the wait (the caller gave up); nothing once the wait ended.
static napi_value run_stop(napi_env env, napi_callback_info info) {
  struct run *r;
  napi_get_cb_info(env, info, NULL, NULL, NULL, (void **)&r);
  if (r->state == RUNNING) {
    r->timed_out = true;
    kill_group(r);
  }
  return NULL;
}

// The stop function is gone: the run's memory goes once its event-loop handles are closed too.
static void run_free(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct run *r = data;
  r->stop_held = false;
  maybe_free(r);
}

// startPlugin(path, env, stdin, timeoutMs, maxOutput, graceMs, flags): starts `path` (argv [path]) with `env`
// ("KEY=value" strings) and returns {pid, done, stop}; throws as Node's spawn does when it cannot be started
// (code ENOENT, EACCES, ETXTBSY...). `done` resolves to {code, signal, stdout, stderr, timedOut, overflow, reaped}.
#define START_USAGE "startPlugin(path, env, stdin, timeoutMs, maxOutput, graceMs, flags)"
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
    napi_throw_type_error(env, NULL, START_USAGE);
    return NULL;
  }
  char *path = string_copy(env, argv[0], START_USAGE, NULL);
  char **envp = calloc(env_count + 1, sizeof *envp);
  struct run *r = calloc(1, sizeof *r);
  bool ok = path != NULL && envp != NULL && r != NULL;
  for (uint32_t i = 0; ok && i < env_count; i++) {
    napi_value item;
    ok = napi_get_element(env, argv[1], i, &item) == napi_ok && (envp[i] = string_copy(env, item, START_USAGE, NULL)) != NULL;
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
  r->in.fd = r->out.fd = r->err.fd = r->pid_fd.fd = -1;
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
  r->in.fd = in[1];
  r->out.fd = outp[0];
  r->err.fd = errp[0];
  in[1] = outp[0] = errp[0] = -1;
  r->deadline_ns = now_ns() + ms_to_ns(timeout_ms);
  r->grace_ns = ms_to_ns(grace_ms);
  r->max_output = (size_t)max_output;

  // From here on the run goes on in the event loop, whatever fails: a failure kills the plugin and rejects `done`.
  r->env = env;
  r->stop_held = true;
  napi_get_uv_event_loop(env, &r->loop);
  napi_value promise, name, stop, pid;
  napi_create_promise(env, &r->deferred, &promise);
  napi_create_string_utf8(env, "multus:plugin-wait", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &r->context);
  uv_timer_init(r->loop, &r->timer);
  r->timer.data = r;
  r->handles++;
  if (input_len == 0) close_fd(&r->in.fd);
  if (r->in.fd >= 0) watch(r, &r->in, UV_WRITABLE);
  watch(r, &r->out, UV_READABLE);
  watch(r, &r->err, UV_READABLE);
  // The exit as a readable fd (Linux 5.3); before that, as SIGCHLD, looked for once the handler is in place in case
  // the plugin exited before.
  if (!(flags & RUN_NO_PIDFD)) r->pid_fd.fd = (int)syscall(SYS_pidfd_open, r->pid, 0);
  if (r->pid_fd.fd >= 0) {
    watch(r, &r->pid_fd, UV_READABLE);
  } else {
    int rc = uv_signal_init(r->loop, &r->child_signal);
    if (rc == 0) {
      r->child_signal.data = r;
      r->handles++;
      r->signal_started = true;
      rc = uv_signal_start(&r->child_signal, on_child_signal, SIGCHLD);
    }
    if (rc != 0 && !r->failure) {
      r->failure = -rc;
      r->failed_call = "uv_signal_start";
    }
    try_reap(r);
  }
  if (r->failure) kill_group(r);
  else arm(r);
  napi_create_function(env, "stop", NAPI_AUTO_LENGTH, run_stop, r, &stop);
  napi_add_finalizer(env, stop, r, run_free, NULL, NULL);
  napi_create_int32(env, r->pid, &pid);
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "pid", pid);
  napi_set_named_property(env, out, "done", promise);
  napi_set_named_property(env, out, "stop", stop);
  // Freed with the stop function and the event-loop handles from now on.
  r = NULL;
  goto done;

fail:
  close_fd(&in[0]);
  close_fd(&in[1]);
  close_fd(&outp[0]);
  close_fd(&outp[1]);
  close_fd(&errp[0]);
  close_fd(&errp[1]);
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
