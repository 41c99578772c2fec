// File system calls for host-local's store without Node's fs module. A host-local call is short (the process a Go
// plugin starts for its IPAM lives about 40 ms, most of it Node's start), and Node's fs functions are JavaScript that
// V8 compiles on each one's first use in every process (openSync, fstatSync, readdirSync, writeSync, ... with their
// argument checks and error wrappers), then allocates a Stats object or an Error for what is an expected answer
// (EEXIST when an address is taken, ENOENT for a store that does not exist yet). Here each call is one C function:
// it returns a number (an fd, a count, 0) or the negative errno, never throws for what the system answered, and
// opens every fd close-on-exec.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>
#include "args.h"
#include "fs.h"

// Returned by an open that asked for a regular file and found something else: not an errno (those are below 4096).
#define NOT_REGULAR (-4096)

static napi_value number(napi_env env, int32_t n) {
  napi_value out;
  napi_create_int32(env, n, &out);
  return out;
}

static bool args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *usage) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < want) {
    napi_throw_type_error(env, NULL, usage);
    return false;
  }
  return true;
}

// A path (or a name in a directory) as string_copy gives it, and in *nul whether it has a NUL inside, which C
// would cut it at: such a path is refused with EINVAL, as Go's system calls refuse it (Node throws).
static char *path_arg(napi_env env, napi_value value, const char *usage, bool *nul) {
  size_t len;
  char *s = string_copy(env, value, usage, &len);
  *nul = s != NULL && strlen(s) != len;
  return s;
}

static bool int_arg(napi_env env, napi_value value, int32_t *out, const char *usage) {
  if (napi_get_value_int32(env, value, out) != napi_ok) {
    napi_throw_type_error(env, NULL, usage);
    return false;
  }
  return true;
}

// Opens `path` close-on-exec; with `regular`, only a regular file (checked on the fd, so nothing can be swapped in
// between): NOT_REGULAR otherwise.
static int open_at(int dir, const char *path, int flags, int mode, bool regular) {
  int fd = openat(dir, path, flags | O_CLOEXEC, mode);
  if (fd < 0) return -errno;
  if (regular) {
    struct stat st;
    // The system call itself: glibc 2.33's fstat is a new symbol, which RHEL 8's glibc (2.28) does not have.
    int r = syscall(SYS_fstat, fd, &st) != 0 ? -errno : S_ISREG(st.st_mode) ? 0 : NOT_REGULAR;
    if (r != 0) {
      close(fd);
      return r;
    }
  }
  return fd;
}

// Reads a regular file, up to `max` bytes (from `offset`, or the fd's position when negative), into a new JavaScript
// string (UTF-8); -EFBIG when there is more than `max`, the negative errno when a read fails.
static napi_value read_text(napi_env env, int fd, int32_t max, int32_t offset) {
  if (max < 0 || max > (1 << 30)) max = 1 << 30;
  size_t cap = max < 4096 ? (size_t)max + 1 : 4096;
  char *buf = malloc(cap);
  if (buf == NULL) return number(env, -ENOMEM);
  size_t len = 0;
  for (;;) {
    if (len == cap) {
      if (len > (size_t)max) break;
      size_t next = cap * 2 > (size_t)max + 1 ? (size_t)max + 1 : cap * 2;
      char *grown = realloc(buf, next);
      if (grown == NULL) {
        free(buf);
        return number(env, -ENOMEM);
      }
      buf = grown;
      cap = next;
    }
    size_t want = cap - len;
    ssize_t n = offset >= 0 ? pread(fd, buf + len, want, offset + (off_t)len) : read(fd, buf + len, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      free(buf);
      return number(env, -err);
    }
    len += (size_t)n;
    // A regular file (all this reads) comes short only at its end: no second read to hear it again.
    if ((size_t)n < want) break;
  }
  if (len > (size_t)max) {
    free(buf);
    return number(env, -EFBIG);
  }
  napi_value out;
  napi_create_string_utf8(env, buf, len, &out);
  free(buf);
  return out;
}

// fsOpen(path, flags, mode, regular): the fd, or the negative errno, or NOT_REGULAR.
static napi_value fs_open(napi_env env, napi_callback_info info) {
  static const char usage[] = "fsOpen(path, flags, mode, regular)";
  napi_value argv[4];
  if (!args(env, info, 4, argv, usage)) return NULL;
  int32_t flags, mode;
  bool regular;
  if (!int_arg(env, argv[1], &flags, usage) || !int_arg(env, argv[2], &mode, usage)) return NULL;
  if (napi_get_value_bool(env, argv[3], &regular) != napi_ok) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  bool nul;
  char *path = path_arg(env, argv[0], usage, &nul);
  if (path == NULL) return NULL;
  int fd = nul ? -EINVAL : open_at(AT_FDCWD, path, (int)flags, (int)mode, regular);
  free(path);
  return number(env, fd);
}

