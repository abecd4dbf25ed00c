// strata's native helpers, for the two jobs where Node's own fs costs more than the work itself:
//  - writing a tar stream: file contents are spliced from the page cache into the output pipe (or
//    sent with sendfile into a file) instead of being copied through JavaScript buffers;
//  - measuring trees (du -sb semantics): directories are read and entries stat'ed relative to their
//    directory, on several threads;
//  - opening a layer's entries beneath its directory (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so
//    a hostile store cannot make strata read a file of the machine it runs on.
// Everything here is optional: strata has a JavaScript path for each, used when this is not built.
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#define CHECK(call)                                   \
  do {                                                \
    if ((call) != napi_ok) return NULL;               \
  } while (0)

static napi_value throw_errno(napi_env env, int err, const char *what, const char *path) {
  char msg[4200];
  snprintf(msg, sizeof msg, "%s%s%s: %s", what, path ? " " : "", path ? path : "", strerror(err));
  char code[32];
  snprintf(code, sizeof code, "E%d", err);
  napi_value error, message, errno_value;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, NULL, message, &error);
  napi_create_int32(env, err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_throw(env, error);
  return NULL;
}

// Rejects a promise with an Error carrying `message` and, when known, `errno`.
static void reject_with(napi_env env, napi_deferred deferred, const char *message, int err) {
  napi_value m, e, code;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, NULL, m, &e);
  napi_create_int32(env, err, &code);
  napi_set_named_property(env, e, "errno", code);
  napi_reject_deferred(env, deferred, e);
}

static int get_string(napi_env env, napi_value v, char *buf, size_t cap) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, cap, &len) != napi_ok) return -1;
  return len + 1 >= cap ? -1 : 0;
}

// Waits until `fd` can take more bytes (a non-blocking pipe that is full).
static int wait_writable(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  for (;;) {
    int r = poll(&p, 1, -1);
    if (r >= 0) return 0;
    if (errno != EINTR) return -1;
  }
}

static int write_all(int fd, const uint8_t *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN && wait_writable(fd) == 0) continue;
      return -1;
    }
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

// Copies up to `size` bytes of `in` to `out`: splice into a pipe, sendfile into anything else, and
// read/write where neither is allowed. Returns the bytes copied (fewer when the file is shorter).
static int64_t copy_fd(int in, int out, int64_t size) {
  int64_t done = 0;
  loff_t off = 0;
  int mode = 0;  // 0 splice, 1 sendfile, 2 read/write
  static __thread uint8_t *buf = NULL;
  while (done < size) {
    size_t want = (size_t)(size - done > (1 << 30) ? (1 << 30) : size - done);
    ssize_t n;
    if (mode == 0) {
      n = splice(in, &off, out, NULL, want, SPLICE_F_MORE);
      if (n < 0 && errno == EINVAL && done == 0) {
        mode = 1;
        continue;
      }
    } else if (mode == 1) {
      n = sendfile(out, in, &off, want);
      if (n < 0 && (errno == EINVAL || errno == ENOSYS) && done == 0) {
        mode = 2;
        continue;
      }
    } else {
      if (!buf && !(buf = malloc(1 << 20))) return -1;
      n = pread(in, buf, want > (1 << 20) ? (1 << 20) : want, off);
      if (n > 0) {
        if (write_all(out, buf, (size_t)n) < 0) return -1;
        off += n;
      }
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN && wait_writable(out) == 0) continue;
      return -1;
    }
    if (n == 0) break;
    done += n;
  }
  return done;
}

// growPipe(fd, bytes) → the pipe's new capacity, or 0 when fd is not a pipe or cannot grow. A bigger
// pipe lets the writer move more per wake-up of its reader.
static napi_value GrowPipe(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, want;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_int32(env, argv[1], &want));
  struct stat st;
  int got = 0;
  if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
    int current = fcntl(fd, F_GETPIPE_SZ);
    got = current >= want ? current : fcntl(fd, F_SETPIPE_SZ, want);
    if (got < 0) got = current > 0 ? current : 0;
  }
  napi_value result;
  CHECK(napi_create_int32(env, got, &result));
  return result;
}


#define STAT_FIELDS 11

// ---- opening a layer's entries beneath its directory ----
// A store may be hostile: any entry, or any directory on the way to it, may be a symlink planted to make
// strata read a file of the machine it runs on. Entries are opened relative to a descriptor of their
// layer directory with openat2(2) RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS (Linux 5.6); where the kernel
// answers ENOSYS, one openat(O_NOFOLLOW) per component does the same. Entries are first opened O_PATH,
// so a device node or a FIFO standing where a file should be is never opened for reading.

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
struct strata_open_how {
  uint64_t flags;
  uint64_t mode;
  uint64_t resolve;
};
#define STRATA_RESOLVE_NO_MAGICLINKS 0x02
#define STRATA_RESOLVE_NO_SYMLINKS 0x04
#define STRATA_RESOLVE_BENEATH 0x08
static atomic_int openat2_missing = 0;

// A name as a tar or tar-split gives it ("./a//b/", "a/b") → "a/b" in `out`; "" names the directory
// itself. Fails with EXDEV for a ".." component and EINVAL for a NUL byte.
static int normalise_name(const uint8_t *name, size_t len, char *out, size_t cap) {
  size_t o = 0, i = 0;
  while (i < len) {
    size_t j = i;
    while (j < len && name[j] != '/') j++;
    size_t n = j - i;
    if (n == 2 && name[i] == '.' && name[i + 1] == '.') return errno = EXDEV, -1;
    if (n > 0 && !(n == 1 && name[i] == '.')) {
      if (memchr(name + i, 0, n)) return errno = EINVAL, -1;
      if (o + (o > 0) + n + 1 > cap) return errno = ENAMETOOLONG, -1;
      if (o > 0) out[o++] = '/';
      memcpy(out + o, name + i, n);
      o += n;
    }
    i = j + 1;
  }
  out[o] = 0;
  return 0;
}

// openat with O_NOFOLLOW on every component of `rel` (normalised): the fallback for kernels without openat2.
static int open_by_components(int dirfd, const char *rel, int flags) {
  if (rel[0] == 0) return openat(dirfd, ".", flags | O_NOFOLLOW | O_CLOEXEC);
  char part[4096];
  int cur = dirfd;
  const char *p = rel;
  for (;;) {
    const char *slash = strchr(p, '/');
    if (!slash) break;
    size_t n = (size_t)(slash - p);
    memcpy(part, p, n);
    part[n] = 0;
    int next = openat(cur, part, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int err = errno;
    if (next < 0 && err == ENOTDIR) {
      struct stat st;
      if (fstatat(cur, part, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) err = ELOOP;
    }
    if (cur != dirfd) close(cur);
    if (next < 0) return errno = err, -1;
    cur = next;
    p = slash + 1;
  }
  int fd = openat(cur, p, flags | O_NOFOLLOW | O_CLOEXEC);
  int err = errno;
  if (cur != dirfd) close(cur);
  errno = err;
  return fd;
}

// Opens `rel` (normalised) beneath `dirfd` following no symlink in any component. With O_PATH a
// symlink as the last component is opened itself (fstat says what it is); otherwise it fails ELOOP.
static int open_beneath(int dirfd, const char *rel, int flags) {
  if (!atomic_load(&openat2_missing)) {
    struct strata_open_how how = {
        .flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
        .resolve = STRATA_RESOLVE_BENEATH | STRATA_RESOLVE_NO_SYMLINKS | STRATA_RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, dirfd, rel[0] ? rel : ".", &how, sizeof how);
    if (fd >= 0 || errno != ENOSYS) return (int)fd;
    atomic_store(&openat2_missing, 1);
  }
  return open_by_components(dirfd, rel, flags);
}

// The file behind an O_PATH descriptor, opened for reading: through its /proc/self/fd link (the very
// same inode), or where /proc is absent by opening `rel` again and checking it is still that inode.
static int reopen_for_reading(int pfd, int dirfd, const char *rel, const struct stat *st) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", pfd);
  int fd = open(link, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd >= 0 || errno != ENOENT) return fd;
  fd = open_beneath(dirfd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return -1;
  struct stat again;
  if (fstat(fd, &again) < 0 || again.st_dev != st->st_dev || again.st_ino != st->st_ino) {
    close(fd);
    return errno = ESTALE, -1;
  }
  return fd;
}

// Opens entry `name` (normalised) beneath `dirfd`: returns a descriptor open for reading when it is a
// regular file, -2 when it is something else (`st` says what), -1 with errno on failure.
static int open_entry(int dirfd, const char *rel, struct stat *st) {
  int pfd = open_beneath(dirfd, rel, O_PATH);
  if (pfd < 0) return -1;
  if (fstat(pfd, st) < 0) {
    int err = errno;
    close(pfd);
    return errno = err, -1;
  }
  if (!S_ISREG(st->st_mode)) {
    close(pfd);
    return -2;
  }
  int fd = reopen_for_reading(pfd, dirfd, rel, st);
  int err = errno;
  close(pfd);
  errno = err;
  return fd;
}

static void fill_stat(double *f, const struct stat *st) {
  f[0] = st->st_mode;
  f[1] = (double)st->st_nlink;
  f[2] = st->st_uid;
  f[3] = st->st_gid;
  f[4] = (double)st->st_size;
  f[5] = (double)st->st_mtim.tv_sec;
  f[6] = (double)st->st_mtim.tv_nsec;
  f[7] = (double)st->st_rdev;
  f[8] = (double)st->st_dev;
  f[9] = (double)st->st_ino;
  f[10] = (double)st->st_blocks;
}

// A name given as a Buffer of its bytes, normalised into `out`; -1 with errno when it cannot be.
static int name_arg(napi_env env, napi_value v, char *out, size_t cap) {
  bool is_buffer = false;
  void *data;
  size_t len;
  if (napi_is_buffer(env, v, &is_buffer) != napi_ok || !is_buffer || napi_get_buffer_info(env, v, &data, &len) != napi_ok) return errno = EINVAL, -1;
  return normalise_name(data, len, out, cap);
}

// The `n` arguments of a call whose first is a descriptor (into *fd); false when they are not there.
static bool fd_first_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv, int32_t *fd) {
  size_t argc = n;
  return napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && napi_get_value_int32(env, argv[0], fd) == napi_ok;
}

// A whole path given as a Buffer (its bytes as they are, no NUL inside) into `out`; -1 with errno otherwise.
static int path_buffer_arg(napi_env env, napi_value v, char *out, size_t cap) {
  bool is_buffer = false;
  void *data;
  size_t len;
  if (napi_is_buffer(env, v, &is_buffer) != napi_ok || !is_buffer || napi_get_buffer_info(env, v, &data, &len) != napi_ok) return errno = EINVAL, -1;
  if (len + 1 > cap || memchr(data, 0, len)) return errno = ENAMETOOLONG, -1;
  memcpy(out, data, len);
  out[len] = 0;
  return 0;
}

// openDirBeneath(anchor: string | Buffer, rel: Buffer) → an O_PATH descriptor of directory `rel` below
// `anchor` (which itself may be reached through symlinks: it is the store the user named), no component
// of `rel` being a symlink. Throws an Error with `errno` otherwise.
static napi_value OpenDirBeneath(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char anchor[4096], rel[4096];
  bool is_buffer = false;
  napi_is_buffer(env, argv[0], &is_buffer);
  if (is_buffer ? path_buffer_arg(env, argv[0], anchor, sizeof anchor) < 0 : get_string(env, argv[0], anchor, sizeof anchor) < 0) {
    return throw_errno(env, ENAMETOOLONG, "open", NULL);
  }
  if (name_arg(env, argv[1], rel, sizeof rel) < 0) return throw_errno(env, errno, "open", anchor);
  int afd = open(anchor, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (afd < 0) return throw_errno(env, errno, "open", anchor);
  int fd = open_beneath(afd, rel, O_PATH | O_DIRECTORY);
  int err = errno;
  close(afd);
  if (fd < 0) return throw_errno(env, err, "open", rel);
  napi_value out;
  CHECK(napi_create_int32(env, fd, &out));
  return out;
}

// openBeneath(dirFd, name: Buffer, stat: Float64Array) → a descriptor open for reading when entry
// `name` below directory `dirFd` is a regular file, or -1 when it is something else; either way `stat`
// gets its fstat numbers (the SCAN fields). No symlink is followed in any component, and only a regular
// file is ever opened for reading. Throws an Error with `errno` (EXDEV for a ".." component).
static napi_value OpenBeneath(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t dirfd;
  if (!fd_first_args(env, info, 3, argv, &dirfd)) return NULL;
  char rel[4096];
  if (name_arg(env, argv[1], rel, sizeof rel) < 0) return throw_errno(env, errno, "open", NULL);
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, argv[2], &type, &length, &data, NULL, NULL) != napi_ok || type != napi_float64_array || length < STAT_FIELDS) {
    napi_throw_type_error(env, NULL, "openBeneath: stat must be a Float64Array of the scan fields");
    return NULL;
  }
  struct stat st;
  int fd = open_entry(dirfd, rel, &st);
  if (fd == -1) return throw_errno(env, errno, "open", rel);
  fill_stat(data, &st);
  napi_value out;
  CHECK(napi_create_int32(env, fd < 0 ? -1 : fd, &out));
  return out;
}

// useOpenat2(on) → whether openat2 was in use: lets the tests run the per-component fallback that
// kernels without openat2 get.
static napi_value UseOpenat2(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool on = true;
  napi_get_value_bool(env, argv[0], &on);
  bool was = !atomic_load(&openat2_missing);
  atomic_store(&openat2_missing, on ? 0 : 1);
  napi_value out;
  CHECK(napi_get_boolean(env, was, &out));
  return out;
}

// ---- writing a tar plan ----
// A plan is what exportTree produced for a stretch of the tar: bytes to write (headers, padding, small
// contents) and files whose first `size` bytes follow. It runs on a libuv thread while JavaScript
// prepares the next one, so walking and writing overlap. Files are opened beneath the layer directory
// the last "beneath" op named, following no symlink, and only when they are regular files at least as
// long as planned: nothing of an entry is written before that is known.

typedef struct {
  int kind;  // 0 bytes, 1 file, 2 beneath (a layer directory for the files after it)
  const uint8_t *data;
  size_t len;
  char *path;  // a file's name below its directory (normalised), or a beneath op's directory (messages)
  int64_t size;
  int dirfd;        // a file's directory descriptor
  const char *dir;  // and its path, for messages
} plan_op;

typedef struct {
  int fd;
  plan_op *ops;
  size_t count;
  napi_ref keep;  // the JS array, so its buffers stay alive while the thread writes them
  napi_async_work work;
  napi_deferred deferred;
  int err;
  const plan_op *err_op;  // the file the plan failed on
  int64_t short_by;       // a file shorter than planned: the bytes missing
  mode_t bad_mode;        // a file that is not a regular file: what it is
  int64_t written;
} plan_job;

// Bytes and small files are gathered in a staging buffer and written in large writes; a file of at least
// SPLICE_MIN bytes is spliced (or sent) from the page cache once the staging buffer is flushed.
#define STAGE_BYTES (1 << 20)
#define SPLICE_MIN (64 << 10)

typedef struct {
  uint8_t *buf;
  size_t len;
} stage;

static int stage_flush(stage *st, int fd) {
  if (st->len == 0) return 0;
  int r = write_all(fd, st->buf, st->len);
  st->len = 0;
  return r;
}

static int stage_add(stage *st, int fd, const uint8_t *data, size_t len) {
  if (st->len + len > STAGE_BYTES) {
    if (stage_flush(st, fd) < 0) return -1;
    if (len > STAGE_BYTES) return write_all(fd, data, len);
  }
  memcpy(st->buf + st->len, data, len);
  st->len += len;
  return 0;
}

// Reads up to `size` bytes of `in` into the staging buffer (flushing it first when they do not fit).
static int64_t stage_file(stage *st, int fd, int in, int64_t size) {
  if (st->len + (size_t)size > STAGE_BYTES && stage_flush(st, fd) < 0) return -1;
  int64_t done = 0;
  while (done < size) {
    ssize_t n = read(in, st->buf + st->len, (size_t)(size - done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) break;
    st->len += (size_t)n;
    done += n;
  }
  return done;
}

static void plan_execute(napi_env env, void *data) {
  (void)env;
  plan_job *job = data;
  static __thread uint8_t *stage_buf = NULL;
  if (!stage_buf && !(stage_buf = malloc(STAGE_BYTES))) {
    job->err = ENOMEM;
    return;
  }
  stage st = {.buf = stage_buf, .len = 0};
  for (size_t i = 0; i < job->count; i++) {
    plan_op *op = &job->ops[i];
    if (op->kind == 2) continue;
    if (op->kind == 0) {
      if (stage_add(&st, job->fd, op->data, op->len) < 0) {
        job->err = errno;
        return;
      }
      job->written += (int64_t)op->len;
      continue;
    }
    struct stat fst;
    int in = open_entry(op->dirfd, op->path, &fst);
    if (in < 0 || fst.st_size < op->size) {
      job->err_op = op;
      if (in == -1) job->err = errno;
      else if (in == -2) job->bad_mode = fst.st_mode;
      else job->short_by = op->size - (int64_t)fst.st_size;
      if (in >= 0) close(in);
      stage_flush(&st, job->fd);  // what came before the entry, not a byte of it
      return;
    }
    int64_t n;
    if (op->size < SPLICE_MIN) {
      n = stage_file(&st, job->fd, in, op->size);
    } else {
      n = stage_flush(&st, job->fd) < 0 ? -1 : copy_fd(in, job->fd, op->size);
    }
    int err = errno;
    close(in);
    if (n < 0) {
      job->err = err;
      job->err_op = op;
      return;
    }
    job->written += n;
    if (n < op->size) {
      job->short_by = op->size - n;
      job->err_op = op;
      return;
    }
  }
  if (stage_flush(&st, job->fd) < 0) job->err = errno;
}

static const char *file_type_words(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFDIR: return "a directory";
    case S_IFLNK: return "a symbolic link";
    case S_IFIFO: return "a FIFO";
    case S_IFSOCK: return "a socket";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    default: return "not a regular file";
  }
}

