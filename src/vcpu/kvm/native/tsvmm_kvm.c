/*
 * tsvmm_kvm: the smallest possible bridge from Node to /dev/kvm (Linux Documentation/virt/kvm/api.rst).
 * Plain N-API C (node_api.h), no dependencies. It exposes only:
 *   open(path, flags) -> fd            close(fd)
 *   ioctl(fd, request, arg) -> int     arg: a number, or an ArrayBuffer/TypedArray/DataView/Buffer
 *                                      whose data address is passed
 *   mmap(fd, length, prot, flags, offset) -> external ArrayBuffer
 *   mmapAnonymous(length) -> external ArrayBuffer (zero-filled, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE)
 *   munmap(arrayBuffer)                detaches the ArrayBuffer
 *   address(bufferLike) -> bigint      host address of the data (for userspace_addr)
 *   run(fd, request, kvmRun, immediateExitOffset, sliceNs) -> int
 *                                      KVM_RUN bounded by a time slice (see "Bounded KVM_RUN" below)
 *   runInfo() -> {signal, kicks, strays, threadTimers}  the kick signal and how often it fired
 * Every struct layout and ioctl number lives in TypeScript (src/vcpu/kvm/layout.ts, ioctls.ts).
 * A failing syscall throws an Error with .code = the errno name ('EINVAL') and .errno = the number.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NAPI_VERSION 8
#include <node_api.h>

static const char *errno_name(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    case E2BIG: return "E2BIG";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case ENFILE: return "ENFILE";
    case EMFILE: return "EMFILE";
    case ENOTTY: return "ENOTTY";
    case ENOSPC: return "ENOSPC";
    case ERANGE: return "ERANGE";
    case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EHWPOISON: return "EHWPOISON";
    default: return "EUNKNOWN";
  }
}

/* Throw an Error{code, errno, syscall}; returns NULL so callers can `return throw_errno(...)`. */
static napi_value throw_errno(napi_env env, int e, const char *syscall) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s failed: %s (%s)", syscall, errno_name(e), strerror(e));
  napi_value code, message, error, num, sc;
  napi_create_string_utf8(env, errno_name(e), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, e, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, error, "syscall", sc);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < want) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "too few arguments");
    return 0;
  }
  return 1;
}

/* A JS number that must be an integer; doubles carry integers exactly up to 2^53. */
static int get_integer(napi_env env, napi_value v, int64_t *out, const char *what) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_bigint) {
    bool lossless;
    return napi_get_value_bigint_int64(env, v, out, &lossless) == napi_ok;
  }
  if (t != napi_number) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a number", what);
    throw_type(env, msg);
    return 0;
  }
  double d;
  napi_get_value_double(env, v, &d);
  if (d != d || d < -9007199254740992.0 || d > 18446744073709551615.0 || (double)(int64_t)d != d) {
    if (!(d >= 9223372036854775808.0 && d <= 18446744073709551615.0)) {
      char msg[96];
      snprintf(msg, sizeof msg, "%s must be an integer", what);
      throw_type(env, msg);
      return 0;
    }
    *out = (int64_t)(uint64_t)d;
    return 1;
  }
  *out = (int64_t)d;
  return 1;
}

/* Data pointer and length of an ArrayBuffer, TypedArray, DataView or Buffer. */
static int get_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  bool is;
  napi_is_arraybuffer(env, v, &is);
  if (is) return napi_get_arraybuffer_info(env, v, data, len) == napi_ok;
  napi_is_typedarray(env, v, &is);
  if (is) {
    napi_typedarray_type type;
    size_t length, offset;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &type, &length, data, &ab, &offset) != napi_ok) return 0;
    size_t elem = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: elem = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
      default: elem = 1;
    }
    *len = length * elem;
    return 1;
  }
  napi_is_dataview(env, v, &is);
  if (is) {
    napi_value ab;
    size_t offset;
    return napi_get_dataview_info(env, v, len, data, &ab, &offset) == napi_ok;
  }
  return 0;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  char path[4096];
  size_t n;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &n) != napi_ok) return throw_type(env, "path must be a string");
  int64_t flags;
  if (!get_integer(env, argv[1], &flags, "flags")) return NULL;
  int fd = open(path, (int)flags);
  if (fd < 0) return throw_errno(env, errno, "open");
  napi_value r;
  napi_create_int32(env, fd, &r);
  return r;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int64_t fd;
  if (!get_integer(env, argv[0], &fd, "fd")) return NULL;
  if (close((int)fd) < 0) return throw_errno(env, errno, "close");
  return NULL;
}

