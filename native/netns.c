// The system calls Node cannot make: setns(2), to work inside a pod's network namespace; an rtnetlink socket, the
// kernel's interface for links, addresses and routes; and flock(2), the lock the reference host-local plugin takes
// on its store (POSIX and lock-directory locks do not exclude it). Starting plugins is in process.c. Every fd the
// helper opens is close-on-exec, so no plugin it starts inherits one.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <node_api.h>
#include "process.h"

// Throws an Error with `errno`; `syscall` (may be NULL) names the failed call, as Node's own system errors do.
static napi_value throw_errno_at(napi_env env, const char *what, const char *syscall, int err) {
  char msg[512];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, text, error;
  napi_create_string_utf8(env, err == ENOENT ? "ENOENT" : "ERRNO", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &error);
  napi_value errnum;
  napi_create_int32(env, err, &errnum);
  napi_set_named_property(env, error, "errno", errnum);
  if (syscall != NULL) {
    napi_value name;
    napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &name);
    napi_set_named_property(env, error, "syscall", name);
  }
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_errno(napi_env env, const char *what, int err) {
  return throw_errno_at(env, what, NULL, err);
}

// Moves this thread into the network namespace at `path`; *home is then an fd of the namespace to return to with
// leave_netns. Returns 0, or an errno with nothing changed (and `what` naming the path that failed).
static int enter_netns(const char *path, int *home, const char **what) {
  *what = path;
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) return errno;
  *home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (*home < 0) {
    int err = errno;
    close(target);
    *what = "/proc/thread-self/ns/net";
    return err;
  }
  int err = setns(target, CLONE_NEWNET) == 0 ? 0 : errno;
  close(target);
  if (err != 0) close(*home);
  return err;
}

static void leave_netns(int home) {
  // A thread left in a pod's namespace would configure the wrong network afterwards: better to die.
  if (setns(home, CLONE_NEWNET) != 0) abort();
  close(home);
}

// withNetns(path, fn): enters the network namespace at `path` on this thread, calls fn(), and returns to the
// original namespace before returning or throwing, whatever fn did. Sockets fn opens stay in the pod's namespace.
static napi_value with_netns(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[4096];
  size_t len;
  if (argc < 2 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "withNetns(path, fn)");
    return NULL;
  }
  int home;
  const char *what;
  int err = enter_netns(path, &home, &what);
  if (err != 0) return throw_errno(env, what, err);
  napi_value global, result = NULL;
  napi_get_global(env, &global);
  napi_status status = napi_call_function(env, global, argv[1], 0, NULL, &result);
  leave_netns(home);
  return status == napi_ok ? result : NULL;
}

// rtnlOpen(path?): an rtnetlink socket (fd) in the network namespace at `path`, or in this thread's own one. A
// netlink socket stays in the namespace it was created in, so only its creation happens inside the pod's. It is
// not bound: the kernel binds it to a free port at its first send.
static napi_value rtnl_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype type = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  char path[4096];
  size_t len;
  int home = -1;
  if (type != napi_undefined) {
    if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok) {
      napi_throw_type_error(env, NULL, "rtnlOpen(path?)");
      return NULL;
    }
    const char *what;
    int err = enter_netns(path, &home, &what);
    if (err != 0) return throw_errno(env, what, err);
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  int err = errno;
  if (home >= 0) leave_netns(home);
  if (fd < 0) return throw_errno_at(env, "rtnetlink socket", "socket", err);
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

// Large enough for any one message the kernel sends: it sizes dump messages by the reader's buffer, up to 32 KiB.
#define RECEIVE_SIZE 65536

// Sends one request; returns 0 or an errno.
static int send_request(int fd, uint16_t type, uint16_t flags, uint32_t seq, void *payload, size_t len) {
  struct nlmsghdr h = {
    .nlmsg_len = (uint32_t)(NLMSG_HDRLEN + len),
    .nlmsg_type = type,
    .nlmsg_flags = flags,
    .nlmsg_seq = seq,
  };
  struct iovec iov[2] = {{&h, NLMSG_HDRLEN}, {payload, len}};
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  struct msghdr m = {.msg_name = &kernel, .msg_namelen = sizeof kernel, .msg_iov = iov, .msg_iovlen = 2};
  for (;;) {
    if (sendmsg(fd, &m, 0) >= 0) return 0;
    if (errno != EINTR) return errno;
  }
}