static void plan_free(napi_env env, plan_job *job) {
  for (size_t i = 0; i < job->count; i++) {
    free(job->ops[i].path);
    if (job->ops[i].kind == 2 && job->ops[i].dirfd >= 0) close(job->ops[i].dirfd);
  }
  free(job->ops);
  if (job->keep) napi_delete_reference(env, job->keep);
  free(job);
}

// A failed plan is rejected with an Error whose message names the file and which carries `path` (a
// Buffer of the file's full path), `errno`, and `missing` (bytes) or `mode` (what it is instead).
static void plan_complete(napi_env env, napi_status status, void *data) {
  plan_job *job = data;
  if (status == napi_ok && job->err == 0 && job->err_op == NULL) {
    napi_value n;
    napi_create_int64(env, job->written, &n);
    napi_resolve_deferred(env, job->deferred, n);
  } else {
    const plan_op *op = job->err_op;
    char path[8400] = "";
    if (op) snprintf(path, sizeof path, "%s%s%s", op->dir, op->path[0] ? "/" : "", op->path);
    char msg[8600];
    if (op && job->short_by)
      snprintf(msg, sizeof msg, "%s: shrank while being read (%lld bytes missing)", path, (long long)job->short_by);
    else if (op && job->bad_mode)
      snprintf(msg, sizeof msg, "%s: is %s, not a regular file (not read)", path, file_type_words(job->bad_mode));
    else if (op)
      snprintf(msg, sizeof msg, "%s: %s", path, strerror(job->err));
    else
      snprintf(msg, sizeof msg, "write: %s", strerror(job->err ? job->err : EIO));
    napi_value m, e, v;
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
    napi_create_error(env, NULL, m, &e);
    napi_create_int32(env, op && (job->short_by || job->bad_mode) ? 0 : job->err, &v);
    napi_set_named_property(env, e, "errno", v);
    if (op) {
      napi_create_buffer_copy(env, strlen(path), path, NULL, &v);
      napi_set_named_property(env, e, "path", v);
      if (job->short_by) {
        napi_create_int64(env, job->short_by, &v);
        napi_set_named_property(env, e, "missing", v);
      }
      if (job->bad_mode) {
        napi_create_uint32(env, job->bad_mode, &v);
        napi_set_named_property(env, e, "mode", v);
      }
    }
    napi_reject_deferred(env, job->deferred, e);
  }
  napi_delete_async_work(env, job->work);
  plan_free(env, job);
}

// A string op's bytes: the path as a 'latin1' string, one character per byte.
static char *latin1_string(napi_env env, napi_value v) {
  size_t n = 0;
  if (napi_get_value_string_latin1(env, v, NULL, 0, &n) != napi_ok) return NULL;
  char *s = malloc(n + 1);
  napi_get_value_string_latin1(env, v, s, n + 1, &n);
  if (memchr(s, 0, n)) {
    free(s);
    return NULL;
  }
  return s;
}

// A beneath op: an object { dirFd, dir } (a LayerFiles of native/open-beneath.ts). Its descriptor is
// duplicated, so the plan can outlive the caller's.
static int beneath_op(napi_env env, napi_value v, plan_op *op) {
  napi_value fdv, dirv;
  int32_t dirfd;
  if (napi_get_named_property(env, v, "dirFd", &fdv) != napi_ok || napi_get_value_int32(env, fdv, &dirfd) != napi_ok) return -1;
  if (napi_get_named_property(env, v, "dir", &dirv) != napi_ok) return -1;
  char dir[4096];
  if (get_string(env, dirv, dir, sizeof dir) < 0) return -1;
  op->kind = 2;
  op->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (op->dirfd < 0) return -1;
  op->path = strdup(dir);
  return 0;
}

// writePlan(fd, ops) → Promise<bytes written>. ops, in order: Buffers (written as they are); beneath
// ops ({ dirFd, dir }: the layer directory the files after it are in); and for a file, its name below
// that directory as a 'latin1' string of its bytes followed by the number of bytes to copy.
static napi_value WritePlan(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  uint32_t len;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_array_length(env, argv[1], &len));
  plan_job *job = calloc(1, sizeof *job);
  job->fd = fd;
  job->ops = calloc(len ? len : 1, sizeof(plan_op));
  const plan_op *beneath = NULL;
  const char *problem = NULL;
  for (uint32_t i = 0; i < len && !problem; i++) {
    napi_value v;
    napi_get_element(env, argv[1], i, &v);
    napi_valuetype t;
    napi_typeof(env, v, &t);
    bool is_buffer = false;
    napi_is_buffer(env, v, &is_buffer);
    plan_op *op = &job->ops[job->count];
    op->dirfd = -1;
    if (is_buffer) {
      void *d;
      size_t n;
      napi_get_buffer_info(env, v, &d, &n);
      op->kind = 0;
      op->data = d;
      op->len = n;
      job->count++;
      continue;
    }
    if (t == napi_object) {
      if (beneath_op(env, v, op) < 0) problem = "writePlan: a beneath op is { dirFd, dir } of an open directory";
      else beneath = op;
      job->count++;
      continue;
    }
    char *raw = t == napi_string && i + 1 < len ? latin1_string(env, v) : NULL;
    if (!raw) {
      problem = "writePlan: ops are Buffers, beneath ops, or (path, size) pairs";
      continue;
    }
    if (!beneath) {
      free(raw);
      problem = "writePlan: a file op needs a beneath op before it";
      continue;
    }
    op->kind = 1;
    op->path = malloc(strlen(raw) + 1);
    int bad = normalise_name((const uint8_t *)raw, strlen(raw), op->path, strlen(raw) + 1);
    int bad_errno = errno;
    free(raw);
    job->count++;
    if (bad < 0) {
      problem = bad_errno == EXDEV ? "writePlan: a file name climbs out of its directory" : "writePlan: a file name that cannot be opened";
      continue;
    }
    op->dirfd = beneath->dirfd;
    op->dir = beneath->path;
    napi_value sz;
    napi_get_element(env, argv[1], ++i, &sz);
    napi_get_value_int64(env, sz, &op->size);
  }
  if (problem) {
    plan_free(env, job);
    napi_throw_type_error(env, NULL, problem);
    return NULL;
  }
  napi_create_reference(env, argv[1], 1, &job->keep);
  napi_value promise, name;
  CHECK(napi_create_promise(env, &job->deferred, &promise));
  napi_create_string_utf8(env, "strata:plan", NAPI_AUTO_LENGTH, &name);
  CHECK(napi_create_async_work(env, NULL, name, plan_execute, plan_complete, job, &job->work));
  CHECK(napi_queue_async_work(env, job->work));
  return promise;
}

// ---- reading a directory for an archive walk ----

#define STAT_FIELDS 11

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// listxattrat/getxattrat (Linux 6.13) look the name up relative to its directory, which costs much less
// than a whole path per entry; older kernels answer ENOSYS and the path calls are used.
#ifndef SYS_getxattrat
#define SYS_getxattrat 464
#endif
#ifndef SYS_listxattrat
#define SYS_listxattrat 465
#endif
struct strata_xattr_args {
  uint64_t value;
  uint32_t size;
  uint32_t flags;
};
static atomic_int xattrat_missing = 0;

static ssize_t list_xattrs(int dfd, const char *name, const char *path, char *list, size_t size) {
  if (!atomic_load(&xattrat_missing)) {
    ssize_t n = syscall(SYS_listxattrat, dfd, name, AT_SYMLINK_NOFOLLOW, list, size);
    if (n >= 0 || errno != ENOSYS) return n;
    atomic_store(&xattrat_missing, 1);
  }
  return llistxattr(path, list, size);
}

static ssize_t get_xattr(int dfd, const char *name, const char *path, const char *key, void *value, size_t size) {
  if (!atomic_load(&xattrat_missing)) {
    struct strata_xattr_args args = {.value = (uint64_t)(uintptr_t)value, .size = (uint32_t)size, .flags = 0};
    ssize_t n = syscall(SYS_getxattrat, dfd, name, AT_SYMLINK_NOFOLLOW, key, &args, sizeof args);
    if (n >= 0 || errno != ENOSYS) return n;
    atomic_store(&xattrat_missing, 1);
  }
  return lgetxattr(path, key, value, size);
}

// Extended attributes of `name` in `dfd` (its full path: `path`), not following a symlink, as
// [name, value, name, value, …], or undefined when it has none.
static napi_value xattrs_of(napi_env env, int dfd, const char *entry, const char *path) {
  char names[65536];
  ssize_t n = list_xattrs(dfd, entry, path, names, sizeof names);
  if (n <= 0) return NULL;
  napi_value list;
  napi_create_array(env, &list);
  uint32_t k = 0;
  static __thread uint8_t value[65536];
  for (char *name = names; name < names + n; name += strlen(name) + 1) {
    ssize_t vn = get_xattr(dfd, entry, path, name, value, sizeof value);
    if (vn < 0) continue;
    napi_value nv, vv;
    void *copy;
    napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &nv);
    napi_create_buffer_copy(env, (size_t)vn, value, &copy, &vv);
    napi_set_element(env, list, k++, nv);
    napi_set_element(env, list, k++, vv);
  }
  return k ? list : NULL;
}

// scanDir's directory: a Buffer holding the path's bytes (a Linux name need not be UTF-8), or a string.
static int scan_dir_path(napi_env env, napi_value v, char *buf, size_t cap) {
  bool is_buffer = false;
  if (napi_is_buffer(env, v, &is_buffer) != napi_ok || !is_buffer) return get_string(env, v, buf, cap);
  void *data;
  size_t len;
  if (napi_get_buffer_info(env, v, &data, &len) != napi_ok || len + 1 > cap || memchr(data, 0, len)) return -1;
  memcpy(buf, data, len);
  buf[len] = 0;
  return 0;
}

// scanDir(dir, withXattrs) → { nameBytes, nameEnds, stats, xattrs }: the entries of `dir` (a Buffer or a
// string) sorted bytewise (Go's filepath.Walk order) — their names' bytes one after another in one Buffer
// (a Linux name need not be UTF-8; one Buffer costs far less than one per name), where each name ends,
// their lstat numbers STAT_FIELDS apiece — mode, nlink, uid, gid, size, mtime seconds, mtime nanoseconds,
// rdev, dev, ino, blocks — and, when asked, each entry's xattrs.
static napi_value ScanDir(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char dir[4096];
  bool with_xattrs = false;
  if (scan_dir_path(env, argv[0], dir, sizeof dir) < 0) return throw_errno(env, ENAMETOOLONG, "scandir", NULL);
  if (argc > 1) napi_get_value_bool(env, argv[1], &with_xattrs);
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return throw_errno(env, errno, "scandir", dir);
  DIR *d = fdopendir(dfd);
  if (!d) {
    int err = errno;
    close(dfd);
    return throw_errno(env, err, "scandir", dir);
  }
  char **names = NULL;
  size_t count = 0, cap = 0;
  struct dirent *e;
  for (;;) {
    errno = 0;
    e = readdir(d);
    if (!e) break;
    const char *n = e->d_name;
    if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
    if (count == cap) {
      cap = cap ? cap * 2 : 64;
      names = realloc(names, cap * sizeof(char *));
    }
    names[count++] = strdup(n);
  }
  int read_err = errno;
  if (read_err) {
    for (size_t i = 0; i < count; i++) free(names[i]);
    free(names);
    closedir(d);
    return throw_errno(env, read_err, "scandir", dir);
  }
  qsort(names, count, sizeof(char *), compare_names);
  napi_value name_bytes, ends_ab, name_ends, stats_ab, stats, js_xattrs = NULL;
  size_t total = 0;
  for (size_t i = 0; i < count; i++) total += strlen(names[i]);
  uint8_t *packed;
  uint32_t *ends;
  napi_create_buffer(env, total, (void **)&packed, &name_bytes);
  napi_create_arraybuffer(env, count * sizeof(uint32_t) + 4, (void **)&ends, &ends_ab);
  napi_create_typedarray(env, napi_uint32_array, count, ends_ab, 0, &name_ends);
  size_t at = 0;
  for (size_t i = 0; i < count; i++) {
    size_t n = strlen(names[i]);
    memcpy(packed + at, names[i], n);
    at += n;
    ends[i] = (uint32_t)at;
  }
  double *fields;
  napi_create_arraybuffer(env, count * STAT_FIELDS * sizeof(double) + 8, (void **)&fields, &stats_ab);
  napi_create_typedarray(env, napi_float64_array, count * STAT_FIELDS, stats_ab, 0, &stats);
  if (with_xattrs) napi_create_array(env, &js_xattrs);
  size_t dlen = strlen(dir);
  char *path = malloc(dlen + 258);
  memcpy(path, dir, dlen);
  path[dlen] = '/';
  int failed = 0, fail_err = 0;
  for (size_t i = 0; i < count; i++) {
    struct stat st;
    double *f = fields + i * STAT_FIELDS;
    if (!failed && fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
      failed = 1;
      fail_err = errno;
      strcpy(path + dlen + 1, names[i]);
    }
    if (failed) continue;
    f[0] = st.st_mode;
    f[1] = (double)st.st_nlink;
    f[2] = st.st_uid;
    f[3] = st.st_gid;
    f[4] = (double)st.st_size;
    f[5] = (double)st.st_mtim.tv_sec;
    f[6] = (double)st.st_mtim.tv_nsec;
    f[7] = (double)st.st_rdev;
    f[8] = (double)st.st_dev;
    f[9] = (double)st.st_ino;
    f[10] = (double)st.st_blocks;
    if (with_xattrs) {
      strcpy(path + dlen + 1, names[i]);
      napi_value x = xattrs_of(env, dfd, names[i], path);
      if (x) napi_set_element(env, js_xattrs, (uint32_t)i, x);
    }
  }
  for (size_t i = 0; i < count; i++) free(names[i]);
  free(names);
  closedir(d);
  if (failed) {
    napi_value r = throw_errno(env, fail_err, "lstat", path);
    free(path);
    return r;
  }
  free(path);
  napi_value out;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "nameBytes", name_bytes);
  napi_set_named_property(env, out, "nameEnds", name_ends);
  napi_set_named_property(env, out, "stats", stats);
  if (js_xattrs) napi_set_named_property(env, out, "xattrs", js_xattrs);
  return out;
}

// ---- measuring trees ----

typedef struct {
  double apparent, allocated, content, entries;
  // The newest mtime (ms, as Node computes mtimeMs) of the top directory's own entries, any filesystem:
  // what prune's "too recent" check asks of a directory, from the walk that stats them anyway.
  double newest;
  double *multi;  // ino, size, blocks triples
  size_t multi_len, multi_cap;
  char **errors;  // path, message pairs
  size_t errors_len, errors_cap;
  struct walk_kids *kids;  // per immediate entry, when asked (walk_children)
} walk_result;

// What walk_children reports of each immediate entry of its top: its name and lstat, and for a directory
// the walk below it (what df's plan would otherwise look at again, entry by entry, on the main thread).
typedef struct walk_kids {
  char *names;  // each name's bytes one after another
  size_t names_len, names_cap;
  uint32_t *ends;  // where each name ends in `names`
  double *stats;   // SCAN_STRIDE (11) numbers per entry, fill_stat's order
  double *below;   // per entry: apparent, allocated, content, entries, newest mtime of its own entries
  size_t count, cap;
  double *multi;  // entry index, ino, size, blocks
  size_t multi_len, multi_cap;
  char **errors;  // entry index (as text), path, message
  size_t errors_len, errors_cap;
} walk_kids;

static void push_multi(walk_result *r, double ino, double size, double blocks) {
  if (r->multi_len + 3 > r->multi_cap) {
    r->multi_cap = r->multi_cap ? r->multi_cap * 2 : 96;
    r->multi = realloc(r->multi, r->multi_cap * sizeof(double));
  }
  r->multi[r->multi_len++] = ino;
  r->multi[r->multi_len++] = size;
  r->multi[r->multi_len++] = blocks;
}

static void push_error(walk_result *r, const char *path, int err) {
  if (r->errors_len + 2 > r->errors_cap) {
    r->errors_cap = r->errors_cap ? r->errors_cap * 2 : 8;
    r->errors = realloc(r->errors, r->errors_cap * sizeof(char *));
  }
  r->errors[r->errors_len++] = strdup(path);
  r->errors[r->errors_len++] = strdup(strerror(err));
}

typedef struct {
  char **items;
  size_t len, cap;
} path_stack;

static void stack_push(path_stack *s, char *p) {
  if (s->len == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 64;
    s->items = realloc(s->items, s->cap * sizeof(char *));
  }
  s->items[s->len++] = p;
}

static char *join_path(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = malloc(a + b + 2);
  memcpy(p, dir, a);
  p[a] = '/';
  memcpy(p + a + 1, name, b + 1);
  return p;
}

