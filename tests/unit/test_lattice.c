/* Lattice geometry against brute force: neighbour tables, parity and site wrapping on
 * 4x6 (and an odd 3x5 with allow_odd), plus the refusals of lf_lattice_init. */
#include "latflow/lattice.h"
#include "lftest.h"

#include <string.h>

static int mod(int a, int n) {
  return ((a % n) + n) % n;
}

/* Counts table entries that differ from the coordinates computed by hand. */
static int brute_force_errors(const lf_lattice *lat) {
  const int L0 = lat->L[0], L1 = lat->L[1];
  int bad = 0;
  for (int x0 = 0; x0 < L0; x0++)
    for (int x1 = 0; x1 < L1; x1++) {
      const int v = x0 * L1 + x1;
      const int up0 = mod(x0 + 1, L0) * L1 + x1, up1 = x0 * L1 + mod(x1 + 1, L1);
      const int dn0 = mod(x0 - 1, L0) * L1 + x1, dn1 = x0 * L1 + mod(x1 - 1, L1);
      bad += lat->up[2 * v] != up0;
      bad += lat->up[2 * v + 1] != up1;
      bad += lat->dn[2 * v] != dn0;
      bad += lat->dn[2 * v + 1] != dn1;
      bad += lat->parity[v] != (x0 + x1) % 2;
      bad += lf_lattice_site(lat, x0, x1) != v;
      /* wrapping of arbitrary integers, including large negative offsets */
      bad += lf_lattice_site(lat, x0 + 3 * L0, x1 - 7 * L1) != v;
      bad += lf_lattice_site(lat, x0 - L0, x1 + L1) != v;
    }
  /* up and dn are inverse maps */
  for (int v = 0; v < lat->V; v++)
    for (int mu = 0; mu < 2; mu++) bad += lat->dn[2 * lat->up[2 * v + mu] + mu] != v;
  return bad;
}

int main(void) {
  lf_lattice lat;
  lf_status rc = lf_lattice_init(&lat, 4, 6, 0);
  CHECK(rc == LF_OK && lat.V == 24 && lat.L[0] == 4 && lat.L[1] == 6, "init 4x6: rc=%d V=%d", rc,
        lat.V);
  int bad = brute_force_errors(&lat);
  CHECK(bad == 0, "4x6 tables, parity, wrap vs brute force: %d mismatches", bad);
  int even = 0;
  for (int v = 0; v < lat.V; v++) even += lat.parity[v] == 0;
  CHECK(even == 12, "4x6 checkerboard has 12 even sites: %d", even);
  CHECK(lf_lattice_site(&lat, 1, 2) == 8 && lf_lattice_site(&lat, -1, -1) == 23,
        "site(1,2)=%d (8), site(-1,-1)=%d (23)", lf_lattice_site(&lat, 1, 2),
        lf_lattice_site(&lat, -1, -1));
  lf_lattice_free(&lat);
  CHECK(lat.up == NULL && lat.V == 0, "free leaves the struct zeroed");
  lf_lattice_free(&lat); /* idempotent */

  rc = lf_lattice_init(&lat, 3, 5, 1);
  bad = brute_force_errors(&lat);
  CHECK(rc == LF_OK && bad == 0, "odd 3x5 with allow_odd: rc=%d, %d mismatches", rc, bad);
  lf_lattice_free(&lat);

  rc = lf_lattice_init(&lat, 1, 2, 1);
  bad = brute_force_errors(&lat);
  CHECK(rc == LF_OK && bad == 0, "degenerate 1x2: rc=%d, %d mismatches", rc, bad);
  lf_lattice_free(&lat);

  rc = lf_lattice_init(&lat, 3, 4, 0);
  CHECK(rc == LF_ERR_INVALID && strstr(lf_last_error(), "3 x 4") && lat.up == NULL,
        "odd 3x4 refused without allow_odd: rc=%d '%s'", rc, lf_last_error());
  rc = lf_lattice_init(&lat, 0, 4, 1);
  CHECK(rc == LF_ERR_INVALID, "0x4 refused: rc=%d '%s'", rc, lf_last_error());
  rc = lf_lattice_init(&lat, 4, -2, 1);
  CHECK(rc == LF_ERR_INVALID, "4x-2 refused: rc=%d '%s'", rc, lf_last_error());
  lf_lattice_free(&lat);
  return lf_test_result();
}
