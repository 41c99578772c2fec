// The system calls Node cannot make: setns(2), to work inside a pod's network namespace; an rtnetlink socket, the
// kernel's interface for links, addresses and routes; and flock(2), the lock the reference host-local plugin takes
// on its store (POSIX and lock-directory locks do not exclude it). Starting plugins is in process.c, host-local's
// file calls in fs.c. Every fd the helper opens is close-on-exec, so no plugin it starts inherits one.
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
#include "fs.h"
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
  // Bound now (the kernel picks the port: this process's pid when free in that namespace) rather than at the first
  // send, so that its port is known before: a link created into this namespace is echoed to that port (rtnlPortId).
  struct sockaddr_nl any = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&any, sizeof any) != 0) {
    err = errno;
    close(fd);
    return throw_errno_at(env, "rtnetlink socket", "bind", err);
  }
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

// Large enough for any one message the kernel sends: it sizes dump messages by the reader's buffer, up to 32 KiB.
#define RECEIVE_SIZE 65536

// Requests sent in one write: one sendmsg however many, which the kernel handles one after the other (each refused
// one acknowledged with its error, and the next handled all the same).
#define MAX_BATCH 16

struct request {
  struct nlmsghdr h;
  void *payload;
  size_t len;
};

// Sends `count` requests in one datagram; returns 0 or an errno.
static int send_requests(int fd, struct request *reqs, uint32_t count) {
  static const char pad[NLMSG_ALIGNTO];
  struct iovec iov[3 * MAX_BATCH];
  int n = 0;
  for (uint32_t i = 0; i < count; i++) {
    size_t aligned = NLMSG_ALIGN(reqs[i].len);
    iov[n++] = (struct iovec){&reqs[i].h, NLMSG_HDRLEN};
    iov[n++] = (struct iovec){reqs[i].payload, reqs[i].len};
    // Every message after the first must start aligned.
    if (aligned != reqs[i].len) iov[n++] = (struct iovec){(void *)pad, aligned - reqs[i].len};
  }
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  struct msghdr m = {.msg_name = &kernel, .msg_namelen = sizeof kernel, .msg_iov = iov, .msg_iovlen = (size_t)n};
  for (;;) {
    if (sendmsg(fd, &m, 0) >= 0) return 0;
    if (errno != EINTR) return errno;
  }
}

// Reads the replies to requests seq0..seq0+count-1 until each is acknowledged (or its dump done): replies[i] gets
// the payloads of request i's replies, refused[i] its errno (0: done). Returns 0, or the errno of a failed receive
// (*failed_call names it).
static int receive_replies(napi_env env, int fd, uint32_t seq0, uint32_t count, napi_value *replies, int *refused,
    const char **failed_call) {
  char *buf = malloc(RECEIVE_SIZE);
  if (buf == NULL) {
    *failed_call = "malloc";
    return ENOMEM;
  }
  uint32_t counts[MAX_BATCH] = {0};
  bool done[MAX_BATCH] = {false};
  uint32_t left = count;
  int err = 0;
  while (left > 0) {
    struct sockaddr_nl from;
    socklen_t from_len = sizeof from;
    // MSG_TRUNC: the real length, to tell a message cut short from a whole one.
    ssize_t n = recvfrom(fd, buf, RECEIVE_SIZE, MSG_TRUNC, (struct sockaddr *)&from, &from_len);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      *failed_call = "recvfrom";
      break;
    }
    if (n > RECEIVE_SIZE) {
      err = EMSGSIZE;
      *failed_call = "recvfrom";
      break;
    }
    // Only the kernel answers; another process may send to our port, but its messages are not replies.
    if (from.nl_pid != 0) continue;
    for (size_t at = 0; left > 0 && at + NLMSG_HDRLEN <= (size_t)n; ) {
      struct nlmsghdr *h = (struct nlmsghdr *)(buf + at);
      if (h->nlmsg_len < NLMSG_HDRLEN || h->nlmsg_len > (size_t)n - at) break;
      at += NLMSG_ALIGN(h->nlmsg_len);
      // Left from an earlier request that failed half way: not ours.
      uint32_t i = h->nlmsg_seq - seq0;
      if (i >= count || done[i]) continue;
      size_t data_len = h->nlmsg_len - NLMSG_HDRLEN;
      if (h->nlmsg_type == NLMSG_ERROR) {
        // The acknowledgement: error 0, or the negative errno of a refusal.
        done[i] = true;
        left--;
        if (data_len >= sizeof(int)) refused[i] = -*(int *)NLMSG_DATA(h);
        else refused[i] = EBADMSG;
      } else if (h->nlmsg_type == NLMSG_DONE) {
        // The end of a dump, carrying the dump's error when it failed part way.
        done[i] = true;
        left--;
        if (data_len >= sizeof(int) && *(int *)NLMSG_DATA(h) < 0) refused[i] = -*(int *)NLMSG_DATA(h);
      } else if (h->nlmsg_type >= NLMSG_MIN_TYPE) {
        napi_value reply;
        napi_create_buffer_copy(env, data_len, NLMSG_DATA(h), NULL, &reply);
        napi_set_element(env, replies[i], counts[i]++, reply);
      }
    }
  }
  free(buf);
  return err;
}