// The entries below `dir` (not `dir` itself), staying on `device`: the same walk as walkSubtree in
// snapshots/measure.ts, whose result shape this fills.
struct walk_kids;
static size_t kids_add(struct walk_kids *k, const char *name, const struct stat *st);
static void walk_child(struct walk_kids *k, size_t i, const char *dir, const char *name, dev_t device, walk_result *r);

// With `kids`, each entry of `top` itself is also reported apart (walk_children).
static void walk_tree(const char *top, dev_t device, walk_result *r, struct walk_kids *kids) {
  path_stack stack = {0};
  stack_push(&stack, strdup(top));
  int at_top = 1;
  while (stack.len > 0) {
    char *dir = stack.items[--stack.len];
    int is_top = at_top;
    at_top = 0;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
      push_error(r, dir, errno);
      if (dfd >= 0) close(dfd);
      free(dir);
      continue;
    }
    struct dirent *e;
    for (;;) {
      errno = 0;
      e = readdir(d);
      if (!e) {
        if (errno) push_error(r, dir, errno);
        break;
      }
      const char *n = e->d_name;
      if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
      struct stat st;
      if (fstatat(dfd, n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        char *p = join_path(dir, n);
        push_error(r, p, errno);
        free(p);
        continue;
      }
      size_t kid = 0;
      if (is_top) {
        double ms = (double)st.st_mtim.tv_sec * 1000 + (double)st.st_mtim.tv_nsec / 1e6;
        if (ms > r->newest) r->newest = ms;
        if (kids) kid = kids_add(kids, n, &st);
      }
      if (st.st_dev != device) continue;
      int is_dir = S_ISDIR(st.st_mode);
      if (!is_dir && st.st_nlink > 1) {
        push_multi(r, (double)st.st_ino, (double)st.st_size, (double)st.st_blocks);
        continue;
      }
      r->entries += 1;
      r->apparent += (double)st.st_size;
      r->allocated += (double)st.st_blocks * 512;
      if (!is_dir)
        r->content += (double)st.st_size;
      else if (is_top && kids)
        walk_child(kids, kid, dir, n, device, r);
      else
        stack_push(&stack, join_path(dir, n));
    }
    closedir(d);
    free(dir);
  }
  free(stack.items);
}

static void walk_subtree(const char *top, dev_t device, walk_result *r) {
  walk_tree(top, device, r, NULL);
}

#define KID_STAT 11
#define KID_BELOW 5

static size_t kids_add(walk_kids *k, const char *name, const struct stat *st) {
  if (k->count == k->cap) {
    k->cap = k->cap ? k->cap * 2 : 256;
    k->ends = realloc(k->ends, k->cap * sizeof(uint32_t));
    k->stats = realloc(k->stats, k->cap * KID_STAT * sizeof(double));
    k->below = realloc(k->below, k->cap * KID_BELOW * sizeof(double));
  }
  size_t len = strlen(name);
  if (k->names_len + len > k->names_cap) {
    k->names_cap = (k->names_len + len) * 2 + 4096;
    k->names = realloc(k->names, k->names_cap);
  }
  memcpy(k->names + k->names_len, name, len);
  k->names_len += len;
  size_t i = k->count++;
  k->ends[i] = (uint32_t)k->names_len;
  fill_stat(k->stats + i * KID_STAT, st);
  memset(k->below + i * KID_BELOW, 0, KID_BELOW * sizeof(double));
  return i;
}

// Walks directory `name` of `dir` (entry i of a walk_children) on its own: what is below it goes to the
// entry's numbers and, as walk_subtree counts it, to `r`.
static void walk_child(walk_kids *k, size_t i, const char *dir, const char *name, dev_t device, walk_result *r) {
  char *p = join_path(dir, name);
  walk_result below = {0};
  walk_subtree(p, device, &below);
  free(p);
  double *b = k->below + i * KID_BELOW;
  b[0] = below.apparent, b[1] = below.allocated, b[2] = below.content, b[3] = below.entries, b[4] = below.newest;
  r->apparent += below.apparent, r->allocated += below.allocated, r->content += below.content, r->entries += below.entries;
  for (size_t j = 0; j + 2 < below.multi_len; j += 3) {
    push_multi(r, below.multi[j], below.multi[j + 1], below.multi[j + 2]);
    if (k->multi_len + 4 > k->multi_cap) {
      k->multi_cap = k->multi_cap ? k->multi_cap * 2 : 64;
      k->multi = realloc(k->multi, k->multi_cap * sizeof(double));
    }
    k->multi[k->multi_len++] = (double)i;
    k->multi[k->multi_len++] = below.multi[j];
    k->multi[k->multi_len++] = below.multi[j + 1];
    k->multi[k->multi_len++] = below.multi[j + 2];
  }
  for (size_t j = 0; j + 1 < below.errors_len; j += 2) {
    if (r->errors_len + 2 > r->errors_cap) {
      r->errors_cap = r->errors_cap ? r->errors_cap * 2 : 8;
      r->errors = realloc(r->errors, r->errors_cap * sizeof(char *));
    }
    r->errors[r->errors_len++] = strdup(below.errors[j]);
    r->errors[r->errors_len++] = strdup(below.errors[j + 1]);
    if (k->errors_len + 3 > k->errors_cap) {
      k->errors_cap = k->errors_cap ? k->errors_cap * 2 : 12;
      k->errors = realloc(k->errors, k->errors_cap * sizeof(char *));
    }
    char index[24];
    snprintf(index, sizeof index, "%zu", i);
    k->errors[k->errors_len++] = strdup(index);
    k->errors[k->errors_len++] = below.errors[j];
    k->errors[k->errors_len++] = below.errors[j + 1];
  }
  free(below.multi);
  free(below.errors);  // its strings now belong to k->errors
}

static void sort_kids(walk_kids *k);

// walk_subtree of `top` that also keeps, per immediate entry, its lstat and what is below it (r->kids).
static void walk_children(const char *top, dev_t device, walk_result *r) {
  r->kids = calloc(1, sizeof(walk_kids));
  walk_tree(top, device, r, r->kids);
  sort_kids(r->kids);
}

// walk_children's entries sorted by name bytes, so that a caller finds one by a binary search instead
// of indexing tens of thousands of names first; indices in multi and errors follow.
static const walk_kids *sorting_kids;
static int compare_kids(const void *a, const void *b) {
  const walk_kids *k = sorting_kids;
  size_t i = *(const size_t *)a, j = *(const size_t *)b;
  size_t si = i ? k->ends[i - 1] : 0, sj = j ? k->ends[j - 1] : 0;
  size_t li = k->ends[i] - si, lj = k->ends[j] - sj;
  int c = memcmp(k->names + si, k->names + sj, li < lj ? li : lj);
  return c ? c : li < lj ? -1 : li > lj ? 1 : 0;
}

static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;

static void sort_kids(walk_kids *k) {
  size_t n = k->count;
  if (n < 2) return;
  size_t *order = malloc(n * sizeof(size_t));
  for (size_t i = 0; i < n; i++) order[i] = i;
  pthread_mutex_lock(&sort_lock);  // qsort has no context argument in every libc: one sort at a time
  sorting_kids = k;
  qsort(order, n, sizeof(size_t), compare_kids);
  pthread_mutex_unlock(&sort_lock);
  char *names = malloc(k->names_len ? k->names_len : 1);
  uint32_t *ends = malloc(n * sizeof(uint32_t));
  double *stats = malloc(n * KID_STAT * sizeof(double));
  double *below = malloc(n * KID_BELOW * sizeof(double));
  size_t *rank = malloc(n * sizeof(size_t));
  size_t at = 0;
  for (size_t r = 0; r < n; r++) {
    size_t i = order[r];
    size_t start = i ? k->ends[i - 1] : 0, len = k->ends[i] - start;
    memcpy(names + at, k->names + start, len);
    at += len;
    ends[r] = (uint32_t)at;
    memcpy(stats + r * KID_STAT, k->stats + i * KID_STAT, KID_STAT * sizeof(double));
    memcpy(below + r * KID_BELOW, k->below + i * KID_BELOW, KID_BELOW * sizeof(double));
    rank[i] = r;
  }
  for (size_t m = 0; m + 3 < k->multi_len; m += 4) k->multi[m] = (double)rank[(size_t)k->multi[m]];
  for (size_t e = 0; e + 2 < k->errors_len; e += 3) {
    char index[24];
    snprintf(index, sizeof index, "%zu", rank[(size_t)strtoull(k->errors[e], NULL, 10)]);
    free(k->errors[e]);
    k->errors[e] = strdup(index);
  }
  free(k->names), free(k->ends), free(k->stats), free(k->below);
  k->names = names, k->ends = ends, k->stats = stats, k->below = below;
  k->names_cap = k->names_len;
  k->cap = n;
  free(order);
  free(rank);
}

static napi_value doubles_to_js(napi_env env, const double *data, size_t n) {
  void *buf;
  napi_value ab, out;
  napi_create_arraybuffer(env, n * sizeof(double), &buf, &ab);
  if (n) memcpy(buf, data, n * sizeof(double));
  napi_create_typedarray(env, napi_float64_array, n, ab, 0, &out);
  return out;
}

static napi_value kids_to_js(napi_env env, walk_kids *k) {
  napi_value obj, v, ends_ab, errors;
  napi_create_object(env, &obj);
  void *data;
  napi_create_buffer_copy(env, k->names_len, k->names_len ? k->names : "", &data, &v);
  napi_set_named_property(env, obj, "nameBytes", v);
  void *ends;
  napi_create_arraybuffer(env, k->count * sizeof(uint32_t), &ends, &ends_ab);
  if (k->count) memcpy(ends, k->ends, k->count * sizeof(uint32_t));
  napi_create_typedarray(env, napi_uint32_array, k->count, ends_ab, 0, &v);
  napi_set_named_property(env, obj, "nameEnds", v);
  napi_set_named_property(env, obj, "stats", doubles_to_js(env, k->stats, k->count * KID_STAT));
  napi_set_named_property(env, obj, "below", doubles_to_js(env, k->below, k->count * KID_BELOW));
  napi_set_named_property(env, obj, "multiLinked", doubles_to_js(env, k->multi, k->multi_len));
  napi_create_array_with_length(env, k->errors_len / 3, &errors);
  for (size_t i = 0; i + 2 < k->errors_len; i += 3) {
    napi_value triple, x;
    napi_create_array_with_length(env, 3, &triple);
    napi_create_double(env, strtod(k->errors[i], NULL), &x);
    napi_set_element(env, triple, 0, x);
    napi_create_string_utf8(env, k->errors[i + 1], NAPI_AUTO_LENGTH, &x);
    napi_set_element(env, triple, 1, x);
    napi_create_string_utf8(env, k->errors[i + 2], NAPI_AUTO_LENGTH, &x);
    napi_set_element(env, triple, 2, x);
    napi_set_element(env, errors, (uint32_t)(i / 3), triple);
  }
  napi_set_named_property(env, obj, "errors", errors);
  return obj;
}

static void free_kids(walk_kids *k) {
  if (!k) return;
  free(k->names);
  free(k->ends);
  free(k->stats);
  free(k->below);
  free(k->multi);
  for (size_t i = 0; i < k->errors_len; i++) free(k->errors[i]);
  free(k->errors);
  free(k);
}

static napi_value result_to_js(napi_env env, walk_result *r) {
  napi_value obj, usage, v, multi, errors;
  CHECK(napi_create_object(env, &obj));
  CHECK(napi_create_object(env, &usage));
  napi_create_double(env, r->apparent, &v);
  napi_set_named_property(env, usage, "apparentBytes", v);
  napi_create_double(env, r->allocated, &v);
  napi_set_named_property(env, usage, "allocatedBytes", v);
  napi_create_double(env, r->content, &v);
  napi_set_named_property(env, usage, "contentBytes", v);
  napi_create_double(env, r->entries, &v);
  napi_set_named_property(env, usage, "entries", v);
  napi_set_named_property(env, obj, "usage", usage);
  napi_create_double(env, r->newest, &v);
  napi_set_named_property(env, obj, "newest", v);
  CHECK(napi_create_array_with_length(env, r->multi_len, &multi));
  for (size_t i = 0; i < r->multi_len; i++) {
    napi_create_double(env, r->multi[i], &v);
    napi_set_element(env, multi, (uint32_t)i, v);
  }
  napi_set_named_property(env, obj, "multiLinked", multi);
  CHECK(napi_create_array_with_length(env, r->errors_len / 2, &errors));
  for (size_t i = 0; i + 1 < r->errors_len; i += 2) {
    napi_value pair, a, b;
    napi_create_array_with_length(env, 2, &pair);
    napi_create_string_utf8(env, r->errors[i], NAPI_AUTO_LENGTH, &a);
    napi_create_string_utf8(env, r->errors[i + 1], NAPI_AUTO_LENGTH, &b);
    napi_set_element(env, pair, 0, a);
    napi_set_element(env, pair, 1, b);
    napi_set_element(env, errors, (uint32_t)(i / 2), pair);
  }
  napi_set_named_property(env, obj, "errors", errors);
  if (r->kids) napi_set_named_property(env, obj, "children", kids_to_js(env, r->kids));
  return obj;
}

static void free_result(walk_result *r) {
  free_kids(r->kids);
  free(r->multi);
  for (size_t i = 0; i < r->errors_len; i++) free(r->errors[i]);
  free(r->errors);
}

// walkSubtree(dir, device) → { usage, multiLinked, errors }
static napi_value WalkSubtree(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char dir[4096];
  double device;
  if (get_string(env, argv[0], dir, sizeof dir) < 0) return throw_errno(env, ENAMETOOLONG, "open", NULL);
  CHECK(napi_get_value_double(env, argv[1], &device));
  walk_result r = {0};
  walk_subtree(dir, (dev_t)device, &r);
  napi_value out = result_to_js(env, &r);
  free_result(&r);
  return out;
}

typedef struct {
  char **dirs;
  uint8_t *per_child;  // walk_children for these dirs
  walk_result *results;
  size_t count;
  dev_t device;
  int threads;
  atomic_size_t next;
  napi_async_work work;
  napi_deferred deferred;
} walk_job;

static void *walk_worker(void *arg) {
  walk_job *job = arg;
  for (size_t i = atomic_fetch_add(&job->next, 1); i < job->count; i = atomic_fetch_add(&job->next, 1))
    if (job->per_child[i])
      walk_children(job->dirs[i], job->device, &job->results[i]);
    else
      walk_subtree(job->dirs[i], job->device, &job->results[i]);
  return NULL;
}

static void walk_execute(napi_env env, void *data) {
  (void)env;
  walk_job *job = data;
  int extra = job->threads - 1;
  pthread_t tids[16];
  int started = 0;
  for (int i = 0; i < extra && i < 16; i++)
    if (pthread_create(&tids[started], NULL, walk_worker, job) == 0) started++;
  walk_worker(job);
  for (int i = 0; i < started; i++) pthread_join(tids[i], NULL);
}

static void walk_complete(napi_env env, napi_status status, void *data) {
  walk_job *job = data;
  napi_value list;
  napi_create_array_with_length(env, job->count, &list);
  for (size_t i = 0; i < job->count; i++) {
    if (status == napi_ok) napi_set_element(env, list, (uint32_t)i, result_to_js(env, &job->results[i]));
    free_result(&job->results[i]);
    free(job->dirs[i]);
  }
  if (status == napi_ok)
    napi_resolve_deferred(env, job->deferred, list);
  else {
    reject_with(env, job->deferred, "measuring threads failed", 0);
  }
  napi_delete_async_work(env, job->work);
  free(job->dirs);
  free(job->per_child);
  free(job->results);
  free(job);
}

// walkSubtrees(dirs, device, threads, perChild?) → Promise<Array<{ usage, multiLinked, errors, children? }>>,
// in dirs' order; perChild[i] true: dirs[i] is walked by walk_children.
static napi_value WalkSubtrees(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t count;
  double device;
  int32_t threads;
  CHECK(napi_get_array_length(env, argv[0], &count));
  CHECK(napi_get_value_double(env, argv[1], &device));
  CHECK(napi_get_value_int32(env, argv[2], &threads));
  walk_job *job = calloc(1, sizeof *job);
  job->dirs = calloc(count ? count : 1, sizeof(char *));
  job->results = calloc(count ? count : 1, sizeof(walk_result));
  job->per_child = calloc(count ? count : 1, 1);
  bool has_flags = false;
  if (argc > 3) napi_is_array(env, argv[3], &has_flags);
  for (uint32_t i = 0; has_flags && i < count; i++) {
    napi_value v;
    bool flag = false;
    if (napi_get_element(env, argv[3], i, &v) == napi_ok && napi_get_value_bool(env, v, &flag) == napi_ok) job->per_child[i] = flag;
  }
  job->count = count;
  job->device = (dev_t)device;
  job->threads = threads < 1 ? 1 : threads > 16 ? 16 : threads;
  for (uint32_t i = 0; i < count; i++) {
    napi_value v;
    char dir[4096];
    napi_get_element(env, argv[0], i, &v);
    if (get_string(env, v, dir, sizeof dir) < 0) dir[0] = 0;
    job->dirs[i] = strdup(dir);
  }
  napi_value promise, name;
  CHECK(napi_create_promise(env, &job->deferred, &promise));
  napi_create_string_utf8(env, "strata:walk", NAPI_AUTO_LENGTH, &name);
  CHECK(napi_create_async_work(env, NULL, name, walk_execute, walk_complete, job, &job->work));
  CHECK(napi_queue_async_work(env, job->work));
  return promise;
}

