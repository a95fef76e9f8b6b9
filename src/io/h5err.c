/* HDF5 error reporting of the io module: HDF5's error stack walked for its innermost
 * description and any errno a driver put there, turned into latflow's messages
 * (contract: src/io/h5util.h, "errors"). */
#include "io/h5util.h"

#include "latflow/io.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

void lf_h5_quiet(void) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

typedef struct walk_ctx {
  char desc[400];
  char func[96];
  int found;
  int err;   /* errno a driver reported in any entry ("errno = N"), else 0 */
  int write; /* some entry is a failed write */
} walk_ctx;

/* H5E_WALK_UPWARD starts at the most specific error (n == 0): keep that one. The sec2
 * driver puts errno in its description ("..., errno = 28, error message = '...', ..."):
 * take the number, so the message can say what happened in plain words. */
static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data) {
  walk_ctx *c = data;
  if (!e) return 0;
  if (n == 0) {
    snprintf(c->desc, sizeof c->desc, "%s", e->desc ? e->desc : "");
    snprintf(c->func, sizeof c->func, "%s", e->func_name ? e->func_name : "");
    c->found = 1;
  }
  if (e->min_num == H5E_WRITEERROR) c->write = 1;
  const char *p = e->desc ? strstr(e->desc, "errno = ") : NULL;
  if (p && !c->err) c->err = atoi(p + 8);
  return 0;
}

static void walk_stack(walk_ctx *c) {
  memset(c, 0, sizeof *c);
  if (H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, c) < 0) c->found = 0;
}

/* The sec2 driver's description runs over lines (time, buffer address, sizes): keep its
 * first words ("file write failed") and say the errno in words instead. */
static void error_text(const walk_ctx *c, char *buf, size_t n) {
  if (!c->found) {
    snprintf(buf, n, "no details");
    return;
  }
  char desc[400];
  snprintf(desc, sizeof desc, "%s", c->desc[0] ? c->desc : "no description");
  if (c->err > 0) {
    char *cut = strpbrk(desc, ":\n");
    if (cut) *cut = '\0';
    snprintf(buf, n, "%s: %s (in %s)", desc, strerror(c->err), c->func[0] ? c->func : "HDF5");
  } else if (c->func[0]) {
    snprintf(buf, n, "%s (in %s)", desc, c->func);
  } else {
    snprintf(buf, n, "%s", desc);
  }
}

void lf_h5_error_text(char *buf, size_t n) {
  walk_ctx c;
  if (n == 0) return;
  walk_stack(&c);
  error_text(&c, buf, n);
}

/* The first '...'-quoted name in a message (latflow's messages name the file first). */
static int quoted_name(const char *msg, char *out, size_t n) {
  const char *a = strchr(msg, '\'');
  const char *b = a ? strchr(a + 1, '\'') : NULL;
  if (!b || b == a + 1 || (size_t)(b - a - 1) >= n) return 0;
  memcpy(out, a + 1, (size_t)(b - a - 1));
  out[b - a - 1] = '\0';
  return 1;
}

int lf_io_fs_full(const char *path) {
  char dir[LF_PATH_MAX + 8];
  struct statvfs sv;
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else if (slash == dir)
    dir[1] = '\0';
  else
    *slash = '\0';
  if (statvfs(dir, &sv) != 0) return 0;
  /* a write that failed for want of space fills the device to its last blocks */
  return (double)sv.f_bavail * (double)sv.f_frsize < 1048576.0;
}

lf_status lf_h5_fail(lf_status s, const char *file, int line, const char *fmt, ...) {
  char what[1536], h5[512], name[LF_PATH_MAX + 8];
  walk_ctx c;
  walk_stack(&c);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  /* MPI-IO (Open MPI's OMPIO) reports a full disk to HDF5 only as a short write, without
   * errno: a failed write into a file system that is now full is taken for ENOSPC */
  if (c.write && c.err == 0 && quoted_name(what, name, sizeof name) && lf_io_fs_full(name))
    c.err = ENOSPC;
  error_text(&c, h5, sizeof h5);
  return lf_fail(s, file, line, "%s: HDF5: %s", what, h5);
}

int lf_h5_stack_has_write(void) {
  walk_ctx c;
  walk_stack(&c);
  return c.write;
}
