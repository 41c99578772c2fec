// The two system calls Node cannot make: setns(2), to open a netlink socket inside a pod's network namespace, and
// flock(2), the lock the reference host-local plugin takes on its store (POSIX and lock-directory locks do not
// exclude it).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <node_api.h>

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[512];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, text, error;
  napi_create_string_utf8(env, err == ENOENT ? "ENOENT" : "ERRNO", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &error);
  napi_value errnum;
  napi_create_int32(env, err, &errnum);
  napi_set_named_property(env, error, "errno", errnum);
  napi_throw(env, error);
  return NULL;
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
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) return throw_errno(env, path, errno);
  int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) {
    int err = errno;
    close(target);
    return throw_errno(env, "/proc/thread-self/ns/net", err);
  }
  if (setns(target, CLONE_NEWNET) != 0) {
    int err = errno;
    close(target);
    close(home);
    return throw_errno(env, path, err);
  }
  close(target);
  napi_value global, result = NULL;
  napi_get_global(env, &global);
  napi_status status = napi_call_function(env, global, argv[1], 0, NULL, &result);
  // Back home on every path: a thread left in a pod's namespace would configure the wrong network afterwards.
  if (setns(home, CLONE_NEWNET) != 0) abort();
  close(home);
  return status == napi_ok ? result : NULL;
}

// flock(fd, exclusive, wait): false when `wait` is false and another process holds the lock.
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
    {"flock", NULL, do_flock, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 2, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