// fsRead(fd, max, offset): the content as text, or the negative errno (-EFBIG: longer than max).
static napi_value fs_read(napi_env env, napi_callback_info info) {
  static const char usage[] = "fsRead(fd, max, offset)";
  napi_value argv[3];
  int32_t fd, max, offset;
  if (!args(env, info, 3, argv, usage) || !int_arg(env, argv[0], &fd, usage) || !int_arg(env, argv[1], &max, usage)
      || !int_arg(env, argv[2], &offset, usage)) {
    return NULL;
  }
  return read_text(env, (int)fd, max, offset);
}

// fsWrite(fd, text, offset): writes all of the text (UTF-8) at `offset`, or at the fd's position when negative;
// the bytes written, or the negative errno.
static napi_value fs_write(napi_env env, napi_callback_info info) {
  static const char usage[] = "fsWrite(fd, text, offset)";
  napi_value argv[3];
  int32_t fd, offset;
  if (!args(env, info, 3, argv, usage) || !int_arg(env, argv[0], &fd, usage) || !int_arg(env, argv[2], &offset, usage)) {
    return NULL;
  }
  size_t len;
  char *text = string_copy(env, argv[1], usage, &len);
  if (text == NULL) return NULL;
  size_t done = 0;
  while (done < len) {
    ssize_t n = offset >= 0 ? pwrite((int)fd, text + done, len - done, offset + (off_t)done) : write((int)fd, text + done, len - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      free(text);
      return number(env, -err);
    }
    done += (size_t)n;
  }
  free(text);
  return number(env, (int32_t)done);
}

// fsTruncate(fd, length): 0 or the negative errno.
static napi_value fs_truncate(napi_env env, napi_callback_info info) {
  static const char usage[] = "fsTruncate(fd, length)";
  napi_value argv[2];
  int32_t fd, length;
  if (!args(env, info, 2, argv, usage) || !int_arg(env, argv[0], &fd, usage) || !int_arg(env, argv[1], &length, usage)) {
    return NULL;
  }
  return number(env, ftruncate((int)fd, length) == 0 ? 0 : -errno);
}

// fsClose(fd): 0 or the negative errno (the fd is closed either way).
static napi_value fs_close(napi_env env, napi_callback_info info) {
  static const char usage[] = "fsClose(fd)";
  napi_value argv[1];
  int32_t fd;
  if (!args(env, info, 1, argv, usage) || !int_arg(env, argv[0], &fd, usage)) return NULL;
  return number(env, close((int)fd) == 0 ? 0 : -errno);
}

// fsUnlink(path): 0 or the negative errno.
static napi_value fs_unlink(napi_env env, napi_callback_info info) {
  static const char usage[] = "fsUnlink(path)";
  napi_value argv[1];
  if (!args(env, info, 1, argv, usage)) return NULL;
  bool nul;
  char *path = path_arg(env, argv[0], usage, &nul);
  if (path == NULL) return NULL;
  int r = nul ? -EINVAL : unlink(path) == 0 ? 0 : -errno;
  free(path);
  return number(env, r);
}

// fsList(dir): the names in the directory ("." and ".." left out), or the negative errno. getdents64 directly:
// opendir's stream would cost an fstat and two fcntl calls more.
static napi_value fs_list(napi_env env, napi_callback_info info) {
  static const char usage[] = "fsList(dir)";
  napi_value argv[1];
  if (!args(env, info, 1, argv, usage)) return NULL;
  bool nul;
  char *path = path_arg(env, argv[0], usage, &nul);
  if (path == NULL) return NULL;
  int fd = nul ? -EINVAL : open(path, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC);
  free(path);
  if (fd < 0) return number(env, nul ? fd : -errno);
  napi_value names;
  napi_create_array(env, &names);
  uint32_t count = 0;
  // A store's directory is an entry per address and two more: a few calls' worth at most.
  char buf[16384] __attribute__((aligned(8)));
  for (;;) {
    long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return number(env, -err);
    }
    if (n == 0) break;
    for (long at = 0; at < n;) {
      const struct dirent64 *e = (const struct dirent64 *)(buf + at);
      at += e->d_reclen;
      if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0'))) continue;
      napi_value name;
      napi_create_string_utf8(env, e->d_name, NAPI_AUTO_LENGTH, &name);
      napi_set_element(env, names, count++, name);
    }
  }
  close(fd);
  return names;
}

