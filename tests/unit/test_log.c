/* core/log: the pure parts of the terminal progress line (latflow/log.h). lf_log_fit cuts a
 * line to width - 1 columns at a field boundary (whole "key=value" fields dropped from the
 * end, no trailing space or comma) and cuts a single field wider than the terminal;
 * lf_log_width_from prefers the ioctl's width, then $COLUMNS (ignored unless a positive
 * integer), then 80; lf_log_eta formats seconds, minutes and hours. */
#include "latflow/log.h"
#include "lftest.h"

#include <math.h>
#include <string.h>

/* fit(line, width) into a copy; checks the result against want. */
static void fit(const char *line, int width, const char *want) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", line);
  const size_t n = lf_log_fit(buf, width);
  CHECK(!strcmp(buf, want) && n == strlen(want) && (width < 2 || n <= (size_t)width - 1),
        "fit('%s', %d) = '%s' (%zu), want '%s'", line, width, buf, n, want);
}

int main(void) {
  const char *p = "[+1.2s] train: step=120/3000 loss=-3.1234 ess_batch_s=0.412 rate=312.5/s "
                  "eta=9s ess_fresh=- lr=1.00e-03 batch=64";
  fit(p, 200, p);                /* fits: unchanged */
  fit(p, (int)strlen(p) + 1, p); /* exactly width - 1 */
  fit(p, (int)strlen(p),
      "[+1.2s] train: step=120/3000 loss=-3.1234 ess_batch_s=0.412 "
      "rate=312.5/s eta=9s ess_fresh=- lr=1.00e-03");
  fit(p, 80, "[+1.2s] train: step=120/3000 loss=-3.1234 ess_batch_s=0.412 rate=312.5/s eta=9s");
  fit(p, 40, "[+1.2s] train: step=120/3000");
  fit("a, b, c", 6, "a, b");       /* a cut after a comma drops the comma */
  fit("abcdefghijkl", 6, "abcde"); /* one field wider than the terminal */
  fit("abc defghijkl", 6, "abc");
  fit("abc", 1, "a"); /* width < 2 counts as 2 */

  CHECK(lf_log_width_from(132, "40") == 132, "ioctl width first");
  CHECK(lf_log_width_from(0, "40") == 40, "$COLUMNS without the ioctl");
  CHECK(lf_log_width_from(0, NULL) == 80, "default 80");
  CHECK(lf_log_width_from(-1, "abc") == 80 && lf_log_width_from(0, "0") == 80 &&
            lf_log_width_from(0, "50x") == 80 && lf_log_width_from(0, "") == 80,
        "a $COLUMNS that is not a positive integer is ignored");

  char e[32];
  lf_log_eta(42.4, e, sizeof e);
  CHECK(!strcmp(e, "42s"), "eta 42.4 s = %s", e);
  lf_log_eta(185, e, sizeof e);
  CHECK(!strcmp(e, "3m05s"), "eta 185 s = %s", e);
  lf_log_eta(7620, e, sizeof e);
  CHECK(!strcmp(e, "2h07m"), "eta 7620 s = %s", e);
  lf_log_eta(NAN, e, sizeof e);
  CHECK(!strcmp(e, "?"), "eta NaN = %s", e);
  lf_log_eta(-1, e, sizeof e);
  CHECK(!strcmp(e, "?"), "eta -1 = %s", e);
  return lf_test_result();
}
