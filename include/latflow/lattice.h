/* latflow/lattice.h: geometry of a periodic 2D lattice L0 x L1.
 *
 * Site index v = x0*L1 + x1 (x0 in [0,L0), x1 in [0,L1)), the row-major layout of a
 * (L0, L1) array. Neighbour tables up[v*2+mu] = index of x + mu-hat and
 * dn[v*2+mu] = x - mu-hat, periodic. parity[v] = (x0 + x1) % 2; a checkerboard needs
 * even L0 and L1 (lf_lattice_init refuses odd sizes unless allow_odd). Owns its tables. */
#ifndef LATFLOW_LATTICE_H
#define LATFLOW_LATTICE_H

#include "latflow/status.h"

typedef struct lf_lattice {
  int L[2];              /* L0, L1 */
  int V;                 /* L0*L1 */
  int *up;               /* (V,2) owned */
  int *dn;               /* (V,2) owned */
  unsigned char *parity; /* (V) owned: (x0+x1) % 2 */
} lf_lattice;

/* LF_ERR_INVALID for L < 1, or odd L unless allow_odd; LF_ERR_NOMEM. */
lf_status lf_lattice_init(lf_lattice *lat, int L0, int L1, int allow_odd);
void lf_lattice_free(lf_lattice *lat);
/* Index of (x0, x1), wrapped periodically (any integers). */
int lf_lattice_site(const lf_lattice *lat, int x0, int x1);

#endif
