/* io/paths: the path helpers of a run's output (latflow/io.h, "paths and folders";
 * src/io/paths.c). lf_io_path_join joins "dir/name" when it fits exactly and reports a
 * truncation as LF_ERR_INVALID "path too long" instead of cutting the path; lf_io_exists
 * sees files and folders, not missing names; lf_io_mkdirs creates nested folders (mkdir
 * -p, a trailing '/' and existing folders fine) and names the component it cannot create
 * (a regular file in the way); lf_io_remove_checkpoints removes a checkpoint, its .prev
 * and its .tmp, leaves every other file, accepts missing ones, and refuses a symbolic link
 * or a folder at one of the three names without touching what the link points to.
 * Files go to a folder in the current directory (CTest: the build's tests dir), named by
 * pid, removed at the end. */
#include "latflow/io.h"
#include "latflow/status.h"
#include "lftest.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64]; /* the scratch folder: test_paths_<pid> */

/* root/rel into out (a test-local join, independent of the code under test). */
static const char *at(char *out, size_t n, const char *rel) {
  snprintf(out, n, "%s/%s", root, rel);
  return out;
}

/* Creates root/rel as a small regular file; 1 on success. */
static int touch(const char *rel) {
  char p[256];
  return lf_test_spew(at(p, sizeof p, rel), "x", 1);
}

/* 1 if root/rel exists as a directory. */
static int is_dir(const char *rel) {
  char p[256];
  struct stat st;
  return stat(at(p, sizeof p, rel), &st) == 0 && S_ISDIR(st.st_mode);
}

/* 1 if root/rel exists (lstat: a link counts as itself, not as its target). */
static int present(const char *rel) {
  char p[256];
  struct stat st;
  return lstat(at(p, sizeof p, rel), &st) == 0;
}

/* The call returned `want` and its message contains `sub`. */
static void expect_fail(lf_status got, lf_status want, const char *sub, const char *what) {
  const char *msg = lf_last_error();
  CHECK(got == want && strstr(msg, sub) != NULL,
        "%s: status %d (want %d), message \"%s\" (want \"...%s...\")", what, (int)got, (int)want,
        msg, sub);
  lf_clear_error();
}

static void test_join(void) {
  char out[16];
  memset(out, '#', sizeof out);
  lf_status rc = lf_io_path_join(out, sizeof out, "dir", "name.h5");
  CHECK(rc == LF_OK && !strcmp(out, "dir/name.h5"), "join: \"%s\" (rc %d)", out, (int)rc);
  /* "abcdefg/1234567" is 15 characters: fits out[16] exactly with its terminator */
  rc = lf_io_path_join(out, sizeof out, "abcdefg", "1234567");
  CHECK(rc == LF_OK && !strcmp(out, "abcdefg/1234567"), "join fitting exactly: \"%s\" (rc %d)", out,
        (int)rc);
  /* one character more must not pass as a cut-off path */
  rc = lf_io_path_join(out, sizeof out, "abcdefg", "12345678");
  expect_fail(rc, LF_ERR_INVALID, "path too long: abcdefg/12345678", "join one byte too long");
  rc = lf_io_path_join(out, 4, "ab", "cd");
  expect_fail(rc, LF_ERR_INVALID, "path too long", "join into 4 bytes");
}

static void test_exists(void) {
  char p[256];
  CHECK(touch("file"), "scratch file created");
  CHECK(lf_io_exists(at(p, sizeof p, "file")) == 1, "exists: a regular file");
  CHECK(lf_io_exists(root) == 1, "exists: a folder");
  CHECK(lf_io_exists(at(p, sizeof p, "missing")) == 0, "exists: a missing name is 0");
  CHECK(lf_io_exists(at(p, sizeof p, "file/below")) == 0, "exists: below a file is 0");
}

static void test_mkdirs(void) {
  char p[256];
  lf_status rc = lf_io_mkdirs(at(p, sizeof p, "a/b/c"));
  CHECK(rc == LF_OK && is_dir("a") && is_dir("a/b") && is_dir("a/b/c"),
        "mkdirs a/b/c: rc %d, folders %d %d %d", (int)rc, is_dir("a"), is_dir("a/b"),
        is_dir("a/b/c"));
  rc = lf_io_mkdirs(at(p, sizeof p, "a/b/c"));
  CHECK(rc == LF_OK, "mkdirs again on existing folders: rc %d", (int)rc);
  rc = lf_io_mkdirs(at(p, sizeof p, "a/d/e/"));
  CHECK(rc == LF_OK && is_dir("a/d/e"), "mkdirs with a trailing '/': rc %d, folder %d", (int)rc,
        is_dir("a/d/e"));
  /* a regular file where a folder should be: the component below it cannot be made */
  CHECK(touch("a/f"), "scratch file a/f created");
  rc = lf_io_mkdirs(at(p, sizeof p, "a/f/g"));
  expect_fail(rc, LF_ERR_IO, "cannot create directory", "mkdirs through a regular file");
  CHECK(!is_dir("a/f/g"), "nothing was created below the file");
  char longp[LF_PATH_MAX + 8];
  memset(longp, 'x', sizeof longp - 1);
  longp[sizeof longp - 1] = '\0';
  rc = lf_io_mkdirs(longp);
  expect_fail(rc, LF_ERR_INVALID, "path too long", "mkdirs of a path longer than LF_PATH_MAX");
  CHECK(!lf_io_exists(longp), "nothing was created for the long path");
}