static napi_value js_ioctl(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  int64_t fd, req;
  if (!get_integer(env, argv[0], &fd, "fd")) return NULL;
  if (!get_integer(env, argv[1], &req, "request")) return NULL;
  unsigned long arg;
  napi_valuetype t;
  napi_typeof(env, argv[2], &t);
  if (t == napi_number || t == napi_bigint) {
    int64_t a;
    if (!get_integer(env, argv[2], &a, "arg")) return NULL;
    arg = (unsigned long)a;
  } else {
    void *data = NULL;
    size_t len = 0;
    if (!get_bytes(env, argv[2], &data, &len)) return throw_type(env, "arg must be a number or a buffer");
    arg = (unsigned long)(uintptr_t)data;
  }
  int r = ioctl((int)fd, (unsigned long)(uint32_t)req, arg);
  if (r < 0) return throw_errno(env, errno, "ioctl");
  napi_value out;
  napi_create_int32(env, r, &out);
  return out;
}

/* Live mappings, so munmap() and the GC finalizer never unmap twice. */
struct mapping {
  void *addr;
  size_t len;
  int unmapped;
  struct mapping *next;
};
static struct mapping *mappings;

static void finalize_mapping(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  struct mapping *m = hint, **pp;
  if (!m->unmapped) munmap(m->addr, m->len);
  for (pp = &mappings; *pp; pp = &(*pp)->next) {
    if (*pp == m) {
      *pp = m->next;
      break;
    }
  }
  free(m);
}

static napi_value wrap_mapping(napi_env env, void *addr, size_t len) {
  struct mapping *m = calloc(1, sizeof *m);
  if (!m) {
    munmap(addr, len);
    return throw_errno(env, ENOMEM, "mmap");
  }
  m->addr = addr;
  m->len = len;
  m->next = mappings;
  mappings = m;
  napi_value ab;
  if (napi_create_external_arraybuffer(env, addr, len, finalize_mapping, m, &ab) != napi_ok) {
    mappings = m->next;
    munmap(addr, len);
    free(m);
    napi_throw_error(env, "ERR_EXTERNAL_BUFFER", "external ArrayBuffers are not allowed in this runtime");
    return NULL;
  }
  return ab;
}

static napi_value js_mmap(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  int64_t fd, len, prot, flags, off;
  if (!get_integer(env, argv[0], &fd, "fd") || !get_integer(env, argv[1], &len, "length") ||
      !get_integer(env, argv[2], &prot, "prot") || !get_integer(env, argv[3], &flags, "flags") ||
      !get_integer(env, argv[4], &off, "offset"))
    return NULL;
  if (len <= 0) return throw_type(env, "length must be positive");
  void *p = mmap(NULL, (size_t)len, (int)prot, (int)flags, (int)fd, (off_t)off);
  if (p == MAP_FAILED) return throw_errno(env, errno, "mmap");
  return wrap_mapping(env, p, (size_t)len);
}

static napi_value js_mmap_anonymous(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int64_t len;
  if (!get_integer(env, argv[0], &len, "length")) return NULL;
  if (len <= 0) return throw_type(env, "length must be positive");
  void *p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return throw_errno(env, errno, "mmap");
  return wrap_mapping(env, p, (size_t)len);
}

static napi_value js_munmap(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  bool is;
  napi_is_arraybuffer(env, argv[0], &is);
  if (!is) return throw_type(env, "munmap takes an ArrayBuffer from mmap()");
  void *data;
  size_t len;
  napi_get_arraybuffer_info(env, argv[0], &data, &len);
  struct mapping *m;
  for (m = mappings; m; m = m->next)
    if (m->addr == data && !m->unmapped) break;
  if (!m) return throw_type(env, "munmap: not a live mapping from mmap()");
  if (munmap(m->addr, m->len) < 0) return throw_errno(env, errno, "munmap");
  m->unmapped = 1;
  napi_detach_arraybuffer(env, argv[0]);
  return NULL;
}

static napi_value js_address(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  void *data;
  size_t len;
  if (!get_bytes(env, argv[0], &data, &len)) return throw_type(env, "address takes an ArrayBuffer or a view");
  napi_value r;
  napi_create_bigint_uint64(env, (uint64_t)(uintptr_t)data, &r);
  return r;
}