// ---- reading many small files ----
// A store's metadata is tens of thousands of files of a few bytes (layerdb's diff, size and parent), and
// opening each costs far more than its bytes. readSmallFiles opens, reads and closes them on a few threads
// and hands every file's bytes back in one Buffer. Files are opened O_NONBLOCK | O_NOCTTY | O_NOFOLLOW, so
// a FIFO or a terminal standing where a file should be never blocks, a symlink is not followed (ELOOP),
// and only a regular file is read (a device node is opened, as node:fs would open it, but not read: an
// O_PATH open first would cost two more system calls per file).

#define SMALL_PIECE 64  // files a thread takes at a time
#define SMALL_MAX_THREADS 16

typedef struct {
  uint8_t *data;
  size_t len, cap;
} small_arena;

typedef struct {
  int basefd;
  char **names;
  char **files;
  uint32_t name_count, file_count;
  size_t count;  // name_count * file_count
  size_t max_bytes;
  int threads;
  atomic_size_t next;
  atomic_int thread_ids;
  int32_t *status;    // per file: 0 read, an errno, -1 larger than max_bytes, -st_mode not a regular file
  uint32_t *lengths;  // per file read: its bytes
  uint8_t *owner;     // and which arena holds them
  size_t *offsets;    // where in it
  small_arena arenas[SMALL_MAX_THREADS];
  int failed;  // an arena could not grow
  int stat_only;  // statFiles: each file's lstat numbers, nothing read
  int links;      // readLinks: each file is a symbolic link, its target read
  double *stats;  // per file STAT_SMALL numbers (statFiles)
  napi_async_work work;
  napi_deferred deferred;
} small_job;

// Reads file `k` (names[k / file_count] "/" files[k % file_count], or the name alone when that file name
// is empty) below the base directory into arena `a`, recording its outcome.
// File k's path below the base directory into `rel`; -1 (its status ENAMETOOLONG) when it does not fit.
static int small_rel(small_job *job, size_t k, char *rel, size_t cap) {
  const char *name = job->names[k / job->file_count], *file = job->files[k % job->file_count];
  int n = file[0] ? snprintf(rel, cap, "%s/%s", name, file) : snprintf(rel, cap, "%s", name);
  if (n >= 0 && (size_t)n < cap) return 0;
  job->status[k] = ENAMETOOLONG;
  return -1;
}

// Room for `want` more bytes in arena `a`; -1 (file k's status ENOMEM, the job failed) when it cannot grow.
static int arena_reserve(small_job *job, small_arena *a, size_t k, size_t want) {
  if (a->len + want <= a->cap) return 0;
  size_t cap = a->cap ? a->cap : 1 << 16;
  while (a->len + want > cap) cap *= 2;
  uint8_t *grown = realloc(a->data, cap);
  if (!grown) {
    job->status[k] = ENOMEM;
    job->failed = 1;
    return -1;
  }
  a->data = grown;
  a->cap = cap;
  return 0;
}

// File k's outcome once read: an errno, -1 when longer than max_bytes, else its `got` bytes kept where
// they were read, at the end of arena `a`.
static void small_outcome(small_job *job, small_arena *a, uint8_t arena_index, size_t k, int err, size_t got) {
  if (err) {
    job->status[k] = err;
  } else if (got > job->max_bytes) {
    job->status[k] = -1;
  } else {
    job->status[k] = 0;
    job->lengths[k] = (uint32_t)got;
    job->owner[k] = arena_index;
    job->offsets[k] = a->len;
    a->len += got;
  }
}

static void read_small_file(small_job *job, small_arena *a, uint8_t arena_index, size_t k) {
  char rel[4096];
  if (small_rel(job, k, rel, sizeof rel) < 0) return;
  int fd = openat(job->basefd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    job->status[k] = errno;
    return;
  }
  struct stat st;
  if (fstat(fd, &st) < 0) {
    job->status[k] = errno;
  } else if (S_ISDIR(st.st_mode)) {
    job->status[k] = EISDIR;  // what read(2) says of a directory, as Node's fs does
  } else if (!S_ISREG(st.st_mode)) {
    job->status[k] = -(int32_t)st.st_mode;
  } else if ((uint64_t)st.st_size > job->max_bytes) {
    job->status[k] = -1;
  } else {
    // One byte more than allowed tells a file that grew past the limit since fstat.
    size_t want = job->max_bytes + 1;
    if (arena_reserve(job, a, k, want) < 0) {
      close(fd);
      return;
    }
    size_t got = 0;
    int err = 0;
    while (got < want) {
      ssize_t r = read(fd, a->data + a->len + got, want - got);
      if (r < 0) {
        if (errno == EINTR) continue;
        err = errno;
        break;
      }
      if (r == 0) break;
      got += (size_t)r;
    }
    small_outcome(job, a, arena_index, k, err, got);
  }
  close(fd);
}

// statFiles' numbers per file, as the metadata index keeps a path's lstat: st_mode (minus the errno when
// lstat failed, the rest 0), size, mtime and ctime in milliseconds (Node's mtimeMs arithmetic), ino, dev.
#define STAT_SMALL 6

