/* Calls the Jacobian kernel written by emit_robertson.py (see there to build).
 *
 * robertson_values has the batched ABI of every emitted kernel: n points of
 * ROBERTSON_N_VARS doubles in x, parameters p (p_stride 0: shared by all points),
 * ROBERTSON_NNZ doubles per point in out, in the order of robertson_rows/_cols.
 */
#include <stdio.h>
#include <stdlib.h>

#include "robertson.h"

int main(int argc, char **argv)
{
    double x[ROBERTSON_N_VARS] = {1.0, 2e-5, 0.3};
    const double rates[ROBERTSON_N_PARAMS] = {0.04, 3e7, 1e4};
    double values[ROBERTSON_NNZ];
    int k;

    for (k = 1; k < argc && k <= ROBERTSON_N_VARS; ++k) x[k - 1] = strtod(argv[k], NULL);
    /* one point; ROBERTSON_VALUES_WORK is 0, so no work buffer */
    robertson_values(x, rates, values, 1, 0, NULL);
    for (k = 0; k < ROBERTSON_NNZ; ++k) {
        printf("J[%d][%d] = %.17g\n", (int)robertson_rows[k], (int)robertson_cols[k], values[k]);
    }
    return 0;
}