// fsReadFiles(dir, names, max): per name, the content of the regular file `<dir>/<name>` as text (opened without
// following a symlink and without blocking), or a number: the negative errno, -EFBIG when longer than max,
// NOT_REGULAR. The negative errno alone when the directory cannot be opened. One call for a store's reservations.
static napi_value fs_read_files(napi_env env, napi_callback_info info) {
  static const char usage[] = "fsReadFiles(dir, names, max)";
  napi_value argv[3];
  int32_t max;
  uint32_t count;
  if (!args(env, info, 3, argv, usage) || !int_arg(env, argv[2], &max, usage)) return NULL;
  if (napi_get_array_length(env, argv[1], &count) != napi_ok) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  bool nul;
  char *path = path_arg(env, argv[0], usage, &nul);
  if (path == NULL) return NULL;
  int dir = nul ? -EINVAL : open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  free(path);
  if (dir < 0) return number(env, nul ? dir : -errno);
  napi_value out;
  napi_create_array_with_length(env, count, &out);
  for (uint32_t i = 0; i < count; i++) {
    napi_value item, content;
    char *name;
    bool nul;
    if (napi_get_element(env, argv[1], i, &item) != napi_ok || (name = path_arg(env, item, usage, &nul)) == NULL) {
      close(dir);
      return NULL;
    }
    // A name is one component: anything with a slash could reach outside the directory.
    int fd = nul || strchr(name, '/') != NULL ? -EINVAL : open_at(dir, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW, 0, true);
    free(name);
    if (fd < 0) {
      content = number(env, fd);
    } else {
      content = read_text(env, fd, max, -1);
      close(fd);
    }
    napi_set_element(env, out, i, content);
  }
  close(dir);
  return out;
}

// Reads `fd` up to its end (a read that returns nothing), at most `max` bytes, into a new malloc'd buffer (*out, its
// length in *len; free it): 0, -EFBIG when there is more than `max`, or the negative errno. A non-blocking descriptor
// that says "not yet" (a runtime's stdin may be one) is waited for.
static int read_to_end(int fd, int32_t max, char **out, size_t *len) {
  if (max < 0) max = 0;
  size_t cap = 65536, used = 0;
  char *buf = malloc(cap);
  if (buf == NULL) return -ENOMEM;
  for (;;) {
    if (used == cap) {
      char *grown = realloc(buf, cap * 2);
      if (grown == NULL) {
        free(buf);
        return -ENOMEM;
      }
      buf = grown;
      cap *= 2;
    }
    ssize_t n = read(fd, buf + used, cap - used);
    if (n < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        poll(&p, 1, -1);
        continue;
      }
      free(buf);
      return -err;
    }
    if (n == 0) break;
    used += (size_t)n;
    if (used > (size_t)max) {
      free(buf);
      return -EFBIG;
    }
  }
  *out = buf;
  *len = used;
  return 0;
}

// fsReadBytes(fd, max): all the bytes up to the end (stdin, a code cache) as a Buffer, or the negative errno (-EFBIG:
// more than max). Node's readSync, Buffer.allocUnsafe, subarray and concat are each compiled on first use.
static napi_value fs_read_bytes(napi_env env, napi_callback_info info) {
  static const char usage[] = "fsReadBytes(fd, max)";
  napi_value argv[2];
  int32_t fd, max;
  if (!args(env, info, 2, argv, usage) || !int_arg(env, argv[0], &fd, usage) || !int_arg(env, argv[1], &max, usage)) return NULL;
  char *buf;
  size_t len;
  int r = read_to_end((int)fd, max, &buf, &len);
  if (r != 0) return number(env, r);
  napi_value out;
  napi_status s = napi_create_buffer_copy(env, len, buf, NULL, &out);
  free(buf);
  return s == napi_ok ? out : number(env, -ENOMEM);
}

// fsReadLatin1(fd, prefix, suffix, max): prefix, the bytes up to the end read as Latin-1, and suffix, in one new
// string (a bundle in its module wrapper: one string of the bundle's size instead of two), or the negative errno.
static napi_value fs_read_latin1(napi_env env, napi_callback_info info) {
  static const char usage[] = "fsReadLatin1(fd, prefix, suffix, max)";
  napi_value argv[4];
  int32_t fd, max;
  if (!args(env, info, 4, argv, usage) || !int_arg(env, argv[0], &fd, usage) || !int_arg(env, argv[3], &max, usage)) return NULL;
  size_t plen, slen;
  if (napi_get_value_string_latin1(env, argv[1], NULL, 0, &plen) != napi_ok
      || napi_get_value_string_latin1(env, argv[2], NULL, 0, &slen) != napi_ok) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  char *body;
  size_t len;
  int r = read_to_end((int)fd, max, &body, &len);
  if (r != 0) return number(env, r);
  char *all = malloc(plen + len + slen + 1);
  if (all == NULL) {
    free(body);
    return number(env, -ENOMEM);
  }
  napi_get_value_string_latin1(env, argv[1], all, plen + 1, &plen);
  memcpy(all + plen, body, len);
  free(body);
  napi_get_value_string_latin1(env, argv[2], all + plen + len, slen + 1, &slen);
  napi_value out;
  napi_status s = napi_create_string_latin1(env, all, plen + len + slen, &out);
  free(all);
  return s == napi_ok ? out : number(env, -ENOMEM);
}

