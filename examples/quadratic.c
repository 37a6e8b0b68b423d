/* quadratic.c - zoq's smallest complete program: minimize an ill-conditioned
 * quadratic L(θ) = ½ Σ λ_i (θ_i − t_i)², λ from 1 to 100, from loss values
 * alone. Build: make examples; run: build/examples/quadratic */
#include <stdio.h>
#include <stdlib.h>
#include <zoq.h>

#define DIM 100
#define STEPS 60000

typedef struct problem {
    const float *theta;
    double lambda[DIM], target[DIM];
    long evals;
} problem;

static double loss_at(const problem *p)
{
    double s = 0.0;
    for (int i = 0; i < DIM; i++) {
        double d = p->theta[i] - p->target[i];
        s += 0.5 * p->lambda[i] * d * d;
    }
    return s;
}

/* zoq calls this with the parameters already perturbed in place. */
static int objective(void *user, const zoq_eval_t *ev, double *loss)
{
    (void)ev;
    problem *p = user;
    p->evals++;
    *loss = loss_at(p);
    return 0;
}

static int check(zoq_ctx *ctx, int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "%s: %s (%s)\n", what, zoq_strerror(rc), zoq_last_error(ctx));
        exit(1);
    }
    return rc;
}

int main(void)
{
    static float theta[DIM]; /* starts at 0 */
    problem p = {.theta = theta};
    for (int i = 0; i < DIM; i++) {
        p.lambda[i] = 1.0 + 99.0 * i / (DIM - 1); /* condition number 100 */
        p.target[i] = (i % 7) - 3.0;
    }
    zoq_ctx *ctx;
    check(NULL, zoq_create(&ctx), "create");
    check(ctx, zoq_param_add(ctx, "theta", theta, ZOQ_F32, DIM, NULL), "register");
    check(ctx, zoq_set_int(ctx, ZOQ_OPT_SEED, 7), "seed");
    check(ctx, zoq_set_double(ctx, ZOQ_OPT_LR, 1.0 / (100.0 * (DIM + 2))), "lr");
    check(ctx, zoq_set_double(ctx, ZOQ_OPT_EPS, 1e-3), "eps");
    check(ctx, zoq_set_objective(ctx, objective, &p), "objective");
    double start = loss_at(&p);
    zoq_report_t rep = {.size = sizeof rep};
    for (int t = 0; t < STEPS; t++) {
        check(ctx, zoq_step(ctx, &rep), "step");
        if (t % 10000 == 0)
            printf("step %6d  loss %.6g  |g| %.3g\n", t, rep.loss, rep.grad_norm);
    }
    double end = loss_at(&p);
    printf("loss %.6g -> %.6g (ratio %.2e) in %d steps, %ld evaluations\n", start, end,
           end / start, STEPS, p.evals);
    zoq_destroy(ctx);
    return end / start < 1e-3 ? 0 : 1;
}