/*
 * Bounded KVM_RUN (Documentation/virt/kvm/api.rst: KVM_RUN returns -EINTR with exit_reason
 * KVM_EXIT_INTR when a signal is pending for the thread; kvm_run.immediate_exit makes KVM_RUN return
 * -EINTR at once, after completing a pending IN/MMIO-read exit).
 *
 * Without a slice, a guest that never exits (`jmp .`) keeps the JS thread inside KVM_RUN forever,
 * so no timeout, timer tick or interrupt injection can happen. As real VMMs do, each run() arms a
 * one-shot POSIX timer that sends a real-time signal to *this* thread (SIGEV_THREAD_ID) when the
 * slice ends, and disarms it when the ioctl returns:
 *
 *   arm timer ─► ioctl(KVM_RUN) ─► disarm timer ─► clear immediate_exit
 *          │               ▲
 *          └─ signal ──────┘ the kernel leaves the guest and KVM_RUN fails with EINTR
 *
 * - The handler is installed once, with SA_SIGINFO and *without* SA_RESTART (KVM_RUN must not be
 *   restarted). It only writes 1 to the running vCPU's kvm_run.immediate_exit: if the signal lands
 *   after the timer was armed but before the thread entered KVM_RUN, KVM sees immediate_exit and
 *   returns -EINTR instead of running unbounded (the lost-wakeup race api.rst describes).
 * - The signal is a real-time one Node/libuv/V8 do not use (the first of SIGRTMIN+6 … SIGRTMAX-1
 *   whose disposition is still SIG_DFL); SIGALRM stays free for whoever else wants it.
 * - The timer is per thread and directed at that thread, so other threads (libuv's pool, workers)
 *   never see the signal. After the disarm no further signal can be generated; one generated
 *   before it is delivered when the disarm syscall returns, while the handler still has nothing to
 *   touch but this run's immediate_exit, which is then cleared. No signal reaches Node outside a
 *   run, and a stray one (e.g. sent by hand) finds a handler that ignores it.
 */
#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

struct run_thread {
  timer_t timer;
  /* &kvm_run.immediate_exit of the vCPU this thread is running, or NULL between runs */
  volatile uint8_t *volatile immediate_exit;
};

static pthread_once_t kick_once = PTHREAD_ONCE_INIT;
static int kick_signal; /* 0 until installed; -errno when installation failed */
static unsigned long kick_count; /* timer signals that ended a run's slice (diagnostics, tests) */
static unsigned long stray_count; /* timer signals that found no run in progress: should stay 0 */
static unsigned long thread_timers; /* per-thread timers created so far */
static pthread_key_t run_thread_key;
static __thread struct run_thread *this_thread;

static void kick_handler(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  (void)uc;
  if (!si || si->si_code != SI_TIMER) return; /* not from one of our timers: ignore */
  struct run_thread *t = si->si_value.sival_ptr;
  if (!t) return;
  volatile uint8_t *ie = t->immediate_exit;
  if (ie) {
    *ie = 1;
    __atomic_add_fetch(&kick_count, 1, __ATOMIC_RELAXED);
  } else {
    __atomic_add_fetch(&stray_count, 1, __ATOMIC_RELAXED);
  }
}

static void run_thread_destroy(void *p) {
  struct run_thread *t = p;
  timer_delete(t->timer);
  free(t);
}

static void kick_install(void) {
  if (pthread_key_create(&run_thread_key, run_thread_destroy) != 0) {
    kick_signal = -EAGAIN;
    return;
  }
  for (int s = SIGRTMIN + 6; s < SIGRTMAX; s++) {
    struct sigaction old;
    if (sigaction(s, NULL, &old) != 0) continue;
    if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) continue;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = kick_handler;
    sa.sa_flags = SA_SIGINFO; /* no SA_RESTART: KVM_RUN must come back with EINTR */
    sigemptyset(&sa.sa_mask);
    if (sigaction(s, &sa, NULL) == 0) {
      kick_signal = s;
      return;
    }
  }
  kick_signal = -EBUSY;
}