// fsStat(fd): [size, modification time in whole milliseconds] of an open file, or the negative errno.
static napi_value fs_stat(napi_env env, napi_callback_info info) {
  static const char usage[] = "fsStat(fd)";
  napi_value argv[1];
  int32_t fd;
  if (!args(env, info, 1, argv, usage) || !int_arg(env, argv[0], &fd, usage)) return NULL;
  struct stat st;
  if (syscall(SYS_fstat, (int)fd, &st) != 0) return number(env, -errno);
  napi_value out, size, mtime;
  napi_create_array_with_length(env, 2, &out);
  napi_create_double(env, (double)st.st_size, &size);
  napi_create_double(env, (double)st.st_mtim.tv_sec * 1000 + (double)(st.st_mtim.tv_nsec / 1000000), &mtime);
  napi_set_element(env, out, 0, size);
  napi_set_element(env, out, 1, mtime);
  return out;
}

// fsSameFile(a, b): 1 when both paths are the same file (device and inode, following symlinks), 0 when not, or the
// negative errno of the stat that failed. (The system calls, not glibc 2.33's new stat symbols: see open_at.)
static napi_value fs_same_file(napi_env env, napi_callback_info info) {
  static const char usage[] = "fsSameFile(a, b)";
  napi_value argv[2];
  if (!args(env, info, 2, argv, usage)) return NULL;
  bool nul_a, nul_b;
  char *a = path_arg(env, argv[0], usage, &nul_a);
  if (a == NULL) return NULL;
  char *b = path_arg(env, argv[1], usage, &nul_b);
  if (b == NULL) {
    free(a);
    return NULL;
  }
  struct stat sa, sb;
  int r = nul_a || nul_b ? -EINVAL
      : syscall(SYS_newfstatat, AT_FDCWD, a, &sa, 0) != 0 || syscall(SYS_newfstatat, AT_FDCWD, b, &sb, 0) != 0 ? -errno
      : sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  free(a);
  free(b);
  return number(env, r);
}

// fsErrorText(answer): "no such file or directory" for -ENOENT, the negative errno a call above answered, in Node's
// own words (libuv's, which are negative errnos on Linux), so that messages read as they did through node:fs.
static napi_value fs_error_text(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t err;
  if (!args(env, info, 1, argv, "fsErrorText(answer)") || !int_arg(env, argv[0], &err, "fsErrorText(answer)")) return NULL;
  napi_value out;
  napi_create_string_utf8(env, uv_strerror((int)err), NAPI_AUTO_LENGTH, &out);
  return out;
}

// The numbers the JavaScript side compares answers with, from the system's headers.
static napi_value errno_numbers(napi_env env) {
  static const struct { const char *name; int value; } known[] = {
    {"ENOENT", ENOENT}, {"EEXIST", EEXIST}, {"ENOTDIR", ENOTDIR}, {"EISDIR", EISDIR}, {"EFBIG", EFBIG},
    {"NOT_REGULAR", -NOT_REGULAR},
  };
  napi_value out;
  napi_create_object(env, &out);
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) napi_set_named_property(env, out, known[i].name, number(env, known[i].value));
  return out;
}

void register_fs(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"fsErrno", NULL, NULL, NULL, NULL, errno_numbers(env), napi_enumerable, NULL},
    {"fsOpen", NULL, fs_open, NULL, NULL, NULL, napi_default, NULL},
    {"fsRead", NULL, fs_read, NULL, NULL, NULL, napi_default, NULL},
    {"fsWrite", NULL, fs_write, NULL, NULL, NULL, napi_default, NULL},
    {"fsTruncate", NULL, fs_truncate, NULL, NULL, NULL, napi_default, NULL},
    {"fsClose", NULL, fs_close, NULL, NULL, NULL, napi_default, NULL},
    {"fsUnlink", NULL, fs_unlink, NULL, NULL, NULL, napi_default, NULL},
    {"fsList", NULL, fs_list, NULL, NULL, NULL, napi_default, NULL},
    {"fsReadFiles", NULL, fs_read_files, NULL, NULL, NULL, napi_default, NULL},
    {"fsErrorText", NULL, fs_error_text, NULL, NULL, NULL, napi_default, NULL},
    {"fsReadBytes", NULL, fs_read_bytes, NULL, NULL, NULL, napi_default, NULL},
    {"fsReadLatin1", NULL, fs_read_latin1, NULL, NULL, NULL, napi_default, NULL},
    {"fsStat", NULL, fs_stat, NULL, NULL, NULL, napi_default, NULL},
    {"fsSameFile", NULL, fs_same_file, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