static void stat_small_file(small_job *job, size_t k) {
  const char *name = job->names[k / job->file_count], *file = job->files[k % job->file_count];
  double *f = job->stats + k * STAT_SMALL;
  char rel[4096];
  int n = file[0] ? snprintf(rel, sizeof rel, "%s/%s", name, file) : snprintf(rel, sizeof rel, "%s", name);
  struct stat st;
  if (n < 0 || (size_t)n >= sizeof rel) {
    f[0] = -ENAMETOOLONG;
    return;
  }
  if (fstatat(job->basefd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    f[0] = -(double)errno;
    return;
  }
  f[0] = st.st_mode;
  f[1] = (double)st.st_size;
  f[2] = (double)st.st_mtim.tv_sec * 1000 + (double)st.st_mtim.tv_nsec / 1e6;
  f[3] = (double)st.st_ctim.tv_sec * 1000 + (double)st.st_ctim.tv_nsec / 1e6;
  f[4] = (double)st.st_ino;
  f[5] = (double)st.st_dev;
}

// readLinks' file k: the target of the symbolic link there (readlinkat, nothing followed), into arena `a`;
// EINVAL when it is no symbolic link, -1 when its target is longer than max_bytes.
static void read_small_link(small_job *job, small_arena *a, uint8_t arena_index, size_t k) {
  char rel[4096];
  size_t want = job->max_bytes + 1;
  if (small_rel(job, k, rel, sizeof rel) < 0 || arena_reserve(job, a, k, want) < 0) return;
  ssize_t got = readlinkat(job->basefd, rel, (char *)a->data + a->len, want);
  small_outcome(job, a, arena_index, k, got < 0 ? errno : 0, got < 0 ? 0 : (size_t)got);
}

static void *small_worker(void *arg) {
  small_job *job = arg;
  int id = atomic_fetch_add(&job->thread_ids, 1);
  small_arena *a = &job->arenas[id];
  for (size_t i = atomic_fetch_add(&job->next, SMALL_PIECE); i < job->count; i = atomic_fetch_add(&job->next, SMALL_PIECE)) {
    size_t end = i + SMALL_PIECE < job->count ? i + SMALL_PIECE : job->count;
    for (size_t k = i; k < end; k++) {
      if (job->stat_only)
        stat_small_file(job, k);
      else if (job->links)
        read_small_link(job, a, (uint8_t)id, k);
      else
        read_small_file(job, a, (uint8_t)id, k);
    }
  }
  return NULL;
}

static void small_execute(napi_env env, void *data) {
  (void)env;
  small_job *job = data;
  pthread_t tids[SMALL_MAX_THREADS];
  int started = 0;
  for (int i = 0; i < job->threads - 1; i++)
    if (pthread_create(&tids[started], NULL, small_worker, job) == 0) started++;
  small_worker(job);
  for (int i = 0; i < started; i++) pthread_join(tids[i], NULL);
}

static void small_free(small_job *job) {
  for (uint32_t i = 0; i < job->name_count; i++) free(job->names[i]);
  for (uint32_t i = 0; i < job->file_count; i++) free(job->files[i]);
  for (int i = 0; i < SMALL_MAX_THREADS; i++) free(job->arenas[i].data);
  free(job->names);
  free(job->files);
  free(job->status);
  free(job->lengths);
  free(job->owner);
  free(job->offsets);
  free(job->stats);
  if (job->basefd >= 0) close(job->basefd);
  free(job);
}

// Every file's bytes in one Buffer, in order: { bytes, ends, status }.
static napi_value small_result(napi_env env, small_job *job) {
  size_t total = 0;
  for (size_t k = 0; k < job->count; k++)
    if (job->status[k] == 0) total += job->lengths[k];
  if (total > UINT32_MAX) return NULL;
  napi_value bytes, ends_ab, ends, status_ab, status, out;
  uint8_t *packed;
  uint32_t *end_at;
  int32_t *codes;
  CHECK(napi_create_buffer(env, total, (void **)&packed, &bytes));
  CHECK(napi_create_arraybuffer(env, job->count * sizeof(uint32_t) + 4, (void **)&end_at, &ends_ab));
  CHECK(napi_create_typedarray(env, napi_uint32_array, job->count, ends_ab, 0, &ends));
  CHECK(napi_create_arraybuffer(env, job->count * sizeof(int32_t) + 4, (void **)&codes, &status_ab));
  CHECK(napi_create_typedarray(env, napi_int32_array, job->count, status_ab, 0, &status));
  size_t at = 0;
  for (size_t k = 0; k < job->count; k++) {
    if (job->status[k] == 0) {
      memcpy(packed + at, job->arenas[job->owner[k]].data + job->offsets[k], job->lengths[k]);
      at += job->lengths[k];
    }
    end_at[k] = (uint32_t)at;
    codes[k] = job->status[k];
  }
  CHECK(napi_create_object(env, &out));
  napi_set_named_property(env, out, "bytes", bytes);
  napi_set_named_property(env, out, "ends", ends);
  napi_set_named_property(env, out, "status", status);
  return out;
}

// statFiles' answer: a Float64Array of STAT_SMALL numbers per file.
static napi_value stat_result(napi_env env, small_job *job) {
  napi_value ab, out;
  double *f;
  if (napi_create_arraybuffer(env, job->count * STAT_SMALL * sizeof(double) + 8, (void **)&f, &ab) != napi_ok) return NULL;
  memcpy(f, job->stats, job->count * STAT_SMALL * sizeof(double));
  if (napi_create_typedarray(env, napi_float64_array, job->count * STAT_SMALL, ab, 0, &out) != napi_ok) return NULL;
  return out;
}

static void small_complete(napi_env env, napi_status status, void *data) {
  small_job *job = data;
  napi_value out = status == napi_ok && !job->failed ? (job->stat_only ? stat_result(env, job) : small_result(env, job)) : NULL;
  if (out)
    napi_resolve_deferred(env, job->deferred, out);
  else
    reject_with(env, job->deferred, job->failed ? "reading small files: out of memory" : "reading small files failed", job->failed ? ENOMEM : 0);
  napi_delete_async_work(env, job->work);
  small_free(job);
}

// Copies the strings of JS array `list` into `out` (count of them). A name too long for a path is kept:
// its files fail with ENAMETOOLONG, as they would in node:fs.
static int small_strings(napi_env env, napi_value list, char ***out, uint32_t *count) {
  if (napi_get_array_length(env, list, count) != napi_ok) return -1;
  *out = calloc(*count ? *count : 1, sizeof(char *));
  for (uint32_t i = 0; i < *count; i++) {
    napi_value v;
    size_t len;
    if (napi_get_element(env, list, i, &v) != napi_ok || napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return -1;
    if (!((*out)[i] = malloc(len + 1))) return -1;
    napi_get_value_string_utf8(env, v, (*out)[i], len + 1, &len);
  }
  return 0;
}

// readSmallFiles(base, names, fileNames, maxBytes, threads) → Promise<{ bytes, ends, status }>: reads
// file fileNames[j] of directory names[i] below `base` (names[i] itself when fileNames[j] is ""), as
// file k = i * fileNames.length + j, on `threads` threads. Its bytes are bytes[ends[k-1] .. ends[k]]
// (from 0 for the first) when status[k] is 0; otherwise status[k] is an errno (EISDIR for a directory),
// -1 for a regular file larger than maxBytes (not read), or minus the st_mode of anything else (not
// read). Rejects with `errno` when `base` cannot be opened.
static napi_value start_small_job(napi_env env, napi_value *argv, double max_bytes, int32_t threads, int stat_only);

// The arguments (base, names, fileNames, maxBytes, threads) of readSmallFiles and readLinks.
static napi_value small_read_call(napi_env env, napi_callback_info info, int mode) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  double max_bytes;
  int32_t threads;
  CHECK(napi_get_value_double(env, argv[3], &max_bytes));
  CHECK(napi_get_value_int32(env, argv[4], &threads));
  return start_small_job(env, argv, max_bytes, threads, mode);
}

static napi_value ReadSmallFiles(napi_env env, napi_callback_info info) {
  return small_read_call(env, info, 0);
}

// statFiles(base, names, fileNames, threads) → Promise<Float64Array>: the lstat numbers (STAT_SMALL per
// file, in readSmallFiles' order) of the same files, never following a symlink, nothing opened or read:
// what the metadata index checks a store's small files by. Rejects with `errno` when `base` cannot be opened.
static napi_value StatFiles(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t threads;
  CHECK(napi_get_value_int32(env, argv[3], &threads));
  return start_small_job(env, argv, 0, threads, 1);
}

// readLinks(base, names, fileNames, maxBytes, threads) → Promise<{ bytes, ends, status }>: as
// readSmallFiles, each file's symbolic link target instead of its bytes (status EINVAL: no symlink).
static napi_value ReadLinks(napi_env env, napi_callback_info info) {
  return small_read_call(env, info, 2);
}

static napi_value start_small_job(napi_env env, napi_value *argv, double max_bytes, int32_t threads, int stat_only) {
  char base[4096];
  if (get_string(env, argv[0], base, sizeof base) < 0) return throw_errno(env, ENAMETOOLONG, "open", NULL);
  small_job *job = calloc(1, sizeof *job);
  job->basefd = -1;
  if (small_strings(env, argv[1], &job->names, &job->name_count) < 0 || small_strings(env, argv[2], &job->files, &job->file_count) < 0) {
    small_free(job);
    return throw_errno(env, EINVAL, "readSmallFiles: names and fileNames must be arrays of strings", NULL);
  }
  job->count = (size_t)job->name_count * job->file_count;
  job->max_bytes = max_bytes < 0 ? 0 : max_bytes > (1 << 30) ? (1 << 30) : (size_t)max_bytes;
  job->threads = threads < 1 ? 1 : threads > SMALL_MAX_THREADS ? SMALL_MAX_THREADS : threads;
  size_t slots = job->count ? job->count : 1;
  job->status = calloc(slots, sizeof(int32_t));
  job->lengths = calloc(slots, sizeof(uint32_t));
  job->owner = calloc(slots, 1);
  job->offsets = calloc(slots, sizeof(size_t));
  job->links = stat_only == 2;
  if (job->links) stat_only = 0;
  job->stat_only = stat_only;
  if (stat_only) job->stats = calloc(slots * STAT_SMALL, sizeof(double));
  napi_value promise, name;
  CHECK(napi_create_promise(env, &job->deferred, &promise));
  job->basefd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (job->basefd < 0) {
    int err = errno;
    char msg[4200];
    snprintf(msg, sizeof msg, "open %s: %s", base, strerror(err));
    reject_with(env, job->deferred, msg, err);
    small_free(job);
    return promise;
  }
  napi_create_string_utf8(env, "strata:small-files", NAPI_AUTO_LENGTH, &name);
  CHECK(napi_create_async_work(env, NULL, name, small_execute, small_complete, job, &job->work));
  CHECK(napi_queue_async_work(env, job->work));
  return promise;
}

// ---- rebuilding a layer's exact tar, hashed as it goes ----
// The exact rebuild (a layer's original tar from its tar-split and its files) and the proof of its DiffID
// are the bulk of `save`, exact `diff` and `verify`. Here one libuv thread assembles the bytes into a
// ring of large buffers (segments copied in, files read straight into it) and writes each to the output,
// while a second thread hashes the same buffers with the SHA-256 of the OpenSSL that Node itself carries
// (found at run time; without it these calls are absent and strata hashes in JavaScript).

typedef struct {
  void *(*ctx_new)(void);
  void (*ctx_free)(void *);
  const void *(*sha256)(void);
  int (*init)(void *, const void *, void *);
  int (*update)(void *, const void *, size_t);
  int (*final)(void *, unsigned char *, unsigned int *);
} openssl_sha;
static openssl_sha ossl;
static int ossl_state = 0;  // 0 not looked up, 1 found, -1 absent

static int ossl_ready(void) {
  if (ossl_state == 0) {
    ossl.ctx_new = (void *(*)(void))dlsym(RTLD_DEFAULT, "EVP_MD_CTX_new");
    ossl.ctx_free = (void (*)(void *))dlsym(RTLD_DEFAULT, "EVP_MD_CTX_free");
    ossl.sha256 = (const void *(*)(void))dlsym(RTLD_DEFAULT, "EVP_sha256");
    ossl.init = (int (*)(void *, const void *, void *))dlsym(RTLD_DEFAULT, "EVP_DigestInit_ex");
    ossl.update = (int (*)(void *, const void *, size_t))dlsym(RTLD_DEFAULT, "EVP_DigestUpdate");
    ossl.final = (int (*)(void *, unsigned char *, unsigned int *))dlsym(RTLD_DEFAULT, "EVP_DigestFinal_ex");
    ossl_state = ossl.ctx_new && ossl.ctx_free && ossl.sha256 && ossl.init && ossl.update && ossl.final ? 1 : -1;
  }
  return ossl_state == 1;
}

#ifndef RING_SLOTS
#define RING_SLOTS 16
#endif
#ifndef RING_KIB
#define RING_KIB 128
#endif
#define RING_BYTES (RING_KIB << 10)

typedef struct {
  uint8_t *buf[RING_SLOTS];
  size_t len[RING_SLOTS];
  int ready[RING_SLOTS];  // handed to the hasher, not hashed yet
  int ended;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  void *ctx;  // NULL: nothing is hashed
  int cur;    // the slot the writer fills next (a hash's ring goes on from one exactPlan to the next)
} ring;

static void *ring_hasher(void *arg) {
  ring *r = arg;
  for (int i = 0;; i = (i + 1) % RING_SLOTS) {
    pthread_mutex_lock(&r->mu);
    while (!r->ready[i] && !r->ended) pthread_cond_wait(&r->cv, &r->mu);
    if (!r->ready[i]) {
      pthread_mutex_unlock(&r->mu);
      return NULL;
    }
    pthread_mutex_unlock(&r->mu);
    ossl.update(r->ctx, r->buf[i], r->len[i]);
    pthread_mutex_lock(&r->mu);
    r->ready[i] = 0;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
  }
}

// A hash keeps its ring and its hashing thread from one exactPlan to the next, so a layer's batches
// follow each other without the writer waiting, at each batch's end, for the hasher to catch up.
typedef struct {
  void *ctx;
  int busy;  // a job is hashing into it
  ring *r;   // allocated by the first exactPlan
  pthread_t hasher;
  int hashing;
} sha_state;

// Waits until every slot handed over is hashed, and stops the hashing thread.
static void sha_stop(sha_state *s) {
  if (!s->hashing) return;
  ring *r = s->r;
  pthread_mutex_lock(&r->mu);
  r->ended = 1;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
  pthread_join(s->hasher, NULL);
  s->hashing = 0;
  r->ended = 0;
}

static void sha_release_ring(sha_state *s) {
  sha_stop(s);
  ring *r = s->r;
  if (!r) return;
  for (int i = 0; i < RING_SLOTS; i++) free(r->buf[i]);
  pthread_mutex_destroy(&r->mu);
  pthread_cond_destroy(&r->cv);
  free(r);
  s->r = NULL;
}

// The hash's ring, with its hashing thread running; NULL with errno set when either cannot be had.
static ring *sha_ring(sha_state *s) {
  if (!s->r) {
    ring *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    for (int i = 0; i < RING_SLOTS; i++) {
      if (!(r->buf[i] = malloc(RING_BYTES))) {
        for (int j = 0; j < i; j++) free(r->buf[j]);
        free(r);
        errno = ENOMEM;
        return NULL;
      }
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->ctx = s->ctx;
    s->r = r;
  }
  if (!s->hashing) {
    int e = pthread_create(&s->hasher, NULL, ring_hasher, s->r);
    if (e != 0) {
      errno = e;
      return NULL;
    }
    s->hashing = 1;
  }
  return s->r;
}

static void sha_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  sha_state *s = data;
  sha_release_ring(s);
  if (s->ctx) ossl.ctx_free(s->ctx);
  free(s);
}

// sha256Begin() → a SHA-256 in progress (an external), or null when Node's OpenSSL cannot be reached.
static napi_value Sha256Begin(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  if (!ossl_ready()) {
    CHECK(napi_get_null(env, &out));
    return out;
  }
  sha_state *s = calloc(1, sizeof *s);
  s->ctx = ossl.ctx_new();
  if (!s->ctx || ossl.init(s->ctx, ossl.sha256(), NULL) != 1) {
    if (s->ctx) ossl.ctx_free(s->ctx);
    free(s);
    CHECK(napi_get_null(env, &out));
    return out;
  }
  CHECK(napi_create_external(env, s, sha_finalize, NULL, &out));
  return out;
}

static sha_state *sha_arg(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return NULL;
  void *data = NULL;
  napi_get_value_external(env, v, &data);
  return data;
}

// sha256End(hash) → its digest as 64 hex digits; the hash cannot be used again.
static napi_value Sha256End(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sha_state *s = argc == 1 ? sha_arg(env, argv[0]) : NULL;
  if (!s || !s->ctx || s->busy) {
    napi_throw_type_error(env, NULL, "sha256End: a hash from sha256Begin, not in use and not ended");
    return NULL;
  }
  sha_release_ring(s);  // every byte handed over is hashed before the digest is taken
  unsigned char md[32];
  unsigned int n = 0;
  ossl.final(s->ctx, md, &n);
  ossl.ctx_free(s->ctx);
  s->ctx = NULL;
  char hex[65];
  for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  napi_value out;
  CHECK(napi_create_string_utf8(env, hex, 64, &out));
  return out;
}

typedef struct {
  int32_t fd;  // -1: hash only
  int dirfd;
  const char *dir;
  const uint8_t *segs;
  size_t segs_len;
  const uint8_t *names;
  size_t names_len;
  const double *table;
  size_t rows;
  sha_state *sha;
  napi_ref keep[4];
  napi_async_work work;
  napi_deferred deferred;
  // the outcome
  int err;          // an errno (a file's when `path` is set, else the output's)
  char *path;       // the file it failed on (below dir)
  int64_t recorded; // its size in the tar-split
  int64_t found;    // its size on disk (>= 0 when that was the problem)
  int64_t left;     // bytes it fell short by while read
  mode_t bad_mode;  // not a regular file: what it is
  int bad_plan;
  size_t row;  // the row it failed on
  int64_t written;
} exact_job;

// The directory of the last file exactPlan opened: a layer's tar lists a directory's files one after
// another, so each file costs one lookup of its own name instead of a walk from the layer's top.
typedef struct {
  int fd;  // -1: none yet
  size_t len;
  char path[4096];
} dir_cache;

// exactPlan's open of a file the tar-split records as regular (`rel` normalised): its directory opened
// beneath `dirfd` following no symlink (and kept for the next file), the file itself looked at without
// following it and opened only when it is a regular file, with O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, then
// checked to be that same inode. That is open_entry's rule at half its cost (no O_PATH descriptor and no
// reopening through /proc/self/fd, ~1.6 µs a file), with one difference: something swapped in between
// the look and the open (a FIFO, a device) is opened, without blocking or becoming a controlling
// terminal, before it is refused. Returns as open_entry does.
static int open_exact_file(dir_cache *dc, int dirfd, const char *rel, struct stat *st) {
  if (rel[0] == 0) return fstat(dirfd, st) < 0 ? -1 : -2;  // the layer's top itself: a directory
  const char *slash = strrchr(rel, '/');
  size_t dl = slash ? (size_t)(slash - rel) : 0;
  int parent = dirfd;
  if (dl > 0) {
    if (dc->fd < 0 || dc->len != dl || memcmp(dc->path, rel, dl) != 0) {
      if (dc->fd >= 0) close(dc->fd);
      dc->fd = -1;
      memcpy(dc->path, rel, dl);
      dc->path[dl] = 0;
      int fd = open_beneath(dirfd, dc->path, O_PATH | O_DIRECTORY);
      if (fd < 0) return -1;
      dc->fd = fd;
      dc->len = dl;
    }
    parent = dc->fd;
  }
  const char *base = slash ? slash + 1 : rel;
  if (fstatat(parent, base, st, AT_SYMLINK_NOFOLLOW) < 0) return -1;
  if (!S_ISREG(st->st_mode)) return -2;
  int fd = openat(parent, base, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat opened;
  if (fstat(fd, &opened) < 0 || opened.st_dev != st->st_dev || opened.st_ino != st->st_ino) {
    close(fd);
    return errno = ESTALE, -1;
  }
  *st = opened;
  return fd;
}

typedef struct {
  exact_job *job;
  ring *r;
  int cur;  // the slot being filled
} assembler;

// Hands the slot being filled to the hasher and the output, then waits for the next one to be free.
static int assembler_submit(assembler *a) {
  ring *r = a->r;
  int i = a->cur;
  size_t len = r->len[i];
  if (len == 0) return 0;
  if (r->ctx) {
    pthread_mutex_lock(&r->mu);
    r->ready[i] = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
  }
  if (a->job->fd >= 0 && write_all(a->job->fd, r->buf[i], len) < 0) {
    a->job->err = errno;
    return -1;
  }
  a->job->written += (int64_t)len;
  a->cur = (i + 1) % RING_SLOTS;
  pthread_mutex_lock(&r->mu);
  while (r->ready[a->cur]) pthread_cond_wait(&r->cv, &r->mu);
  pthread_mutex_unlock(&r->mu);
  r->len[a->cur] = 0;
  return 0;
}

static int assembler_add(assembler *a, const uint8_t *data, size_t len) {
  ring *r = a->r;
  while (len > 0) {
    size_t room = RING_BYTES - r->len[a->cur];
    size_t n = len < room ? len : room;
    memcpy(r->buf[a->cur] + r->len[a->cur], data, n);
    r->len[a->cur] += n;
    data += n;
    len -= n;
    if (r->len[a->cur] == RING_BYTES && assembler_submit(a) < 0) return -1;
  }
  return 0;
}

// Reads exactly `size` bytes of `in` into the ring; -1 on a read error (errno) or an output error, -2
// when the file ended early (job->left says by how much).
static int assembler_read(assembler *a, int in, int64_t size) {
  ring *r = a->r;
  int64_t left = size;
  while (left > 0) {
    size_t room = RING_BYTES - r->len[a->cur];
    size_t want = (int64_t)room < left ? room : (size_t)left;
    ssize_t n = read(in, r->buf[a->cur] + r->len[a->cur], want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) {
      a->job->left = left;
      return -2;
    }
    r->len[a->cur] += (size_t)n;
    left -= n;
    if (r->len[a->cur] == RING_BYTES && assembler_submit(a) < 0) return -3;
  }
  return 0;
}

static void exact_execute(napi_env env, void *data) {
  (void)env;
  exact_job *job = data;
  ring local = {.ended = 0, .ctx = NULL, .cur = 0};
  ring *rp = &local;
  if (job->sha) {
    if (!(rp = sha_ring(job->sha))) {
      job->err = errno ? errno : ENOMEM;
      return;
    }
  } else {
    pthread_mutex_init(&local.mu, NULL);
    pthread_cond_init(&local.cv, NULL);
    static __thread uint8_t *bufs[RING_SLOTS];
    for (int i = 0; i < RING_SLOTS; i++) {
      if (!bufs[i] && !(bufs[i] = malloc(RING_BYTES))) {
        job->err = ENOMEM;
        return;
      }
      local.buf[i] = bufs[i];
      local.len[i] = 0;
      local.ready[i] = 0;
    }
  }
  assembler a = {.job = job, .r = rp, .cur = rp->cur};
  size_t seg_at = 0, name_at = 0;
  char rel[4096];
  dir_cache dc = {.fd = -1};
  int failed = 0;
  for (size_t row = 0; row < job->rows && !failed; row++) {
    job->row = row;
    size_t seg_len = (size_t)job->table[3 * row], name_len = (size_t)job->table[3 * row + 1];
    int64_t size = (int64_t)job->table[3 * row + 2];
    if (seg_at + seg_len > job->segs_len || name_at + name_len > job->names_len) {
      job->bad_plan = 1;
      break;
    }
    if (assembler_add(&a, job->segs + seg_at, seg_len) < 0) break;
    seg_at += seg_len;
    if (size <= 0) {
      name_at += name_len;
      continue;
    }
    const uint8_t *name = job->names + name_at;
    name_at += name_len;
    if (job->dirfd < 0 || normalise_name(name, name_len, rel, sizeof rel) < 0) {
      job->err = job->dirfd < 0 ? EBADF : errno;
      job->path = strndup((const char *)name, name_len);
      break;
    }
    struct stat st;
    int in = open_exact_file(&dc, job->dirfd, rel, &st);
    if (in < 0 || st.st_size != size) {
      job->path = strdup(rel);
      job->recorded = size;
      if (in == -1) job->err = errno;
      else if (in == -2) job->bad_mode = st.st_mode;
      else job->found = (int64_t)st.st_size;
      if (in >= 0) close(in);
      break;
    }
    int got = assembler_read(&a, in, size);
    int err = errno;
    close(in);
    if (got == -3) break;
    if (got < 0) {
      job->path = strdup(rel);
      job->recorded = size;
      if (got == -1) job->err = err;
      failed = 1;
    }
  }
  if (dc.fd >= 0) close(dc.fd);
  int ok = job->err == 0 && job->path == NULL && !job->bad_plan;
  // The batch's last bytes go out now (what follows on fd is the caller's); their hashing may lag.
  if (ok && assembler_submit(&a) < 0) ok = 0;
  rp->cur = a.cur;
  if (!job->sha) {
    pthread_mutex_destroy(&local.mu);
    pthread_cond_destroy(&local.cv);
  } else if (!ok) {
    // A failed layer's hash is never used: stop its thread and empty the ring.
    sha_stop(job->sha);
    for (int i = 0; i < RING_SLOTS; i++) rp->len[i] = rp->ready[i] = 0;
    rp->cur = 0;
  }
}

static void exact_free(napi_env env, exact_job *job) {
  for (int i = 0; i < 4; i++)
    if (job->keep[i]) napi_delete_reference(env, job->keep[i]);
  if (job->dirfd >= 0) close(job->dirfd);
  free(job->path);
  free((char *)job->dir);
  free(job);
}

static void set_int64(napi_env env, napi_value obj, const char *key, int64_t n) {
  napi_value v;
  napi_create_int64(env, n, &v);
  napi_set_named_property(env, obj, key, v);
}

// Rejects with an Error carrying, for a file: `path` (a Buffer of its name below the layer), `errno`,
// `recorded` (its size in the tar-split) and one of `found` (its size on disk), `mode` (not a regular
// file) or `left` (it ended early); for the output: errno and a message starting "write: ".
static void exact_complete(napi_env env, napi_status status, void *data) {
  exact_job *job = data;
  if (job->sha) job->sha->busy = 0;
  if (status == napi_ok && job->err == 0 && job->path == NULL && !job->bad_plan) {
    napi_value n;
    napi_create_int64(env, job->written, &n);
    napi_resolve_deferred(env, job->deferred, n);
  } else {
    char msg[8600];
    if (job->bad_plan) snprintf(msg, sizeof msg, "exactPlan: the table asks for more bytes than given");
    else if (job->path) snprintf(msg, sizeof msg, "%s/%s: %s", job->dir, job->path, job->err ? strerror(job->err) : "does not match its tar-split record");
    else snprintf(msg, sizeof msg, "write: %s", strerror(job->err ? job->err : EIO));
    napi_value m, e, v;
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
    napi_create_error(env, NULL, m, &e);
    napi_create_int32(env, job->err, &v);
    napi_set_named_property(env, e, "errno", v);
    if (job->path) {
      napi_create_buffer_copy(env, strlen(job->path), job->path, NULL, &v);
      napi_set_named_property(env, e, "path", v);
      set_int64(env, e, "recorded", job->recorded);
      set_int64(env, e, "row", (int64_t)job->row);
      if (job->found >= 0) set_int64(env, e, "found", job->found);
      if (job->bad_mode) set_int64(env, e, "mode", job->bad_mode);
      if (job->left) set_int64(env, e, "left", job->left);
    }
    napi_reject_deferred(env, job->deferred, e);
  }
  napi_delete_async_work(env, job->work);
  exact_free(env, job);
}

// exactPlan(fd, layer, segments, names, table, rows, hash) → Promise<bytes written>. Row i of `table`
// (a Float64Array, three numbers a row) is: segLen bytes, the next ones of `segments`, then — when its
// size is above 0 — the file named by the next nameLen bytes of `names`, opened beneath `layer` ({ dirFd,
// dir }, or null for no files) following no symlink, which must be a regular file of exactly that size.
// fd -1 writes nothing (only hashes); `hash` (from sha256Begin, or null) takes every byte.
static napi_value ExactPlan(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7) {
    napi_throw_type_error(env, NULL, "exactPlan: (fd, layer, segments, names, table, rows, hash)");
    return NULL;
  }
  exact_job *job = calloc(1, sizeof *job);
  job->dirfd = -1;
  job->found = -1;
  const char *problem = NULL;
  CHECK(napi_get_value_int32(env, argv[0], &job->fd));
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  char dir[4096] = "";
  if (t == napi_object) {
    napi_value fdv, dirv;
    int32_t dirfd;
    if (napi_get_named_property(env, argv[1], "dirFd", &fdv) != napi_ok || napi_get_value_int32(env, fdv, &dirfd) != napi_ok ||
        napi_get_named_property(env, argv[1], "dir", &dirv) != napi_ok || get_string(env, dirv, dir, sizeof dir) < 0)
      problem = "exactPlan: layer is { dirFd, dir } of an open directory";
    else if ((job->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0)) < 0)
      problem = "exactPlan: the layer's descriptor is not open";
  }
  job->dir = strdup(dir);
  void *p;
  size_t n;
  bool is_buffer = false;
  if (!problem && (napi_is_buffer(env, argv[2], &is_buffer) != napi_ok || !is_buffer)) problem = "exactPlan: segments must be a Buffer";
  if (!problem) {
    napi_get_buffer_info(env, argv[2], &p, &n);
    job->segs = p;
    job->segs_len = n;
    if (napi_is_buffer(env, argv[3], &is_buffer) != napi_ok || !is_buffer) problem = "exactPlan: names must be a Buffer";
  }
  if (!problem) {
    napi_get_buffer_info(env, argv[3], &p, &n);
    job->names = p;
    job->names_len = n;
    napi_typedarray_type type;
    size_t length;
    double rows;
    if (napi_get_typedarray_info(env, argv[4], &type, &length, &p, NULL, NULL) != napi_ok || type != napi_float64_array) problem = "exactPlan: table must be a Float64Array";
    else if (napi_get_value_double(env, argv[5], &rows) != napi_ok || rows < 0 || rows * 3 > (double)length) problem = "exactPlan: rows beyond the table";
    else {
      job->table = p;
      job->rows = (size_t)rows;
    }
  }
  if (!problem) {
    napi_typeof(env, argv[6], &t);
    if (t != napi_null && t != napi_undefined) {
      job->sha = sha_arg(env, argv[6]);
      if (!job->sha || !job->sha->ctx || job->sha->busy) problem = "exactPlan: hash must come from sha256Begin, not ended nor in use";
    }
  }
  if (problem) {
    exact_free(env, job);
    napi_throw_type_error(env, NULL, problem);
    return NULL;
  }
  if (job->sha) job->sha->busy = 1;
  for (int i = 0; i < 4; i++) napi_create_reference(env, argv[i == 0 ? 6 : i + 1], 1, &job->keep[i]);
  napi_value promise, name;
  CHECK(napi_create_promise(env, &job->deferred, &promise));
  napi_create_string_utf8(env, "strata:exact", NAPI_AUTO_LENGTH, &name);
  CHECK(napi_create_async_work(env, NULL, name, exact_execute, exact_complete, job, &job->work));
  CHECK(napi_queue_async_work(env, job->work));
  return promise;
}

