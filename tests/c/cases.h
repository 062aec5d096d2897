/* cases.h: the table the generated symnum_models_table.c fills in (one entry per
 * exported function) and test_models.c walks. */
#ifndef SYMNUM_CASES_H_
#define SYMNUM_CASES_H_

struct symnum_case {
    const char *name;
    int nparams;
    const long *psizes; /* doubles per parameter, one point */
    int nouts;
    const long *osizes; /* doubles per output, one point */
    void (*point)(const double *const *in, double *const *out);
    void (*batch)(long long n, const double *const *in, double *const *out);
};

extern const struct symnum_case symnum_cases[];
extern const int symnum_ncases;

#endif /* SYMNUM_CASES_H_ */