// Replies are matched by sequence number; one counter for the process keeps them distinct on every socket.
static uint32_t next_seqs(uint32_t count) {
  static uint32_t last_seq;
  return __atomic_add_fetch(&last_seq, count, __ATOMIC_RELAXED) - count + 1;
}

// Reads what is already queued on `fd` without waiting, keeping in `replies` the messages answering `seq`: the
// echo of a request sent through another socket (NLM_F_ECHO), which the kernel queues before it acknowledges the
// request. Anything else queued there is left from a request that failed half way, and dropped as it would be.
// A receive error (say ENOBUFS: the echo did not fit) only means no echo.
static void receive_echo(napi_env env, int fd, uint32_t seq, napi_value replies) {
  char *buf = malloc(RECEIVE_SIZE);
  if (buf == NULL) return;
  uint32_t count = 0;
  napi_get_array_length(env, replies, &count);
  // The echo is one message: once it is read, nothing more is waited for (no read that only hears EAGAIN).
  for (bool found = false; !found; ) {
    struct sockaddr_nl from;
    socklen_t from_len = sizeof from;
    ssize_t n = recvfrom(fd, buf, RECEIVE_SIZE, MSG_TRUNC | MSG_DONTWAIT, (struct sockaddr *)&from, &from_len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || n > RECEIVE_SIZE) break;
    if (from.nl_pid != 0) continue;
    for (size_t at = 0; at + NLMSG_HDRLEN <= (size_t)n; ) {
      struct nlmsghdr *h = (struct nlmsghdr *)(buf + at);
      if (h->nlmsg_len < NLMSG_HDRLEN || h->nlmsg_len > (size_t)n - at) break;
      at += NLMSG_ALIGN(h->nlmsg_len);
      if (h->nlmsg_seq != seq || h->nlmsg_type < NLMSG_MIN_TYPE) continue;
      found = true;
      napi_value reply;
      napi_create_buffer_copy(env, h->nlmsg_len - NLMSG_HDRLEN, NLMSG_DATA(h), NULL, &reply);
      napi_set_element(env, replies, count++, reply);
    }
  }
  free(buf);
}

// rtnlPortId(fd): the port the kernel bound the socket to (0 when not bound yet).
static napi_value rtnl_port_id(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "rtnlPortId(fd)");
    return NULL;
  }
  struct sockaddr_nl addr;
  socklen_t len = sizeof addr;
  if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0) return throw_errno_at(env, "rtnetlink socket", "getsockname", errno);
  napi_value out;
  napi_create_uint32(env, addr.nl_pid, &out);
  return out;
}