// ---- parsing tar-split lines ----
// tar-split's metadata is JSON lines as Go's encoder writes them. The JavaScript reader (drivers/archive/
// tar-split.ts) is the reference; this reads the same lines, much faster, straight into the batches of
// exactPlan, and gives up (returns null) on anything it does not accept exactly as that reader would — an
// unknown shape, an escape it does not decode, a value out of the plain range, an error to be named —
// so the caller parses it with JavaScript instead, which then says what is wrong.

typedef struct {
  uint8_t *data;
  size_t len, cap;
} bytes_buf;

static int bytes_reserve(bytes_buf *b, size_t more) {
  if (b->len + more <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + more) cap *= 2;
  uint8_t *d = realloc(b->data, cap);
  if (!d) return -1;
  b->data = d;
  b->cap = cap;
  return 0;
}

static int8_t b64_value[256];
static int b64_ready = 0;

static void b64_init(void) {
  if (b64_ready) return;
  memset(b64_value, -1, sizeof b64_value);
  const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int i = 0; i < 64; i++) b64_value[(uint8_t)alphabet[i]] = (int8_t)i;
  b64_ready = 1;
}

// Strict standard base64 (length a multiple of 4, '=' only as padding); appends the bytes to `out` (NULL:
// only counts). Returns the decoded length, or -1 when it is not strictly valid.
static ssize_t b64_decode(const uint8_t *s, size_t n, bytes_buf *out) {
  if (n % 4) return -1;
  size_t pad = n && s[n - 1] == '=' ? (n > 1 && s[n - 2] == '=' ? 2 : 1) : 0;
  size_t outlen = n / 4 * 3 - pad;
  if (out && bytes_reserve(out, outlen + 3) < 0) return -1;
  uint8_t *o = out ? out->data + out->len : NULL;
  size_t full = pad ? n - 4 : n;
  size_t i = 0;
  if (o) {
    for (; i < full; i += 4) {
      int a = b64_value[s[i]], b = b64_value[s[i + 1]], c = b64_value[s[i + 2]], d = b64_value[s[i + 3]];
      if ((a | b | c | d) < 0) return -1;
      uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
      o[0] = (uint8_t)(v >> 16);
      o[1] = (uint8_t)(v >> 8);
      o[2] = (uint8_t)v;
      o += 3;
    }
  }
  for (; i < n; i += 4) {
    int last = i + 4 == n;
    int a = b64_value[s[i]], b = b64_value[s[i + 1]];
    int c = last && pad == 2 ? 0 : b64_value[s[i + 2]];
    int d = last && pad >= 1 ? 0 : b64_value[s[i + 3]];
    if ((a | b | c | d) < 0) return -1;
    // Node ignores bits a padded end leaves over; tar-split's encoder leaves them 0. Either way the same bytes.
    uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
    if (o) {
      o[0] = v >> 16;
      o[1] = v >> 8;
      o[2] = v;
      o += 3;
    }
  }
  if (out) out->len += outlen;
  return (ssize_t)outlen;
}

// Whether s[0..n) is well-formed UTF-8 (what Buffer.toString('utf8') keeps as it is), and has no control
// character below 0x20 (which JSON.parse refuses in a string).
static int plain_utf8(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    if (c < 0x20) return 0;
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t k;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) k = 1, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0) k = 2, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0) k = 3, cp = c & 0x07;
    else return 0;
    for (size_t j = 1; j <= k; j++) {
      if (i + j >= n || (s[i + j] & 0xc0) != 0x80) return 0;
      cp = cp << 6 | (s[i + j] & 0x3f);
    }
    if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    i += k + 1;
  }
  return 1;
}

typedef struct {
  const uint8_t *p, *end;
} cursor;

// A JSON string at the cursor (after its opening quote is checked here); sets [*s, *n) to its raw bytes
// and *escaped when it holds a backslash. Returns -1 when it does not end on this line.
static int scan_string(cursor *c, const uint8_t **s, size_t *n, int *escaped) {
  if (c->p >= c->end || *c->p != '"') return -1;
  const uint8_t *start = ++c->p;
  *escaped = 0;
  const uint8_t *quote = memchr(start, '"', (size_t)(c->end - start));
  if (!quote) return -1;
  if (!memchr(start, '\\', (size_t)(quote - start))) {
    *s = start;
    *n = (size_t)(quote - start);
    c->p = quote + 1;
    return 0;
  }
  while (c->p < c->end) {
    uint8_t ch = *c->p;
    if (ch == '"') {
      *s = start;
      *n = (size_t)(c->p - start);
      c->p++;
      return 0;
    }
    if (ch == '\\') {
      *escaped = 1;
      if (c->p + 1 >= c->end) return -1;
      c->p += 2;
      continue;
    }
    c->p++;
  }
  return -1;
}

static int hex4(const uint8_t *s, uint32_t *v) {
  *v = 0;
  for (int i = 0; i < 4; i++) {
    uint8_t ch = s[i];
    int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
    if (d < 0) return -1;
    *v = *v << 4 | (uint32_t)d;
  }
  return 0;
}

// The bytes a JSON string stands for, as JSON.parse and then Buffer.from(…, 'utf8') give them; -1 for
// what is left to JavaScript (a lone surrogate, a bad escape, malformed UTF-8, a control character).
static int unescape_name(const uint8_t *s, size_t n, bytes_buf *out) {
  if (bytes_reserve(out, n) < 0) return -1;
  size_t i = 0;
  while (i < n) {
    const uint8_t *bs = memchr(s + i, '\\', n - i);
    size_t plain = bs ? (size_t)(bs - (s + i)) : n - i;
    if (!plain_utf8(s + i, plain)) return -1;
    memcpy(out->data + out->len, s + i, plain);
    out->len += plain;
    i += plain;
    if (i >= n) break;
    if (i + 1 >= n) return -1;
    uint8_t e = s[i + 1];
    uint8_t simple = e == '"' ? '"' : e == '\\' ? '\\' : e == '/' ? '/' : e == 'b' ? '\b' : e == 'f' ? '\f' : e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : 0;
    if (simple) {
      out->data[out->len++] = simple;
      i += 2;
      continue;
    }
    uint32_t cp;
    if (e != 'u' || i + 6 > n || hex4(s + i + 2, &cp) < 0) return -1;
    i += 6;
    if (cp >= 0xdc00 && cp <= 0xdfff) return -1;
    if (cp >= 0xd800 && cp <= 0xdbff) {
      uint32_t lo;
      if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u' || hex4(s + i + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff) return -1;
      i += 6;
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    // An escape is never longer than the bytes it stands for, so the reservation holds.
    uint8_t *o = out->data + out->len;
    if (cp < 0x80) o[0] = (uint8_t)cp, out->len += 1;
    else if (cp < 0x800) o[0] = 0xc0 | cp >> 6, o[1] = 0x80 | (cp & 0x3f), out->len += 2;
    else if (cp < 0x10000) o[0] = 0xe0 | cp >> 12, o[1] = 0x80 | ((cp >> 6) & 0x3f), o[2] = 0x80 | (cp & 0x3f), out->len += 3;
    else o[0] = 0xf0 | cp >> 18, o[1] = 0x80 | ((cp >> 12) & 0x3f), o[2] = 0x80 | ((cp >> 6) & 0x3f), o[3] = 0x80 | (cp & 0x3f), out->len += 4;
  }
  return 0;
}

// A plain non-negative integer (no sign, fraction, exponent or leading zero; at most 15 digits).
static int scan_uint(cursor *c, int64_t *v) {
  const uint8_t *start = c->p;
  int64_t n = 0;
  while (c->p < c->end && *c->p >= '0' && *c->p <= '9') n = n * 10 + (*c->p++ - '0');
  size_t digits = (size_t)(c->p - start);
  if (digits == 0 || digits > 15 || (digits > 1 && *start == '0')) return -1;
  if (c->p < c->end && (*c->p == '.' || *c->p == 'e' || *c->p == 'E')) return -1;
  *v = n;
  return 0;
}

static int scan_literal(cursor *c, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) return -1;
  c->p += n;
  return 0;
}

enum { V_ABSENT, V_NULL, V_INT, V_STRING, V_OTHER };
typedef struct {
  int kind;
  int64_t num;
  const uint8_t *s;
  size_t n;
  int escaped;
} json_value;

static int unescape_name(const uint8_t *s, size_t n, bytes_buf *out);

// A value; a string is checked to be one JSON.parse takes unless `base64` (then its decoding checks it).
static int scan_value(cursor *c, json_value *v, int base64) {
  if (c->p >= c->end) return -1;
  uint8_t ch = *c->p;
  if (ch == '"') {
    v->kind = V_STRING;
    if (scan_string(c, &v->s, &v->n, &v->escaped) < 0) return -1;
    if (base64) return v->escaped ? -1 : 0;
    if (!v->escaped) return plain_utf8(v->s, v->n) ? 0 : -1;
    bytes_buf scratch = {0};
    int bad = unescape_name(v->s, v->n, &scratch);
    free(scratch.data);
    return bad;
  }
  if (ch == 'n') {
    v->kind = V_NULL;
    return scan_literal(c, "null");
  }
  if (ch == 't' || ch == 'f') {
    v->kind = V_OTHER;
    return scan_literal(c, ch == 't' ? "true" : "false");
  }
  v->kind = V_INT;
  return scan_uint(c, &v->num);
}

typedef struct {
  bytes_buf segs, names;
  double *table;
  size_t rows, table_cap;
  double bytes;
  size_t entries;
  int64_t position;  // the next entry's expected position
} parse_out;

static int table_push(parse_out *o, double seg, double name, double size) {
  if (o->rows * 3 + 3 > o->table_cap) {
    size_t cap = o->table_cap ? o->table_cap * 2 : 3 * 1024;
    double *t = realloc(o->table, cap * sizeof(double));
    if (!t) return -1;
    o->table = t;
    o->table_cap = cap;
  }
  o->table[3 * o->rows] = seg;
  o->table[3 * o->rows + 1] = name;
  o->table[3 * o->rows + 2] = size;
  o->rows++;
  return 0;
}

// One line (without its line end); -1 to leave the whole tar-split to JavaScript.
static int parse_line(const uint8_t *line, size_t len, parse_out *o, size_t *pending_seg) {
  cursor c = {line, line + len};
  json_value type = {0}, name = {0}, name_raw = {0}, size = {0}, payload = {0}, position = {0};
  if (scan_literal(&c, "{") < 0) return -1;
  for (int first = 1;; first = 0) {
    if (c.p < c.end && *c.p == '}' && first) return -1;  // {} has no type: an error to name
    const uint8_t *k;
    size_t kn;
    int kesc;
    if (scan_string(&c, &k, &kn, &kesc) < 0 || kesc || scan_literal(&c, ":") < 0) return -1;
    json_value *slot = NULL;
    json_value other;
    if (kn == 4 && !memcmp(k, "type", 4)) slot = &type;
    else if (kn == 4 && !memcmp(k, "name", 4)) slot = &name;
    else if (kn == 8 && !memcmp(k, "name_raw", 8)) slot = &name_raw;
    else if (kn == 4 && !memcmp(k, "size", 4)) slot = &size;
    else if (kn == 7 && !memcmp(k, "payload", 7)) slot = &payload;
    else if (kn == 8 && !memcmp(k, "position", 8)) slot = &position;
    else slot = &other;
    if (slot != &other && slot->kind != V_ABSENT) return -1;  // a repeated key
    if (scan_value(&c, slot, slot == &payload || slot == &name_raw) < 0) return -1;
    if (c.p < c.end && *c.p == ',') {
      c.p++;
      continue;
    }
    if (scan_literal(&c, "}") < 0 || c.p != c.end) return -1;
    break;
  }
  if (type.kind != V_INT || position.kind != V_INT || position.num != o->position) return -1;
  if (type.num == 2) {
    if (payload.kind != V_STRING) return -1;
    ssize_t n = b64_decode(payload.s, payload.n, &o->segs);
    if (n < 0) return -1;
    *pending_seg += (size_t)n;
    o->bytes += (double)n;
  } else if (type.num == 1) {
    int64_t sz = size.kind == V_ABSENT ? 0 : size.kind == V_INT ? size.num : -1;
    if (sz < 0) return -1;
    if (sz > 0) {
      if (payload.kind != V_STRING || b64_decode(payload.s, payload.n, NULL) != 8) return -1;
    }
    size_t before = o->names.len;
    if (name_raw.kind == V_STRING) {
      if (b64_decode(name_raw.s, name_raw.n, &o->names) < 0) return -1;
    } else if (name.kind == V_STRING) {
      if (name.escaped ? unescape_name(name.s, name.n, &o->names) < 0 : bytes_reserve(&o->names, name.n) < 0) return -1;
      if (!name.escaped) {
        memcpy(o->names.data + o->names.len, name.s, name.n);
        o->names.len += name.n;
      }
    } else {
      return -1;
    }
    if (sz == 0) {
      o->names.len = before;  // nothing to read
    } else {
      if (table_push(o, (double)*pending_seg, (double)(o->names.len - before), (double)sz) < 0) return -1;
      *pending_seg = 0;
      o->bytes += (double)sz;
    }
  } else {
    return -1;
  }
  o->entries++;
  o->position++;
  return 0;
}