static void test_remove_checkpoints(void) {
  char p[256], q[256];
  CHECK(lf_io_mkdirs(at(p, sizeof p, "ck")) == LF_OK, "scratch folder ck created");
  const char *ours[3] = {"ck/run.ckpt.h5", "ck/run.ckpt.h5.prev", "ck/run.ckpt.h5.tmp"};
  const char *others[5] = {"ck/run.ckpt.h5.bak", "ck/run.ckpt.h", "ck/other.ckpt.h5",
                           "ck/run.ckpt.h5.prev.prev", "ck/run.h5"};
  for (int i = 0; i < 3; i++) touch(ours[i]);
  for (int i = 0; i < 5; i++) touch(others[i]);
  lf_status rc = lf_io_remove_checkpoints(at(p, sizeof p, "ck/run.ckpt.h5"));
  CHECK(rc == LF_OK, "remove_checkpoints: rc %d", (int)rc);
  for (int i = 0; i < 3; i++) CHECK(!present(ours[i]), "removed: %s", ours[i]);
  for (int i = 0; i < 5; i++) CHECK(present(others[i]), "left alone: %s", others[i]);
  /* nothing left to remove, and only some of the three present: both fine */
  rc = lf_io_remove_checkpoints(at(p, sizeof p, "ck/run.ckpt.h5"));
  CHECK(rc == LF_OK, "remove_checkpoints with none present: rc %d", (int)rc);
  touch("ck/run.ckpt.h5.tmp");
  rc = lf_io_remove_checkpoints(at(p, sizeof p, "ck/run.ckpt.h5"));
  CHECK(rc == LF_OK && !present("ck/run.ckpt.h5.tmp"), "only the .tmp present: rc %d, left %d",
        (int)rc, present("ck/run.ckpt.h5.tmp"));
  /* a link at the .prev name: refused, neither removed nor followed */
  touch("ck/target");
  CHECK(symlink("target", at(p, sizeof p, "ck/run.ckpt.h5.prev")) == 0, "link planted at .prev");
  rc = lf_io_remove_checkpoints(at(p, sizeof p, "ck/run.ckpt.h5"));
  expect_fail(rc, LF_ERR_IO, "symbolic link", "remove_checkpoints with a link at .prev");
  CHECK(present("ck/run.ckpt.h5.prev") && present("ck/target"), "the link and its target stay");
  unlink(at(p, sizeof p, "ck/run.ckpt.h5.prev"));
  /* a folder at the checkpoint's name: refused, kept */
  CHECK(lf_io_mkdirs(at(p, sizeof p, "ck/run.ckpt.h5")) == LF_OK, "folder at the checkpoint name");
  rc = lf_io_remove_checkpoints(at(q, sizeof q, "ck/run.ckpt.h5"));
  expect_fail(rc, LF_ERR_IO, "not a regular file", "remove_checkpoints with a folder there");
  CHECK(is_dir("ck/run.ckpt.h5"), "the folder stays");
}

/* Removes everything the tests made below root, deepest first. */
static void cleanup(void) {
  static const char *files[] = {"file",
                                "a/f",
                                "ck/run.ckpt.h5.bak",
                                "ck/run.ckpt.h",
                                "ck/other.ckpt.h5",
                                "ck/run.ckpt.h5.prev.prev",
                                "ck/run.h5",
                                "ck/target",
                                "ck/run.ckpt.h5.prev",
                                "ck/run.ckpt.h5.tmp"};
  static const char *dirs[] = {"a/b/c", "a/b", "a/d/e", "a/d", "a", "ck/run.ckpt.h5", "ck"};
  char p[256];
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) unlink(at(p, sizeof p, files[i]));
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) rmdir(at(p, sizeof p, dirs[i]));
  rmdir(root);
}

int main(void) {
  snprintf(root, sizeof root, "test_paths_%ld", (long)getpid());
  if (mkdir(root, 0777) != 0) {
    perror(root);
    return 1;
  }
  test_join();
  test_exists();
  test_mkdirs();
  test_remove_checkpoints();
  cleanup();
  CHECK(!lf_io_exists(root), "scratch folder %s removed", root);
  return lf_test_result();
}