/* This thread's timer (created on first use); NULL with errno set on failure. */
static struct run_thread *run_thread_get(void) {
  if (this_thread) return this_thread;
  pthread_once(&kick_once, kick_install);
  if (kick_signal < 0) {
    errno = -kick_signal;
    return NULL;
  }
  /* A thread that blocks the signal could never be kicked out of KVM_RUN. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, kick_signal);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  struct run_thread *t = calloc(1, sizeof *t);
  if (!t) {
    errno = ENOMEM;
    return NULL;
  }
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = kick_signal;
  sev.sigev_value.sival_ptr = t;
  sev.sigev_notify_thread_id = (pid_t)syscall(SYS_gettid);
  if (timer_create(CLOCK_MONOTONIC, &sev, &t->timer) != 0) {
    int e = errno;
    free(t);
    errno = e;
    return NULL;
  }
  pthread_setspecific(run_thread_key, t);
  this_thread = t;
  __atomic_add_fetch(&thread_timers, 1, __ATOMIC_RELAXED);
  return t;
}

static int arm(timer_t timer, int64_t ns) {
  struct itimerspec its;
  memset(&its, 0, sizeof its);
  its.it_value.tv_sec = (time_t)(ns / 1000000000);
  its.it_value.tv_nsec = (long)(ns % 1000000000);
  return timer_settime(timer, 0, &its, NULL);
}

static napi_value js_run(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  int64_t fd, req, ieoff, slice;
  if (!get_integer(env, argv[0], &fd, "fd") || !get_integer(env, argv[1], &req, "request")) return NULL;
  void *data = NULL;
  size_t len = 0;
  if (!get_bytes(env, argv[2], &data, &len)) return throw_type(env, "kvmRun must be the mmap'd kvm_run buffer");
  if (!get_integer(env, argv[3], &ieoff, "immediateExitOffset") ||
      !get_integer(env, argv[4], &slice, "sliceNs"))
    return NULL;
  if (ieoff < 0 || (size_t)ieoff >= len) return throw_type(env, "immediateExitOffset is outside kvm_run");
  if (slice < 0 || slice > 3600LL * 1000000000LL) return throw_type(env, "sliceNs must be 0 … 1 hour");
  int r, e;
  if (slice == 0) {
    r = ioctl((int)fd, (unsigned long)(uint32_t)req, 0);
    e = errno;
  } else {
    struct run_thread *t = run_thread_get();
    if (!t) return throw_errno(env, errno, "timer_create");
    volatile uint8_t *ie = (volatile uint8_t *)data + ieoff;
    t->immediate_exit = ie;
    if (arm(t->timer, slice) != 0) {
      e = errno;
      t->immediate_exit = NULL;
      return throw_errno(env, e, "timer_settime");
    }
    r = ioctl((int)fd, (unsigned long)(uint32_t)req, 0);
    e = errno;
    arm(t->timer, 0); /* disarm: no signal can be generated after this returns */
    t->immediate_exit = NULL;
    *ie = 0;
  }
  if (r < 0) return throw_errno(env, e, "ioctl");
  napi_value out;
  napi_create_int32(env, r, &out);
  return out;
}

static napi_value js_run_info(napi_env env, napi_callback_info info) {
  (void)info;
  pthread_once(&kick_once, kick_install);
  napi_value o, v;
  napi_create_object(env, &o);
  napi_create_int32(env, kick_signal, &v);
  napi_set_named_property(env, o, "signal", v);
  napi_create_double(env, (double)__atomic_load_n(&kick_count, __ATOMIC_RELAXED), &v);
  napi_set_named_property(env, o, "kicks", v);
  napi_create_double(env, (double)__atomic_load_n(&stray_count, __ATOMIC_RELAXED), &v);
  napi_set_named_property(env, o, "strays", v);
  napi_create_double(env, (double)__atomic_load_n(&thread_timers, __ATOMIC_RELAXED), &v);
  napi_set_named_property(env, o, "threadTimers", v);
  return o;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ioctl", NULL, js_ioctl, NULL, NULL, NULL, napi_enumerable, NULL},
    {"mmap", NULL, js_mmap, NULL, NULL, NULL, napi_enumerable, NULL},
    {"mmapAnonymous", NULL, js_mmap_anonymous, NULL, NULL, NULL, napi_enumerable, NULL},
    {"munmap", NULL, js_munmap, NULL, NULL, NULL, napi_enumerable, NULL},
    {"address", NULL, js_address, NULL, NULL, NULL, napi_enumerable, NULL},
    {"run", NULL, js_run, NULL, NULL, NULL, napi_enumerable, NULL},
    {"runInfo", NULL, js_run_info, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