static void free_buffer(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

// Parses the whole lines of s[0..len) (the last may lack its line end) into `o`: 1 when every line was
// read, 0 when JavaScript must read them (o is emptied either way by parse_result), -1 out of memory.
static int parse_lines(const uint8_t *s, size_t len, parse_out *o, size_t *lines) {
  b64_init();
  // Decoded segments are never longer than the lines that hold them: one allocation, touched as filled.
  if (bytes_reserve(&o->segs, len / 4 * 3 + 64) < 0 || bytes_reserve(&o->names, len / 16 + 64) < 0) {
    free(o->segs.data);
    free(o->names.data);
    o->segs.data = o->names.data = NULL;
    return -1;
  }
  const uint8_t *end = s + len;
  size_t pending_seg = 0;
  int ok = 1;
  while (s < end && ok) {
    const uint8_t *nl = memchr(s, '\n', (size_t)(end - s));
    const uint8_t *e = nl ? nl : end;
    (*lines)++;
    size_t n = (size_t)(e - s);
    if (n > 0 && s[n - 1] == '\r') n--;
    if (n > 0 && parse_line(s, n, o, &pending_seg) < 0) ok = 0;
    s = nl ? nl + 1 : end;
  }
  if (ok && pending_seg > 0 && table_push(o, (double)pending_seg, 0, 0) < 0) ok = 0;
  return ok;
}

static napi_value parse_result(napi_env env, parse_out *po, int ok, size_t lines);

// parseTarSplitLines(buf, position) → [segments, names, table, rows, bytes, entries, lines] for the whole
// lines in `buf` (it must end at a line end, or be the last piece), or null when JavaScript must read them.
static napi_value ParseTarSplitLines(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *data;
  size_t len;
  bool is_buffer = false;
  double position;
  if (argc < 2 || napi_is_buffer(env, argv[0], &is_buffer) != napi_ok || !is_buffer || napi_get_value_double(env, argv[1], &position) != napi_ok) {
    napi_throw_type_error(env, NULL, "parseTarSplitLines: (buffer, position)");
    return NULL;
  }
  napi_get_buffer_info(env, argv[0], &data, &len);
  parse_out o = {.position = (int64_t)position};
  size_t lines = 0;
  int ok = parse_lines(data, len, &o, &lines);
  if (ok < 0) {
    napi_throw_error(env, NULL, "parseTarSplitLines: out of memory");
    return NULL;
  }
  return parse_result(env, &o, ok, lines);
}

// The 7-element answer of parseTarSplitLines (null when !ok); frees what `o` holds.
static napi_value parse_result(napi_env env, parse_out *po, int ok, size_t lines) {
  parse_out o = *po;
  napi_value result;
  if (!ok) {
    napi_get_null(env, &result);
  } else {
    napi_value segs, names, ab, table, v;
    // The buffers are handed over as they are (freed with them), not copied.
    if (napi_create_external_buffer(env, o.segs.len, o.segs.data, free_buffer, NULL, &segs) == napi_ok) o.segs.data = NULL;
    else napi_create_buffer_copy(env, o.segs.len, o.segs.data, NULL, &segs);
    if (napi_create_external_buffer(env, o.names.len, o.names.data, free_buffer, NULL, &names) == napi_ok) o.names.data = NULL;
    else napi_create_buffer_copy(env, o.names.len, o.names.data, NULL, &names);
    void *tdata;
    napi_create_arraybuffer(env, o.rows * 3 * sizeof(double), &tdata, &ab);
    if (o.rows) memcpy(tdata, o.table, o.rows * 3 * sizeof(double));
    napi_create_typedarray(env, napi_float64_array, o.rows * 3, ab, 0, &table);
    napi_create_array_with_length(env, 7, &result);
    napi_set_element(env, result, 0, segs);
    napi_set_element(env, result, 1, names);
    napi_set_element(env, result, 2, table);
    napi_create_double(env, (double)o.rows, &v);
    napi_set_element(env, result, 3, v);
    napi_create_double(env, o.bytes, &v);
    napi_set_element(env, result, 4, v);
    napi_create_double(env, (double)o.entries, &v);
    napi_set_element(env, result, 5, v);
    napi_create_double(env, (double)lines, &v);
    napi_set_element(env, result, 6, v);
  }
  free(o.segs.data);
  free(o.names.data);
  free(o.table);
  return result;
}

// ---- a tar-split read ahead: inflated on a thread of its own, parsed on another ----
// save needs a layer's tar size (the whole tar-split parsed) before the archive's first byte. Through
// node:zlib and parseTarSplitLines, inflating (~25 ms for 25 MB of lines) and parsing (~20 ms) mostly
// take turns; here a thread inflates line-aligned chunks into a short queue while tarSplitNext parses the
// chunk before on a libuv thread. zlib is the one Node carries (found at run time, as OpenSSL is). Anything
// but gzip members one after another, or any line the parser leaves, ends it with null: the caller then
// reads the tar-split the usual way, which names whatever is wrong.

typedef struct {  // zlib's z_stream, as its ABI lays it out
  const uint8_t *next_in;
  unsigned avail_in;
  unsigned long total_in;
  uint8_t *next_out;
  unsigned avail_out;
  unsigned long total_out;
  const char *msg;
  void *state;
  void *zalloc, *zfree, *opaque;
  int data_type;
  unsigned long adler, reserved;
} zstream;

static struct {
  const char *(*version)(void);
  int (*init2)(zstream *, int, const char *, int);
  int (*inflate)(zstream *, int);
  int (*reset)(zstream *);
  int (*end)(zstream *);
  int state;  // 0 not looked up, 1 found, -1 absent
} zl;

static int zl_ready(void) {
  if (zl.state == 0) {
    zl.version = (const char *(*)(void))dlsym(RTLD_DEFAULT, "zlibVersion");
    zl.init2 = (int (*)(zstream *, int, const char *, int))dlsym(RTLD_DEFAULT, "inflateInit2_");
    zl.inflate = (int (*)(zstream *, int))dlsym(RTLD_DEFAULT, "inflate");
    zl.reset = (int (*)(zstream *))dlsym(RTLD_DEFAULT, "inflateReset");
    zl.end = (int (*)(zstream *))dlsym(RTLD_DEFAULT, "inflateEnd");
    zl.state = zl.version && zl.init2 && zl.inflate && zl.reset && zl.end ? 1 : -1;
  }
  return zl.state == 1;
}

#define TS_CHUNK (1 << 20)
#define TS_QUEUE 4
#define TS_READ (256 << 10)
#define TS_LONGEST_LINE (64 << 20)

typedef struct {
  int fd;
  pthread_t thread;
  int joined;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint8_t *buf[TS_QUEUE];
  size_t len[TS_QUEUE], cap[TS_QUEUE];
  int head, count;
  int ended;  // 1 inflated to its end, -1 failed or gave up
  int stop;
  int busy;   // a tarSplitNext is running
  uint8_t *spare[TS_QUEUE + 2];  // parsed chunks' buffers (TS_CHUNK bytes), for the inflater to fill again
  int spares;
} tsplit;

// A TS_CHUNK buffer: a spare one when there is (fresh memory costs a page fault every 4 KiB), else new.
static uint8_t *ts_buffer(tsplit *t) {
  uint8_t *b = NULL;
  pthread_mutex_lock(&t->mu);
  if (t->spares > 0) b = t->spare[--t->spares];
  pthread_mutex_unlock(&t->mu);
  return b ? b : malloc(TS_CHUNK);
}

// Gives a parsed chunk's buffer back (only TS_CHUNK ones; a grown one is freed).
static void ts_recycle(tsplit *t, uint8_t *b, size_t cap) {
  pthread_mutex_lock(&t->mu);
  if (cap == TS_CHUNK && t->spares < TS_QUEUE + 2) {
    t->spare[t->spares++] = b;
    b = NULL;
  }
  pthread_mutex_unlock(&t->mu);
  free(b);
}

// Hands a chunk to the parser, waiting while the queue is full; 0 when asked to stop.
static int ts_put(tsplit *t, uint8_t *buf, size_t len, size_t cap) {
  pthread_mutex_lock(&t->mu);
  while (t->count == TS_QUEUE && !t->stop) pthread_cond_wait(&t->cv, &t->mu);
  int ok = !t->stop;
  if (ok) {
    int i = (t->head + t->count) % TS_QUEUE;
    t->buf[i] = buf;
    t->len[i] = len;
    t->cap[i] = cap;
    t->count++;
    pthread_cond_broadcast(&t->cv);
  }
  pthread_mutex_unlock(&t->mu);
  if (!ok) free(buf);
  return ok;
}

static void *ts_inflater(void *arg) {
  tsplit *t = arg;
  zstream z;
  memset(&z, 0, sizeof z);
  uint8_t *in = malloc(TS_READ);
  size_t cap = TS_CHUNK, have = 0;
  uint8_t *out = ts_buffer(t);
  int failed = !in || !out || zl.init2(&z, 15 + 16, zl.version(), (int)sizeof z) != 0;  // gzip only
  int inited = !failed, eof = 0, done = 0, member_end = 0;
  while (!failed && !done) {
    if (z.avail_in == 0 && !eof) {
      ssize_t n = read(t->fd, in, TS_READ);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        failed = 1;
        break;
      }
      if (n == 0) eof = 1;
      z.next_in = in;
      z.avail_in = (unsigned)n;
    }
    if (member_end) {
      // Another gzip member may follow (as node:zlib, and Go's reader, read them); anything else is left to node:zlib.
      if (z.avail_in == 0) {
        if (!eof) continue;
        done = 1;
      } else if (z.next_in[0] == 0x1f && zl.reset(&z) == 0) {
        member_end = 0;
        continue;
      } else {
        failed = 1;
        continue;
      }
    } else {
      z.next_out = out + have;
      z.avail_out = (unsigned)(cap - have);
      int r = zl.inflate(&z, 0);
      have = cap - z.avail_out;
      if (r == 1) member_end = 1;                                        // Z_STREAM_END
      else if (r != 0 && !(r == -5 && z.avail_in == 0 && !eof)) failed = 1;  // only Z_OK, or Z_BUF_ERROR wanting input
      else if (eof && z.avail_in == 0 && z.avail_out > 0) failed = 1;       // the file ended inside a member
    }
    if (failed || (have < cap && !done)) continue;
    size_t cut = have;
    if (!done) {
      while (cut > 0 && out[cut - 1] != '\n') cut--;
      if (cut == 0) {  // one line fills the chunk: a larger one
        if (cap >= TS_LONGEST_LINE) failed = 1;
        uint8_t *bigger = failed ? NULL : realloc(out, cap * 2);
        if (!bigger) failed = 1;
        else out = bigger, cap *= 2;
        continue;
      }
    }
    size_t next_cap = have - cut > TS_CHUNK / 2 ? cap : TS_CHUNK;  // back to the usual size after a long line
    uint8_t *next = done ? NULL : next_cap == TS_CHUNK ? ts_buffer(t) : malloc(next_cap);
    if (!done && !next) {
      failed = 1;
      continue;
    }
    if (next) memcpy(next, out + cut, have - cut);
    if (!ts_put(t, out, cut, cap)) {
      out = next;
      failed = 1;
      break;
    }
    out = next;
    cap = next_cap;
    have -= cut;
  }
  if (inited) zl.end(&z);
  free(in);
  free(out);
  pthread_mutex_lock(&t->mu);
  t->ended = failed ? -1 : 1;
  pthread_cond_broadcast(&t->cv);
  pthread_mutex_unlock(&t->mu);
  return NULL;
}

// Stops the inflater (if still running) and frees what it queued.
static void ts_stop(tsplit *t) {
  if (t->joined) return;
  pthread_mutex_lock(&t->mu);
  t->stop = 1;
  pthread_cond_broadcast(&t->cv);
  pthread_mutex_unlock(&t->mu);
  pthread_join(t->thread, NULL);
  t->joined = 1;
  for (; t->count > 0; t->count--, t->head = (t->head + 1) % TS_QUEUE) free(t->buf[t->head]);
  for (; t->spares > 0; t->spares--) free(t->spare[t->spares - 1]);
  close(t->fd);
}

static void ts_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  tsplit *t = data;
  ts_stop(t);
  pthread_mutex_destroy(&t->mu);
  pthread_cond_destroy(&t->cv);
  free(t);
}

// tarSplitOpen(path) → a read ahead of the gzipped tar-split (an external), or null when Node's zlib
// cannot be reached or the path is no regular file; throws an Error with `errno` when it cannot be opened.
static napi_value TarSplitOpen(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[4096];
  if (argc < 1 || get_string(env, argv[0], path, sizeof path) < 0) {
    napi_throw_type_error(env, NULL, "tarSplitOpen: (path)");
    return NULL;
  }
  if (!zl_ready()) {
    CHECK(napi_get_null(env, &out));
    return out;
  }
  // Non-blocking, so that a FIFO in its place cannot hang this thread; only a regular file is read here.
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return throw_errno(env, errno, "open", path);
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    CHECK(napi_get_null(env, &out));
    return out;
  }
  tsplit *t = calloc(1, sizeof *t);
  if (!t) {
    close(fd);
    return throw_errno(env, ENOMEM, "tarSplitOpen", path);
  }
  t->fd = fd;
  pthread_mutex_init(&t->mu, NULL);
  pthread_cond_init(&t->cv, NULL);
  int e = pthread_create(&t->thread, NULL, ts_inflater, t);
  if (e != 0) {
    close(fd);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
    return throw_errno(env, e, "pthread_create", path);
  }
  CHECK(napi_create_external(env, t, ts_finalize, NULL, &out));
  return out;
}

typedef struct {
  tsplit *t;
  napi_ref keep;
  napi_async_work work;
  napi_deferred deferred;
  int64_t position;
  int outcome;  // 1 a batch, 0 the end, -1 null (the caller reads it itself), -2 out of memory
  parse_out o;
  size_t lines;
} ts_job;

static void ts_next_execute(napi_env env, void *data) {
  (void)env;
  ts_job *job = data;
  tsplit *t = job->t;
  pthread_mutex_lock(&t->mu);
  while (t->count == 0 && t->ended == 0) pthread_cond_wait(&t->cv, &t->mu);
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0;
  if (t->count > 0) {
    buf = t->buf[t->head];
    len = t->len[t->head];
    cap = t->cap[t->head];
    t->head = (t->head + 1) % TS_QUEUE;
    t->count--;
    pthread_cond_broadcast(&t->cv);
  }
  int ended = t->ended;
  pthread_mutex_unlock(&t->mu);
  if (!buf) {
    job->outcome = ended == 1 ? 0 : -1;
    return;
  }
  job->o.position = job->position;
  int ok = parse_lines(buf, len, &job->o, &job->lines);
  ts_recycle(t, buf, cap);
  job->outcome = ok < 0 ? -2 : ok ? 1 : -1;
}

static void ts_next_complete(napi_env env, napi_status status, void *data) {
  ts_job *job = data;
  job->t->busy = 0;
  napi_value v;
  if (status != napi_ok || job->outcome == -2) {
    napi_value m, e;
    napi_create_string_utf8(env, "tarSplitNext: out of memory", NAPI_AUTO_LENGTH, &m);
    napi_create_error(env, NULL, m, &e);
    free(job->o.segs.data);
    free(job->o.names.data);
    free(job->o.table);
    napi_reject_deferred(env, job->deferred, e);
  } else {
    if (job->outcome == 1) v = parse_result(env, &job->o, 1, job->lines);
    else if (job->outcome == 0) napi_get_boolean(env, false, &v);
    else {
      v = parse_result(env, &job->o, 0, 0);  // frees a half-parsed chunk
    }
    napi_resolve_deferred(env, job->deferred, v);
  }
  napi_delete_reference(env, job->keep);
  napi_delete_async_work(env, job->work);
  free(job);
}

// tarSplitNext(handle, position) → Promise of the next chunk's lines parsed as parseTarSplitLines parses
// them (`position`: the entries given so far), false after the last, or null when the caller must read
// the tar-split itself (from its start).
static napi_value TarSplitNext(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype type;
  tsplit *t = NULL;
  double position;
  if (argc == 2 && napi_typeof(env, argv[0], &type) == napi_ok && type == napi_external) napi_get_value_external(env, argv[0], (void **)&t);
  if (!t || napi_get_value_double(env, argv[1], &position) != napi_ok || t->busy || t->joined) {
    napi_throw_type_error(env, NULL, "tarSplitNext: (a handle from tarSplitOpen, not closed nor in use, position)");
    return NULL;
  }
  ts_job *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, NULL, "tarSplitNext: out of memory");
    return NULL;
  }
  job->t = t;
  job->position = (int64_t)position;
  t->busy = 1;
  napi_value promise, name;
  napi_create_reference(env, argv[0], 1, &job->keep);
  CHECK(napi_create_promise(env, &job->deferred, &promise));
  napi_create_string_utf8(env, "strata:tar-split", NAPI_AUTO_LENGTH, &name);
  CHECK(napi_create_async_work(env, NULL, name, ts_next_execute, ts_next_complete, job, &job->work));
  CHECK(napi_queue_async_work(env, job->work));
  return promise;
}

// tarSplitClose(handle): stops the read ahead (it is also stopped when the handle is collected).
static napi_value TarSplitClose(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype type;
  tsplit *t = NULL;
  if (argc == 1 && napi_typeof(env, argv[0], &type) == napi_ok && type == napi_external) napi_get_value_external(env, argv[0], (void **)&t);
  if (!t || t->busy) {
    napi_throw_type_error(env, NULL, "tarSplitClose: (a handle from tarSplitOpen, not in use)");
    return NULL;
  }
  ts_stop(t);
  return NULL;
}

// linkFd(fd, path: Buffer) → makes `path` a new hard link of the file open as `fd` (linkat through
// /proc/self/fd with AT_SYMLINK_FOLLOW: the inode that was opened and checked, not whatever a path names
// now). `path` is created, never replaced. Throws an Error with `errno` (EXDEV across filesystems).
static napi_value LinkFd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  if (!fd_first_args(env, info, 2, argv, &fd)) return NULL;
  char dest[4096];
  if (path_buffer_arg(env, argv[1], dest, sizeof dest) < 0) return throw_errno(env, errno, "link", NULL);
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  if (linkat(AT_FDCWD, proc, AT_FDCWD, dest, AT_SYMLINK_FOLLOW) < 0) return throw_errno(env, errno, "link", dest);
  return NULL;
}

// xattrBytes(fd) → the length of the file's list of extended attribute names (flistxattr): 0 when it has
// none. Throws an Error with `errno`.
static napi_value XattrBytes(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!fd_first_args(env, info, 1, argv, &fd)) return NULL;
  ssize_t n = flistxattr(fd, NULL, 0);
  if (n < 0) return throw_errno(env, errno, "listxattr", NULL);
  napi_value out;
  CHECK(napi_create_int64(env, (int64_t)n, &out));
  return out;
}

