/* test_models.c: checks the C that symnum exported for the example models against
 * values the Python side computed (NumPy backend), point by point and in batches.
 *
 * usage: test_models EXPECTED_FILE
 * The file holds blocks "<case name> <number of points>", each followed by one line
 * per point: all inputs (parameters concatenated, flat C order), then all outputs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"

static int close_enough(double got, double want)
{
    if (isnan(want)) {
        return isnan(got);
    }
    if (isinf(want)) {
        return got == want;
    }
    return fabs(got - want) <= 1e-10 * fabs(want) + 1e-12;
}

static const struct symnum_case *find_case(const char *name)
{
    int i;
    for (i = 0; i < symnum_ncases; i++) {
        if (strcmp(symnum_cases[i].name, name) == 0) {
            return &symnum_cases[i];
        }
    }
    return NULL;
}

static long total(const long *sizes, int n)
{
    long sum = 0;
    int i;
    for (i = 0; i < n; i++) {
        sum += sizes[i];
    }
    return sum;
}

/* Runs one case on npoints points; returns the number of mismatches. */
static int run_case(const struct symnum_case *cs, long npoints, const double *in,
                    const double *want)
{
    const long nin = total(cs->psizes, cs->nparams), nout = total(cs->osizes, cs->nouts);
    double *got = calloc((size_t)(npoints * nout + 1), sizeof(double));
    double *batch_in = calloc((size_t)(npoints * nin + 1), sizeof(double));
    double *batch_out = calloc((size_t)(npoints * nout + 1), sizeof(double));
    const double *inp[64];
    double *outp[64];
    long p, k, offset;
    int j, failures = 0;
    if (got == NULL || batch_in == NULL || batch_out == NULL || cs->nparams > 64 ||
        cs->nouts > 64) {
        fprintf(stderr, "%s: cannot allocate\n", cs->name);
        return 1;
    }
    /* one point at a time */
    for (p = 0; p < npoints; p++) {
        for (j = 0, offset = 0; j < cs->nparams; offset += cs->psizes[j], j++) {
            inp[j] = in + p * nin + offset;
        }
        for (j = 0, offset = 0; j < cs->nouts; offset += cs->osizes[j], j++) {
            outp[j] = got + p * nout + offset;
        }
        cs->point(inp, outp);
    }
    /* all points at once: each argument is npoints blocks of its size */
    for (j = 0, offset = 0; j < cs->nparams; offset += cs->psizes[j], j++) {
        double *block = batch_in + npoints * offset;
        for (p = 0; p < npoints; p++) {
            memcpy(block + p * cs->psizes[j], in + p * nin + offset,
                   (size_t)cs->psizes[j] * sizeof(double));
        }
        inp[j] = block;
    }
    for (j = 0, offset = 0; j < cs->nouts; offset += cs->osizes[j], j++) {
        outp[j] = batch_out + npoints * offset;
    }
    cs->batch(npoints, inp, outp);
    for (p = 0; p < npoints; p++) {
        for (j = 0, offset = 0; j < cs->nouts; offset += cs->osizes[j], j++) {
            for (k = 0; k < cs->osizes[j]; k++) {
                const double w = want[p * nout + offset + k];
                const double g = got[p * nout + offset + k];
                const double b = outp[j][p * cs->osizes[j] + k];
                if (!close_enough(g, w) || !close_enough(b, w)) {
                    if (failures < 10) {
                        fprintf(stderr, "%s point %ld output %d[%ld]: got %.17g (batch %.17g), "
                                "expected %.17g\n", cs->name, p, j, k, g, b, w);
                    }
                    failures++;
                }
            }
        }
    }
    free(got);
    free(batch_in);
    free(batch_out);
    return failures;
}

int main(int argc, char **argv)
{
    FILE *file;
    char name[256];
    long npoints;
    int failures = 0, cases = 0;
    if (argc != 2) {
        fprintf(stderr, "usage: %s EXPECTED_FILE\n", argv[0]);
        return 2;
    }
    file = fopen(argv[1], "r");
    if (file == NULL) {
        perror(argv[1]);
        return 2;
    }
    while (fscanf(file, "%255s %ld", name, &npoints) == 2) {
        const struct symnum_case *cs = find_case(name);
        long nin, nout, i;
        double *in, *want;
        int bad;
        if (cs == NULL || npoints < 1) {
            fprintf(stderr, "unknown case %s\n", name);
            return 2;
        }
        nin = total(cs->psizes, cs->nparams);
        nout = total(cs->osizes, cs->nouts);
        in = malloc((size_t)(npoints * nin + 1) * sizeof(double));
        want = malloc((size_t)(npoints * nout + 1) * sizeof(double));
        if (in == NULL || want == NULL) {
            return 2;
        }
        for (i = 0; i < npoints; i++) {
            long k;
            for (k = 0; k < nin; k++) {
                if (fscanf(file, "%lf", &in[i * nin + k]) != 1) {
                    fprintf(stderr, "%s: bad input data\n", name);
                    return 2;
                }
            }
            for (k = 0; k < nout; k++) {
                if (fscanf(file, "%lf", &want[i * nout + k]) != 1) {
                    fprintf(stderr, "%s: bad expected data\n", name);
                    return 2;
                }
            }
        }
        bad = run_case(cs, npoints, in, want);
        printf("%-28s %ld points: %s\n", name, npoints, bad ? "FAILED" : "ok");
        failures += bad;
        cases++;
        free(in);
        free(want);
    }
    fclose(file);
    if (cases != symnum_ncases) {
        fprintf(stderr, "expected values for %d of %d cases\n", cases, symnum_ncases);
        return 1;
    }
    return failures ? 1 : 0;
}
