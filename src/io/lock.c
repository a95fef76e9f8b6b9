/* Advisory file locks for one writer per output (contract: latflow/io.h, lf_io_flock_try).
 * Used by `latflow` for its output folder (<dir>/.latflow.lock) and by latflow-merge for its
 * output file (<out>.lock); each words its own refusal from what this finds. */
#include "latflow/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

lf_status lf_io_flock_try(lf_io_flock *lk, const char *path, const char *identity) {
  memset(lk, 0, sizeof *lk);
  lk->fd = -1;
  /* O_NOFOLLOW: a link planted at the lock's name is refused, not written through */
  const int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return LF_FAIL(LF_ERR_IO, "cannot open the lock '%s': %s", path, strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    if (e == EWOULDBLOCK || e == EAGAIN) {
      /* the holder's first line, for the caller's refusal */
      const ssize_t k = pread(fd, lk->holder, sizeof lk->holder - 1, 0);
      close(fd);
      lk->holder[k > 0 ? k : 0] = '\0';
      char *nl = strchr(lk->holder, '\n');
      if (nl) *nl = '\0';
      lk->busy = 1;
      return LF_OK;
    }
    close(fd);
    if (e == ENOLCK || e == EOPNOTSUPP || e == ENOSYS || e == EINVAL) {
      lk->unsupported = e;
      return LF_OK;
    }
    return LF_FAIL(LF_ERR_IO, "cannot lock '%s': %s", path, strerror(e));
  }
  const size_t n = strlen(identity);
  lk->recorded = ftruncate(fd, 0) == 0 && pwrite(fd, identity, n, 0) == (ssize_t)n;
  if (!lk->recorded) lk->record_errno = errno;
  lk->fd = fd;
  return LF_OK;
}
