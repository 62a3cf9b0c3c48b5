/* collide-ortho -- orthogonality between task updates. */
#include "families.h"

int main(int argc, char **argv)
{
    static const cli_tool tool = {
        "collide-ortho",
        "Orthogonality between the tasks' updates: O-LoRA's overlap OO = ||A_i A_j^T||_F^2,\n"
        "principal-angle similarity of the A row spaces and B column spaces, AWOM and the\n"
        "Frobenius cosine of dW_i and dW_j.",
        "All from r x r products of the factors; no d_out x d_in matrix is formed.\n"
        "OO and AWOM are summed over modules (as the paper reports OO); similarities are\n"
        "averaged over modules. Tables: pairs, summary; with --per-module also module_pairs.\n"
        "See docs/METRICS.md, section 3.",
        CLI_OPT_SNAPSHOT | CLI_OPT_MODULE | CLI_OPT_PER_MODULE, "pairs"};
    cli c;
    cli_init(&c, &tool, argc, argv);
    return cli_run(&c, fam_ortho);
}