// ---- linking a layer's files in a batch ----
// linkFiles(layerFd, destRoot, srcNames, dstNames, table, rows) → Promise<Int32Array> of one status a row.
// Row i of `table` (a Float64Array, LINK_COLS numbers a row) is: its kind (0 link a file, 1 make a
// directory, 2 copy a file), the byte lengths of its source name (the next ones of `srcNames`, below the
// layer `layerFd` is open on; none for a directory) and of its destination name (the next ones of
// `dstNames`, below `destRoot`), then the mode bits (07777), uid, gid (-1: left as made), size, mtime
// seconds and nanoseconds its tar entry gives, and for a copy the atime and mtime to set, in seconds as
// utimes takes them. On the thread pool, in order:
// - a file to link: looked at in its directory (opened beneath the layer following no symlink, and kept
//   for the next row) without following it; when it is a regular file with exactly that metadata and no
//   extended attribute, linked by name into the destination's directory (also kept), and the new name
//   looked at again: it must be that very inode, still with that metadata, else it is removed again.
// - a directory: made 0700, given its owner, then its mode (as apply does it; its times come last, from
//   the caller).
// - a file to copy: opened as exactPlan opens one, of its record's size, copied into a new file (in the
//   kernel where it can be), given its owner, mode and times.
// Statuses: 0 done; 1 not done as asked (other metadata, attributes, something swapped in between, a
// source that ended early, or a link the kernel refuses for this file: EPERM, EMLINK, ENOSYS,
// EOPNOTSUPP), to be written instead; 2 not a regular file; -errno otherwise (-EXDEV: no link can be made
// here). The caller redoes rows 1, 2 and below 0 its own way.
#define LINK_COLS 11

// Batches run one after another in the order they were given, whichever thread of the pool takes them:
// a batch may link files into directories the one before it makes. Each takes a ticket when queued.
static pthread_mutex_t link_order_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t link_order_cv = PTHREAD_COND_INITIALIZER;
static uint64_t link_tickets = 0, link_serving = 0;

typedef struct {
  uint64_t ticket;
  int layer_fd;
  char *dest_root;
  uint8_t *src;
  size_t src_len;
  uint8_t *dst;
  size_t dst_len;
  double *table;
  size_t rows;
  int32_t *status;
  int bad_table;
  napi_async_work work;
  napi_deferred deferred;
} link_job;

// The directory `rel` (normalised, "" for the top) below `top`, kept open in `dc` for the next call.
// Beneath and symlink-free when `beneath` (a source layer), else a plain lookup (the tree being built).
static int cached_dir(dir_cache *dc, int top, const char *rel, size_t len, int beneath) {
  if (len == 0) return top;
  if (dc->fd >= 0 && dc->len == len && memcmp(dc->path, rel, len) == 0) return dc->fd;
  if (dc->fd >= 0) close(dc->fd);
  dc->fd = -1;
  memcpy(dc->path, rel, len);
  dc->path[len] = 0;
  int fd = beneath ? open_beneath(top, dc->path, O_PATH | O_DIRECTORY) : openat(top, dc->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  dc->fd = fd;
  dc->len = len;
  return fd;
}

static bool link_metadata_is(const struct stat *st, const double *row) {
  return S_ISREG(st->st_mode) && (st->st_mode & 07777) == (mode_t)row[3] && st->st_uid == (uid_t)row[4] && st->st_gid == (gid_t)row[5] && (double)st->st_size == row[6] &&
         (double)st->st_mtim.tv_sec == row[7] && (double)st->st_mtim.tv_nsec == row[8];
}

// The directory a destination name is in (opened and kept in `ddc`), and its last component in *base.
static int dest_parent(dir_cache *ddc, int dest_fd, const char *out, const char **base) {
  const char *slash = strrchr(out, '/');
  *base = slash ? slash + 1 : out;
  return cached_dir(ddc, dest_fd, out, slash ? (size_t)(slash - out) : 0, 0);
}

static int32_t make_dir_row(const double *row, const char *out, dir_cache *ddc, int dest_fd) {
  const char *base;
  int parent = dest_parent(ddc, dest_fd, out, &base);
  if (parent < 0 || mkdirat(parent, base, 0700) < 0) return -errno;
  if ((row[4] >= 0 && fchownat(parent, base, (uid_t)row[4], (gid_t)row[5], AT_SYMLINK_NOFOLLOW) < 0) || fchmodat(parent, base, (mode_t)row[3], 0) < 0) {
    // Taken back, so that the caller's own mkdir and chown meet the same failure and name it.
    int err = errno;
    unlinkat(parent, base, AT_REMOVEDIR);
    return -err;
  }
  return 0;
}

// A time in seconds as libuv's uv_fs_utime takes a double (whole microseconds), so that a copy made here
// gets the times apply's own utimes would give it.
static struct timespec uv_like_timespec(double t) {
  struct timespec ts;
  ts.tv_sec = (time_t)t;
  ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
  ts.tv_nsec -= ts.tv_nsec % 1000;
  if (ts.tv_nsec < 0) {
    ts.tv_nsec += 1000000000L;
    ts.tv_sec -= 1;
  }
  return ts;
}

// Copies `size` bytes from `in` to `out`: in the kernel (copy_file_range) where it can, else read and write.
static int copy_bytes(int in, int out, int64_t size) {
  int64_t left = size;
  while (left > 0) {
    ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)(left > (1 << 30) ? (1 << 30) : left), 0);
    if (n > 0) {
      left -= n;
      continue;
    }
    if (n == 0) return errno = ENODATA, -1;  // ended early
    if (errno == EINTR) continue;
    if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP && errno != EBADF) return -1;
    // No in-kernel copy between these two: the rest through a buffer.
    char *buf = malloc(1 << 20);
    if (!buf) return errno = ENOMEM, -1;
    while (left > 0) {
      ssize_t r = read(in, buf, (size_t)(left > (1 << 20) ? (1 << 20) : left));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        free(buf);
        return r == 0 ? (errno = ENODATA, -1) : -1;
      }
      if (write_all(out, (const uint8_t *)buf, (size_t)r) < 0) {
        int err = errno;
        free(buf);
        return errno = err, -1;
      }
      left -= r;
    }
    free(buf);
  }
  return 0;
}

// A copy row: the source file (opened as exactPlan opens one, and of its record's size) copied into a new
// file, given the entry's owner (uid -1: not), mode and times, in apply's order. 1: redone by the caller.
static int32_t copy_row(link_job *job, const double *row, const char *rel, const char *out, dir_cache *sdc, dir_cache *ddc, int dest_fd) {
  if (job->layer_fd < 0) return -EBADF;
  struct stat st;
  int in = open_exact_file(sdc, job->layer_fd, rel, &st);
  if (in == -2) return 2;
  if (in < 0) return -errno;
  if ((double)st.st_size != row[6]) {
    close(in);
    return 1;
  }
  const char *base;
  int parent = dest_parent(ddc, dest_fd, out, &base);
  int fd = parent < 0 ? -1 : openat(parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    int err = errno;
    close(in);
    return -err;
  }
  int32_t result = 0;
  struct timespec times[2] = {uv_like_timespec(row[9]), uv_like_timespec(row[10])};
  if (copy_bytes(in, fd, (int64_t)row[6]) < 0) result = errno == ENODATA ? 1 : -errno;
  else if ((row[4] >= 0 && fchown(fd, (uid_t)row[4], (gid_t)row[5]) < 0) || fchmod(fd, (mode_t)row[3]) < 0 || futimens(fd, times) < 0) result = -errno;
  close(fd);
  close(in);
  if (result != 0) unlinkat(parent, base, 0);  // the caller's redo makes it again, and names what failed
  return result;
}

static int32_t link_row(link_job *job, const double *row, const uint8_t *src, const uint8_t *dst, dir_cache *sdc, dir_cache *ddc, int dest_fd) {
  char rel[4096], out[4096];
  // A name that does not normalise (a ".." part, a NUL) is the caller's to name: redone there.
  if (normalise_name(dst, (size_t)row[2], out, sizeof out) < 0 || out[0] == 0) return 1;
  if (row[0] == 1) return make_dir_row(row, out, ddc, dest_fd);
  if (row[0] == 2) {
    if (normalise_name(src, (size_t)row[1], rel, sizeof rel) < 0 || rel[0] == 0) return 1;
    return copy_row(job, row, rel, out, sdc, ddc, dest_fd);
  }
  if (normalise_name(src, (size_t)row[1], rel, sizeof rel) < 0) return 1;
  if (rel[0] == 0) return 2;  // the layer's top: a directory
  if (job->layer_fd < 0) return -EBADF;
  const char *slash = strrchr(rel, '/');
  int sdir = cached_dir(sdc, job->layer_fd, rel, slash ? (size_t)(slash - rel) : 0, 1);
  if (sdir < 0) return -errno;
  const char *sbase = slash ? slash + 1 : rel;
  struct stat st;
  if (fstatat(sdir, sbase, &st, AT_SYMLINK_NOFOLLOW) < 0) return -errno;
  if (!S_ISREG(st.st_mode)) return 2;
  if (!link_metadata_is(&st, row)) return 1;
  // Attributes looked at before the link: a file that is not linked is not touched (not even its ctime).
  char proc[4200];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d/%s", sdir, sbase);
  ssize_t x = llistxattr(proc, NULL, 0);
  if (x > 0) return 1;
  if (x < 0 && errno != ENOTSUP) return -errno;
  const char *base;
  int parent = dest_parent(ddc, dest_fd, out, &base);
  if (parent < 0) return -errno;
  if (linkat(sdir, sbase, parent, base, 0) < 0) return (errno == EPERM || errno == EMLINK || errno == ENOSYS || errno == EOPNOTSUPP) ? 1 : -errno;
  // What was linked is whatever the name held by then: it must be the inode looked at, unchanged.
  struct stat linked;
  int32_t result = 1;
  if (fstatat(parent, base, &linked, AT_SYMLINK_NOFOLLOW) < 0) result = -errno;
  else if (linked.st_dev == st.st_dev && linked.st_ino == st.st_ino && link_metadata_is(&linked, row)) return 0;
  unlinkat(parent, base, 0);
  return result;
}

static void link_run(link_job *job);

static void link_execute(napi_env env, void *data) {
  link_job *job = data;
  pthread_mutex_lock(&link_order_lock);
  while (link_serving != job->ticket) pthread_cond_wait(&link_order_cv, &link_order_lock);
  pthread_mutex_unlock(&link_order_lock);
  link_run(job);
  pthread_mutex_lock(&link_order_lock);
  link_serving++;
  pthread_cond_broadcast(&link_order_cv);
  pthread_mutex_unlock(&link_order_lock);
}

static void link_run(link_job *job) {
  dir_cache sdc = {.fd = -1}, ddc = {.fd = -1};
  int dest_fd = open(job->dest_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  int dest_err = dest_fd < 0 ? errno : 0;
  size_t so = 0, dof = 0;
  for (size_t i = 0; i < job->rows; i++) {
    const double *row = job->table + i * LINK_COLS;
    if (row[1] < 0 || row[2] < 0 || so + (size_t)row[1] > job->src_len || dof + (size_t)row[2] > job->dst_len) {
      job->bad_table = 1;
      break;
    }
    job->status[i] = dest_fd < 0 ? -dest_err : link_row(job, row, job->src + so, job->dst + dof, &sdc, &ddc, dest_fd);
    so += (size_t)row[1];
    dof += (size_t)row[2];
  }
  if (sdc.fd >= 0) close(sdc.fd);
  if (ddc.fd >= 0) close(ddc.fd);
  if (dest_fd >= 0) close(dest_fd);
}

static void link_free(link_job *job) {
  if (job->layer_fd >= 0) close(job->layer_fd);
  free(job->dest_root);
  free(job->src);
  free(job->dst);
  free(job->table);
  free(job->status);
  free(job);
}

static void link_complete(napi_env env, napi_status status, void *data) {
  link_job *job = data;
  if (status != napi_ok || job->bad_table) {
    napi_value m, e;
    napi_create_string_utf8(env, "linkFiles: the table asks for more name bytes than given", NAPI_AUTO_LENGTH, &m);
    napi_create_error(env, NULL, m, &e);
    napi_reject_deferred(env, job->deferred, e);
  } else {
    napi_value ab, arr;
    void *out;
    napi_create_arraybuffer(env, job->rows * sizeof(int32_t), &out, &ab);
    if (job->rows) memcpy(out, job->status, job->rows * sizeof(int32_t));
    napi_create_typedarray(env, napi_int32_array, job->rows, ab, 0, &arr);
    napi_resolve_deferred(env, job->deferred, arr);
  }
  napi_delete_async_work(env, job->work);
  link_free(job);
}

// A copy of a Buffer argument's bytes (NULL with *len 0 for an empty one); false when it is no Buffer.
static bool buffer_copy(napi_env env, napi_value v, uint8_t **out, size_t *len) {
  bool is_buffer = false;
  void *p;
  if (napi_is_buffer(env, v, &is_buffer) != napi_ok || !is_buffer || napi_get_buffer_info(env, v, &p, len) != napi_ok) return false;
  *out = malloc(*len ? *len : 1);
  if (*len) memcpy(*out, p, *len);
  return true;
}

static napi_value LinkFiles(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  int32_t layer_fd;
  if (!fd_first_args(env, info, 6, argv, &layer_fd)) return NULL;
  link_job *job = calloc(1, sizeof *job);
  job->layer_fd = -1;
  const char *problem = NULL;
  char root[4096];
  napi_typedarray_type type;
  size_t length;
  void *p;
  double rows;
  // -1: a batch of directories only.
  if (layer_fd >= 0 && (job->layer_fd = fcntl(layer_fd, F_DUPFD_CLOEXEC, 0)) < 0) problem = "linkFiles: the layer's descriptor is not open";
  else if (path_buffer_arg(env, argv[1], root, sizeof root) < 0) problem = "linkFiles: destRoot must be a Buffer of a path";
  else if (!buffer_copy(env, argv[2], &job->src, &job->src_len) || !buffer_copy(env, argv[3], &job->dst, &job->dst_len)) problem = "linkFiles: names must be Buffers";
  else if (napi_get_typedarray_info(env, argv[4], &type, &length, &p, NULL, NULL) != napi_ok || type != napi_float64_array) problem = "linkFiles: table must be a Float64Array";
  else if (napi_get_value_double(env, argv[5], &rows) != napi_ok || rows < 0 || rows * LINK_COLS > (double)length) problem = "linkFiles: rows beyond the table";
  if (problem) {
    link_free(job);
    napi_throw_type_error(env, NULL, problem);
    return NULL;
  }
  job->dest_root = strdup(root);
  job->rows = (size_t)rows;
  job->table = malloc(job->rows * LINK_COLS * sizeof(double) + 1);
  memcpy(job->table, p, job->rows * LINK_COLS * sizeof(double));
  job->status = calloc(job->rows + 1, sizeof(int32_t));
  napi_value promise, name;
  CHECK(napi_create_promise(env, &job->deferred, &promise));
  napi_create_string_utf8(env, "strata:link", NAPI_AUTO_LENGTH, &name);
  CHECK(napi_create_async_work(env, NULL, name, link_execute, link_complete, job, &job->work));
  // The ticket is taken and the work queued under one lock: batches from any thread keep their order.
  pthread_mutex_lock(&link_order_lock);
  job->ticket = link_tickets;
  napi_status queued = napi_queue_async_work(env, job->work);
  if (queued == napi_ok) link_tickets++;
  pthread_mutex_unlock(&link_order_lock);
  if (queued != napi_ok) {
    napi_delete_async_work(env, job->work);
    link_free(job);
    napi_throw_error(env, NULL, "linkFiles: could not queue the batch");
    return NULL;
  }
  return promise;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"growPipe", NULL, GrowPipe, NULL, NULL, NULL, napi_default, NULL},
      {"openDirBeneath", NULL, OpenDirBeneath, NULL, NULL, NULL, napi_default, NULL},
      {"openBeneath", NULL, OpenBeneath, NULL, NULL, NULL, napi_default, NULL},
      {"useOpenat2", NULL, UseOpenat2, NULL, NULL, NULL, napi_default, NULL},
      {"writePlan", NULL, WritePlan, NULL, NULL, NULL, napi_default, NULL},
      {"scanDir", NULL, ScanDir, NULL, NULL, NULL, napi_default, NULL},
      {"walkSubtree", NULL, WalkSubtree, NULL, NULL, NULL, napi_default, NULL},
      {"walkSubtrees", NULL, WalkSubtrees, NULL, NULL, NULL, napi_default, NULL},
      {"readLinks", NULL, ReadLinks, NULL, NULL, NULL, napi_default, NULL},
      {"readSmallFiles", NULL, ReadSmallFiles, NULL, NULL, NULL, napi_default, NULL},
      {"statFiles", NULL, StatFiles, NULL, NULL, NULL, napi_default, NULL},
      {"sha256Begin", NULL, Sha256Begin, NULL, NULL, NULL, napi_default, NULL},
      {"sha256End", NULL, Sha256End, NULL, NULL, NULL, napi_default, NULL},
      {"exactPlan", NULL, ExactPlan, NULL, NULL, NULL, napi_default, NULL},
      {"parseTarSplitLines", NULL, ParseTarSplitLines, NULL, NULL, NULL, napi_default, NULL},
      {"tarSplitOpen", NULL, TarSplitOpen, NULL, NULL, NULL, napi_default, NULL},
      {"tarSplitNext", NULL, TarSplitNext, NULL, NULL, NULL, napi_default, NULL},
      {"tarSplitClose", NULL, TarSplitClose, NULL, NULL, NULL, napi_default, NULL},
      {"linkFd", NULL, LinkFd, NULL, NULL, NULL, napi_default, NULL},
      {"xattrBytes", NULL, XattrBytes, NULL, NULL, NULL, napi_default, NULL},
      {"linkFiles", NULL, LinkFiles, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
