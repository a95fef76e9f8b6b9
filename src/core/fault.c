/* The test-only fault hook (contract: latflow/fault.h). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "latflow/fault.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* LATFLOW_FAULT, parsed once: the point's name and the count at which it fires */
static struct {
  int parsed;
  long count, seen;
  char name[48];
} fault;

static void parse(void) {
  fault.parsed = 1;
  fault.name[0] = '\0';
  const char *s = getenv("LATFLOW_FAULT");
  if (!s || !*s) return;
  long count = 1;
  char nm[48];
  const int n = sscanf(s, "%47[^:]:%ld", nm, &count);
  if (n < 1 || count < 1) {
    fprintf(stderr, "latflow: ignoring malformed LATFLOW_FAULT='%s'\n", s);
    return;
  }
  snprintf(fault.name, sizeof fault.name, "%s", nm);
  fault.count = count;
  fault.seen = 0;
}

void lf_fault_point(const char *name) {
  if (!fault.parsed) parse();
  if (!fault.name[0] || strcmp(name, fault.name) != 0) return;
  if (++fault.seen == fault.count) raise(SIGKILL);
}