// rtnlRequest(fd, type, flags, payload): sends one request (NLM_F_REQUEST | NLM_F_ACK added) and returns the
// payloads of its replies, every part of a dump, none for a bare acknowledgement. The kernel answers rtnetlink
// requests while they are sent (a dump's further parts while the previous is read), so waiting blocks only as
// long as the kernel works. A refusal throws an Error with the kernel's errno and no `syscall`; a failure of the
// socket itself (say ENOBUFS: a reply was dropped) one with the `syscall` that failed.
static napi_value rtnl_request(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  uint32_t type, flags;
  bool is_buffer = false;
  void *payload = NULL;
  size_t len = 0;
  if (argc < 4 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_uint32(env, argv[1], &type) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &flags) != napi_ok || napi_is_buffer(env, argv[3], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[3], &payload, &len) != napi_ok || type > UINT16_MAX || flags > UINT16_MAX ||
      len > UINT32_MAX - NLMSG_HDRLEN) {
    napi_throw_type_error(env, NULL, "rtnlRequest(fd, type, flags, payload)");
    return NULL;
  }
  // Replies are matched by sequence number; one counter for the process keeps them distinct on every socket.
  static uint32_t last_seq;
  uint32_t seq = __atomic_add_fetch(&last_seq, 1, __ATOMIC_RELAXED);
  int err = send_request(fd, (uint16_t)type, (uint16_t)(flags | NLM_F_REQUEST | NLM_F_ACK), seq, payload, len);
  if (err != 0) return throw_errno_at(env, "rtnetlink send", "sendmsg", err);

  char *buf = malloc(RECEIVE_SIZE);
  if (buf == NULL) return throw_errno_at(env, "rtnetlink receive", "malloc", ENOMEM);
  napi_value replies;
  napi_create_array(env, &replies);
  uint32_t count = 0;
  const char *failed_call = NULL;
  int refused = 0;
  bool done = false;
  while (!done) {
    struct sockaddr_nl from;
    socklen_t from_len = sizeof from;
    // MSG_TRUNC: the real length, to tell a message cut short from a whole one.
    ssize_t n = recvfrom(fd, buf, RECEIVE_SIZE, MSG_TRUNC, (struct sockaddr *)&from, &from_len);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      failed_call = "recvfrom";
      break;
    }
    if (n > RECEIVE_SIZE) {
      err = EMSGSIZE;
      failed_call = "recvfrom";
      break;
    }
    // Only the kernel answers; another process may send to our port, but its messages are not replies.
    if (from.nl_pid != 0) continue;
    for (size_t at = 0; !done && at + NLMSG_HDRLEN <= (size_t)n; ) {
      struct nlmsghdr *h = (struct nlmsghdr *)(buf + at);
      if (h->nlmsg_len < NLMSG_HDRLEN || h->nlmsg_len > (size_t)n - at) break;
      at += NLMSG_ALIGN(h->nlmsg_len);
      // Left from an earlier request that failed half way: not ours.
      if (h->nlmsg_seq != seq) continue;
      size_t data_len = h->nlmsg_len - NLMSG_HDRLEN;
      if (h->nlmsg_type == NLMSG_ERROR) {
        // The acknowledgement: error 0, or the negative errno of a refusal.
        done = true;
        if (data_len >= sizeof(int)) refused = -*(int *)NLMSG_DATA(h);
        else refused = EBADMSG;
      } else if (h->nlmsg_type == NLMSG_DONE) {
        // The end of a dump, carrying the dump's error when it failed part way.
        done = true;
        if (data_len >= sizeof(int) && *(int *)NLMSG_DATA(h) < 0) refused = -*(int *)NLMSG_DATA(h);
      } else if (h->nlmsg_type >= NLMSG_MIN_TYPE) {
        napi_value reply;
        napi_create_buffer_copy(env, data_len, NLMSG_DATA(h), NULL, &reply);
        napi_set_element(env, replies, count++, reply);
      }
    }
  }
  free(buf);
  if (failed_call != NULL) return throw_errno_at(env, "rtnetlink receive", failed_call, err);
  if (refused != 0) return throw_errno(env, "rtnetlink request", refused);
  return replies;
}

// flock(fd, operation): false when LOCK_NB was given and another process holds the lock.
static napi_value do_flock(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd, op;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int32(env, argv[1], &op) != napi_ok) {
    napi_throw_type_error(env, NULL, "flock(fd, operation)");
    return NULL;
  }
  bool ok = true;
  if (flock(fd, op) != 0) {
    if (errno != EWOULDBLOCK) return throw_errno(env, "flock", errno);
    ok = false;
  }
  napi_value out;
  napi_get_boolean(env, ok, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"withNetns", NULL, with_netns, NULL, NULL, NULL, napi_default, NULL},
    {"rtnlOpen", NULL, rtnl_open, NULL, NULL, NULL, napi_default, NULL},
    {"rtnlRequest", NULL, rtnl_request, NULL, NULL, NULL, napi_default, NULL},
    {"flock", NULL, do_flock, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  register_process(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