// rtnlRequest(fd, type, flags, payload, echoFd?): sends one request (NLM_F_REQUEST | NLM_F_ACK added) and returns the
// payloads of its replies, every part of a dump, none for a bare acknowledgement. The kernel answers rtnetlink
// requests while they are sent (a dump's further parts while the previous is read), so waiting blocks only as
// long as the kernel works. A refusal throws an Error with the kernel's errno and no `syscall`; a failure of the
// socket itself (say ENOBUFS: a reply was dropped) one with the `syscall` that failed. With `echoFd`, the replies
// also hold what the kernel echoed to that socket (see receive_echo).
static napi_value rtnl_request(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  uint32_t type, flags;
  bool is_buffer = false;
  struct request req;
  if (argc < 4 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_uint32(env, argv[1], &type) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &flags) != napi_ok || napi_is_buffer(env, argv[3], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[3], &req.payload, &req.len) != napi_ok || type > UINT16_MAX || flags > UINT16_MAX ||
      req.len > UINT32_MAX - NLMSG_HDRLEN) {
    napi_throw_type_error(env, NULL, "rtnlRequest(fd, type, flags, payload)");
    return NULL;
  }
  uint32_t seq = next_seqs(1);
  req.h = (struct nlmsghdr){(uint32_t)(NLMSG_HDRLEN + req.len), (uint16_t)type, (uint16_t)(flags | NLM_F_REQUEST | NLM_F_ACK), seq, 0};
  int err = send_requests(fd, &req, 1);
  if (err != 0) return throw_errno_at(env, "rtnetlink send", "sendmsg", err);
  napi_value replies;
  napi_create_array(env, &replies);
  int refused = 0;
  const char *failed_call = NULL;
  err = receive_replies(env, fd, seq, 1, &replies, &refused, &failed_call);
  if (err != 0) return throw_errno_at(env, "rtnetlink receive", failed_call, err);
  if (refused != 0) return throw_errno(env, "rtnetlink request", refused);
  int32_t echo_fd = -1;
  napi_valuetype echo_type = napi_undefined;
  if (argc >= 5) napi_typeof(env, argv[4], &echo_type);
  if (echo_type == napi_number && napi_get_value_int32(env, argv[4], &echo_fd) == napi_ok && echo_fd >= 0) receive_echo(env, echo_fd, seq, replies);
  return replies;
}

// rtnlBatch(fd, requests): sends requests ([type, flags, payload] each, NLM_F_REQUEST | NLM_F_ACK added) in one
// write and reads every one's answer: returns, per request, the payloads of its replies or the errno the kernel
// refused it with. The kernel handles them in order, and the ones after a refused one too. Throws as rtnlRequest
// does when the socket itself fails.
static napi_value rtnl_batch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  bool is_array = false;
  uint32_t count = 0;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[1], &count) != napi_ok || count == 0 || count > MAX_BATCH) {
    napi_throw_type_error(env, NULL, "rtnlBatch(fd, requests) with 1 to 16 requests");
    return NULL;
  }
  struct request reqs[MAX_BATCH];
  uint32_t seq0 = next_seqs(count);
  for (uint32_t i = 0; i < count; i++) {
    napi_value r, t, f, p;
    uint32_t type, flags;
    bool is_buffer = false;
    if (napi_get_element(env, argv[1], i, &r) != napi_ok || napi_get_element(env, r, 0, &t) != napi_ok ||
        napi_get_element(env, r, 1, &f) != napi_ok || napi_get_element(env, r, 2, &p) != napi_ok ||
        napi_get_value_uint32(env, t, &type) != napi_ok || napi_get_value_uint32(env, f, &flags) != napi_ok ||
        napi_is_buffer(env, p, &is_buffer) != napi_ok || !is_buffer || napi_get_buffer_info(env, p, &reqs[i].payload, &reqs[i].len) != napi_ok ||
        type > UINT16_MAX || flags > UINT16_MAX || reqs[i].len > 65536) {
      napi_throw_type_error(env, NULL, "rtnlBatch(fd, [[type, flags, payload], ...])");
      return NULL;
    }
    reqs[i].h = (struct nlmsghdr){(uint32_t)(NLMSG_HDRLEN + reqs[i].len), (uint16_t)type, (uint16_t)(flags | NLM_F_REQUEST | NLM_F_ACK), seq0 + i, 0};
  }
  int err = send_requests(fd, reqs, count);
  if (err != 0) return throw_errno_at(env, "rtnetlink send", "sendmsg", err);
  napi_value replies[MAX_BATCH];
  int refused[MAX_BATCH] = {0};
  for (uint32_t i = 0; i < count; i++) napi_create_array(env, &replies[i]);
  const char *failed_call = NULL;
  err = receive_replies(env, fd, seq0, count, replies, refused, &failed_call);
  if (err != 0) return throw_errno_at(env, "rtnetlink receive", failed_call, err);
  napi_value out;
  napi_create_array_with_length(env, count, &out);
  for (uint32_t i = 0; i < count; i++) {
    napi_value v = replies[i];
    if (refused[i] != 0) napi_create_int32(env, refused[i], &v);
    napi_set_element(env, out, i, v);
  }
  return out;
}

