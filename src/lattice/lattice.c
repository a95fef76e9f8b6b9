/* Periodic 2D lattice geometry (contract: latflow/lattice.h; conventions: docs/PHYSICS.md).
 *
 * Site v = x0*L1 + x1. The tables are built once here so that hot loops elsewhere can
 * either read them or use direct row arithmetic; both give the same neighbours. */
#include "latflow/lattice.h"

#include "latflow/timer.h"

#include <limits.h>
#include <string.h>

/* Periodic wrap of any integer into [0, L). */
static int wrap(int x, int L) {
  int r = x % L;
  return r < 0 ? r + L : r;
}

lf_status lf_lattice_init(lf_lattice *lat, int L0, int L1, int allow_odd) {
  memset(lat, 0, sizeof *lat);
  if (L0 < 1 || L1 < 1)
    return LF_FAIL(LF_ERR_INVALID, "lattice shape must be >= 1 in each direction, got %d x %d", L0,
                   L1);
  if (!allow_odd && (L0 % 2 != 0 || L1 % 2 != 0))
    return LF_FAIL(LF_ERR_INVALID,
                   "lattice shape %d x %d has an odd extent: a checkerboard needs even L0 and L1",
                   L0, L1);
  if (L0 > INT_MAX / 2 / L1)
    return LF_FAIL(LF_ERR_INVALID, "lattice shape %d x %d is too large (2V must fit an int)", L0,
                   L1);
  const int V = L0 * L1;
  lat->L[0] = L0;
  lat->L[1] = L1;
  lat->V = V;
  lat->up = lf_alloc((size_t)V * 2 * sizeof *lat->up);
  lat->dn = lf_alloc((size_t)V * 2 * sizeof *lat->dn);
  lat->parity = lf_alloc((size_t)V * sizeof *lat->parity);
  if (!lat->up || !lat->dn || !lat->parity) {
    lf_lattice_free(lat);
    return LF_FAIL(LF_ERR_NOMEM, "lattice tables for %d x %d sites", L0, L1);
  }
  for (int x0 = 0; x0 < L0; x0++) {
    for (int x1 = 0; x1 < L1; x1++) {
      const int v = x0 * L1 + x1;
      lat->up[2 * v + 0] = wrap(x0 + 1, L0) * L1 + x1;
      lat->up[2 * v + 1] = x0 * L1 + wrap(x1 + 1, L1);
      lat->dn[2 * v + 0] = wrap(x0 - 1, L0) * L1 + x1;
      lat->dn[2 * v + 1] = x0 * L1 + wrap(x1 - 1, L1);
      lat->parity[v] = (unsigned char)((x0 + x1) % 2);
    }
  }
  return LF_OK;
}

void lf_lattice_free(lf_lattice *lat) {
  if (!lat) return;
  lf_free(lat->up);
  lf_free(lat->dn);
  lf_free(lat->parity);
  memset(lat, 0, sizeof *lat);
}

int lf_lattice_site(const lf_lattice *lat, int x0, int x1) {
  return wrap(x0, lat->L[0]) * lat->L[1] + wrap(x1, lat->L[1]);
}