// writeSysctls(netnsFd, keys, value): writes `value` to /proc/sys/<key> for each key, inside the network namespace
// of the open fd `netnsFd` (its /proc/sys/net is the pod's), in one visit; returns one errno (0: written) per key.
// Throws when the namespace cannot be entered.
static napi_value write_sysctls(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t nsfd;
  uint32_t count = 0;
  bool is_array = false;
  char value[64];
  size_t value_len;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &nsfd) != napi_ok || napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[1], &count) != napi_ok ||
      napi_get_value_string_utf8(env, argv[2], value, sizeof value, &value_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "writeSysctls(netnsFd, keys, value)");
    return NULL;
  }
  // The keys are read before entering: nothing that could fail half way runs inside the pod's namespace.
  char (*paths)[512] = calloc(count ? count : 1, 512);
  if (paths == NULL) return throw_errno(env, "writeSysctls", ENOMEM);
  for (uint32_t i = 0; i < count; i++) {
    napi_value key;
    size_t len;
    memcpy(paths[i], "/proc/sys/", 10);
    if (napi_get_element(env, argv[1], i, &key) != napi_ok ||
        napi_get_value_string_utf8(env, key, paths[i] + 10, 512 - 10, &len) != napi_ok) {
      free(paths);
      napi_throw_type_error(env, NULL, "writeSysctls(netnsFd, keys, value)");
      return NULL;
    }
  }
  // The way back, opened for this visit only: nothing of a call stays open after it.
  int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) {
    int err = errno;
    free(paths);
    return throw_errno(env, "/proc/thread-self/ns/net", err);
  }
  if (setns(nsfd, CLONE_NEWNET) != 0) {
    int err = errno;
    close(home);
    free(paths);
    return throw_errno_at(env, "setns", "setns", err);
  }
  int errs[count ? count : 1];
  for (uint32_t i = 0; i < count; i++) {
    int fd = open(paths[i], O_WRONLY | O_CLOEXEC);
    errs[i] = 0;
    if (fd < 0) {
      errs[i] = errno;
      continue;
    }
    ssize_t n;
    do n = write(fd, value, value_len); while (n < 0 && errno == EINTR);
    if (n < 0) errs[i] = errno;
    close(fd);
  }
  leave_netns(home);
  free(paths);
  napi_value out;
  napi_create_array_with_length(env, count, &out);
  for (uint32_t i = 0; i < count; i++) {
    napi_value e;
    napi_create_int32(env, errs[i], &e);
    napi_set_element(env, out, i, e);
  }
  return out;
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
    {"rtnlBatch", NULL, rtnl_batch, NULL, NULL, NULL, napi_default, NULL},
    {"rtnlPortId", NULL, rtnl_port_id, NULL, NULL, NULL, napi_default, NULL},
    {"flock", NULL, do_flock, NULL, NULL, NULL, napi_default, NULL},
    {"writeSysctls", NULL, write_sysctls, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  register_process(env, exports);
  register_fs(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
